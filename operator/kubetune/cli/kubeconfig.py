"""Which cluster and namespace a command talks to, resolved the way kubectl does it.

The kubeconfig is --kubeconfig, else the first existing file in $KUBECONFIG, else ~/.kube/config, else the pod's
service account (in-cluster). The namespace is -n, else the context's namespace, else ``default``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class ClusterTarget:
    """Where to connect: a kubeconfig file and context (``kubeconfig`` None means in-cluster) and the namespace."""

    kubeconfig: str | None
    context: str | None
    namespace: str
    server: str
    namespace_from_flag: bool = False


def kubeconfig_path(flag: str | None, environ: dict[str, str] | None = None) -> str | None:
    """The kubeconfig file to read, or None for in-cluster. A missing file named by the user is an error."""
    env = os.environ if environ is None else environ
    if flag:
        if not Path(flag).is_file():
            raise UsageError(f"--kubeconfig {flag}: no such file")
        return flag
    listed = [p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        found = next((p for p in listed if Path(p).is_file()), None)
        if found is None:
            raise UsageError(f"KUBECONFIG={env['KUBECONFIG']}: no such file")
        return found
    home = Path(env.get("HOME", str(Path.home()))) / ".kube" / "config"
    if home.is_file():
        return str(home)
    if env.get("KUBERNETES_SERVICE_HOST") and SERVICE_ACCOUNT_NAMESPACE.exists():
        return None
    raise UsageError(f"no kubeconfig: {home} does not exist; pass --kubeconfig FILE or set KUBECONFIG")


def _load(path: str) -> dict[str, Any]:
    import yaml

    try:
        config = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise UsageError(f"cannot read kubeconfig {path}: {str(e).splitlines()[0]}") from e
    if not isinstance(config, dict):
        raise UsageError(f"kubeconfig {path} is not a kubeconfig (expected a mapping)")
    return config


def resolve_target(kubeconfig: str | None, context: str | None, namespace: str | None,
                   environ: dict[str, str] | None = None) -> ClusterTarget:
    path = kubeconfig_path(kubeconfig, environ)
    if path is None:
        if context:
            raise UsageError("--context needs a kubeconfig; none was found (running in-cluster)")
        host = (environ or os.environ).get("KUBERNETES_SERVICE_HOST", "")
        ns = namespace or SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or DEFAULT_NAMESPACE
        return ClusterTarget(None, None, ns, f"https://{host}", bool(namespace))
    config = _load(path)
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or [] if isinstance(c, dict)}
    name = context or config.get("current-context")
    if not name:
        raise UsageError(f"kubeconfig {path} has no current-context; pass --context (one of: "
                         f"{', '.join(map(str, contexts)) or 'none'})")
    if name not in contexts:
        known = ", ".join(map(str, contexts)) or "none"
        raise UsageError(f"context {name!r} is not in kubeconfig {path} (it has: {known})")
    ctx = contexts[name]
    clusters = {c.get("name"): c.get("cluster") or {} for c in config.get("clusters") or [] if isinstance(c, dict)}
    cluster = clusters.get(ctx.get("cluster"))
    if not cluster or not cluster.get("server"):
        raise UsageError(f"context {name!r} in {path} names cluster {ctx.get('cluster')!r}, which has no server")
    return ClusterTarget(path, name, namespace or ctx.get("namespace") or DEFAULT_NAMESPACE, str(cluster["server"]),
                         bool(namespace))
