"""One container as one local process: its environment, its command line, its probes and its memory."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..kubeapi import Json, KubeREST
from .volumes import VolumeNotReady, field_ref

_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")

_QUANTITY_SUFFIX = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "m": 0.001,
}


def parse_quantity(value: str | int | float) -> float:
    """Parse a Kubernetes quantity (``512Mi``, ``2``, ``500m``) into a number."""
    text = str(value).strip()
    for suffix in sorted(_QUANTITY_SUFFIX, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * _QUANTITY_SUFFIX[suffix]
    return float(text)


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: unknown references stay as they are, ``$$`` escapes a dollar."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_REF.sub(sub, text)


def container_env(api: KubeREST, pod: Json, container: Json, pod_ip: str, base_env: dict[str, str],
                  api_host: str, api_port: str) -> dict[str, str]:
    """The process environment of a container: the node's own environment stands in for the image's."""
    ns = pod["metadata"]["namespace"]
    env = dict(base_env)
    env.update({
        "HOSTNAME": pod["metadata"]["name"],
        "KUBERNETES_SERVICE_HOST": api_host,
        "KUBERNETES_SERVICE_PORT": api_port,
        "KUBERNETES_SERVICE_PORT_HTTPS": api_port,
        "KUBERNETES_PORT": f"tcp://{api_host}:{api_port}",
    })
    cache: dict[tuple[str, str], Json | None] = {}

    def lookup(kind: str, name: str) -> Json | None:
        if (kind, name) not in cache:
            cache[(kind, name)] = api.get_or_none(KubeREST.path_for(kind, ns, name))
        return cache[(kind, name)]

    def data_of(kind: str, name: str, optional: bool) -> dict[str, str]:
        obj = lookup(kind, name)
        if obj is None:
            if optional:
                return {}
            raise VolumeNotReady("CreateContainerConfigError", f'{kind.lower()} "{name}" not found')
        if kind == "Secret":
            return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
        return dict(obj.get("data") or {})

    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            ref = source["configMapRef"]
            values = data_of("ConfigMap", ref["name"], ref.get("optional", False))
        else:
            ref = source["secretRef"]
            values = data_of("Secret", ref["name"], ref.get("optional", False))
        env.update({prefix + k: v for k, v in values.items()})

    for var in container.get("env") or []:
        name = var["name"]
        if "valueFrom" not in var:
            env[name] = expand(var.get("value", ""), env)
            continue
        source = var["valueFrom"]
        if "fieldRef" in source:
            env[name] = field_ref(pod, source["fieldRef"]["fieldPath"], pod_ip)
        elif "secretKeyRef" in source or "configMapKeyRef" in source:
            kind = "Secret" if "secretKeyRef" in source else "ConfigMap"
            ref = source["secretKeyRef"] if kind == "Secret" else source["configMapKeyRef"]
            values = data_of(kind, ref["name"], ref.get("optional", False))
            if ref["key"] in values:
                env[name] = values[ref["key"]]
            elif not ref.get("optional"):
                raise VolumeNotReady("CreateContainerConfigError",
                                     f'couldn\'t find key {ref["key"]} in {kind} {ns}/{ref["name"]}')
        elif "resourceFieldRef" in source:
            resource = source["resourceFieldRef"]["resource"]
            section, _, key = resource.partition(".")
            value = (container.get("resources") or {}).get(section, {}).get(key)
            divisor = parse_quantity(source["resourceFieldRef"].get("divisor", "1"))
            env[name] = str(int(parse_quantity(value) / divisor)) if value is not None else "0"
    return env


def container_argv(container: Json, env: dict[str, str]) -> list[str]:
    command = container.get("command") or []
    args = container.get("args") or []
    if not command:
        # Images are ignored here, so there is no entrypoint to fall back on.
        raise VolumeNotReady("CreateContainerError",
                             f"container {container['name']!r} has no command; the process node cannot run image "
                             "entrypoints")
    return [expand(part, env) for part in [*command, *args]]


LAUNCHER = Path(__file__).with_name("launch.py")


def runtime_argv(launch_spec: Path) -> list[str]:
    """How a container starts: the launcher as PID 1 of new PID, mount and UTS namespaces (the pod's hostname is its
    own), as a container runtime would.

    Ending that init ends every process in the namespace. ``--kill-child``: when unshare dies (SIGKILL, or its own
    parent-death signal when the node dies), so does the init, and with it the namespace. unshare blocks SIGTERM and
    SIGINT itself; they reach the init, which shares its process group, and the init forwards them to the command.
    """
    return ["unshare", "--mount", "--propagation", "private", "--pid", "--uts", "--fork", "--mount-proc",
            "--kill-child", sys.executable, "-I", str(LAUNCHER), str(launch_spec)]


def container_init(runtime_pid: int) -> int | None:
    """The host PID of a container's init (the launcher, PID 1 of its namespace): the child ``unshare`` forked."""
    try:
        with open(f"/proc/{runtime_pid}/task/{runtime_pid}/children") as f:
            children = f.read().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def _pid_namespace(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def container_pids(runtime_pid: int) -> list[int]:
    """Host PIDs of the container's processes: everything in its PID namespace but the init, whatever process group
    or session they moved to."""
    init = container_init(runtime_pid)
    namespace = _pid_namespace(init) if init else None
    if namespace is None or namespace == _pid_namespace("self"):  # not started yet, or not in a namespace of its own
        return []
    return [int(entry) for entry in os.listdir("/proc")
            if entry.isdigit() and int(entry) != init and _pid_namespace(entry) == namespace]


def process_tree_rss(runtime_pid: int) -> int:
    """Resident memory, in bytes, of the container's processes (the init, which the runtime adds, not counted)."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in container_pids(runtime_pid):
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total


def signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class Probe:
    """A readiness, liveness or startup probe, run on the kubelet's schedule."""

    def __init__(self, spec: Json, pod_ip: str, env: dict[str, str], workdir: str | None) -> None:
        self.spec = spec
        self.pod_ip = pod_ip
        self.env = env
        self.workdir = workdir
        self.initial_delay = float(spec.get("initialDelaySeconds", 0))
        self.period = float(spec.get("periodSeconds", 10))
        self.timeout = float(spec.get("timeoutSeconds", 1))
        self.success_threshold = int(spec.get("successThreshold", 1))
        self.failure_threshold = int(spec.get("failureThreshold", 3))
        self.next_at = 0.0
        self.successes = 0
        self.failures = 0

    def arm(self, started_at: float) -> None:
        self.next_at = started_at + self.initial_delay
        self.successes = self.failures = 0

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def run(self, now: float, port_of: Callable[[str | int], int]) -> bool | None:
        """Run once. Returns True/False when the threshold flips the result, None when it stays undecided."""
        self.next_at = now + self.period
        ok = self._attempt(port_of)
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            return True if self.successes >= self.success_threshold else None
        self.failures, self.successes = self.failures + 1, 0
        return False if self.failures >= self.failure_threshold else None

    def _attempt(self, port_of: Callable[[str | int], int]) -> bool:
        if "httpGet" in self.spec:
            http = self.spec["httpGet"]
            host = http.get("host") or self.pod_ip
            url = f"{http.get('scheme', 'HTTP').lower()}://{host}:{port_of(http['port'])}{http.get('path', '/')}"
            request = urllib.request.Request(url, headers={h["name"]: h["value"] for h in http.get("httpHeaders", [])})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    return 200 <= resp.status < 400
            except (urllib.error.URLError, OSError, ValueError):
                return False
        if "tcpSocket" in self.spec:
            import socket

            try:
                with socket.create_connection((self.pod_ip, port_of(self.spec["tcpSocket"]["port"])), self.timeout):
                    return True
            except OSError:
                return False
        if "exec" in self.spec:
            try:
                done = subprocess.run(self.spec["exec"]["command"], env=self.env, cwd=self.workdir or None,
                                      timeout=self.timeout, capture_output=True)
                return done.returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                return False
        return True


def now_rfc3339(at: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at if at is not None else time.time()))


def image_paths() -> list[str]:
    """What stands in for every container image: the interpreter, the virtualenv, and the sources of kubetune and of
    this test ground (editable installs point into the repository)."""
    import kubetune
    import kubetune_devcluster

    sources = {os.path.dirname(os.path.dirname(os.path.abspath(m.__file__ or ""))) for m in (kubetune,
                                                                                           kubetune_devcluster)}
    return sorted({sys.prefix, sys.base_prefix, *sources})


def write_launch_spec(
    path: Path, argv: list[str], env: dict[str, str], mounts: list[Json], workdir: str | None,
    hostname: str | None = None,
) -> None:
    import json

    spec = {"argv": argv, "env": env, "mounts": mounts, "workingDir": workdir, "imagePaths": image_paths(),
            "hostname": hostname}
    path.write_text(json.dumps(spec))
    path.chmod(0o600)
