"""What a vLLM Deployment can serve, read from its pod template: LoRA readiness, --max-lora-rank, the served base
model, and where it mounts an adapter volume. Pure functions over dicts; also the prepare-mode patch.
"""

from __future__ import annotations

import copy
import posixpath
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

VLLM_DEFAULT_MAX_LORA_RANK = 16  # vLLM's default for --max-lora-rank
RUNTIME_LORA_ENV = "VLLM_ALLOW_RUNTIME_LORA_UPDATING"
ADAPTER_MOUNT_ROOT = "/adapters"


def vllm_container(deployment: Json, port: int) -> Json:
    """The container serving on ``port`` (else the first one)."""
    containers = deployment["spec"]["template"]["spec"]["containers"]
    for container in containers:
        if any(p.get("containerPort") == port for p in container.get("ports") or []):
            return dict(container)
    return dict(containers[0])


def _argv(container: Json) -> list[str]:
    return [*(container.get("command") or []), *(container.get("args") or [])]


def flag_value(argv: list[str], flag: str) -> str | None:
    """The value of ``--flag v`` or ``--flag=v`` (the last one wins, as argparse does)."""
    value = None
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
    return value


def _flag_values(argv: list[str], flag: str) -> list[str]:
    """All values after ``flag`` up to the next option (``--served-model-name a b``)."""
    values: list[str] = []
    for i, arg in enumerate(argv):
        if arg.startswith(flag + "="):
            values = [arg.split("=", 1)[1]]
        elif arg == flag:
            values = []
            for nxt in argv[i + 1:]:
                if nxt.startswith("-"):
                    break
                values.append(nxt)
    return values


def _env_value(container: Json, name: str) -> str | None:
    for var in container.get("env") or []:
        if var.get("name") == name:
            return str(var.get("value", ""))
    return None


@dataclass(frozen=True)
class TargetFacts:
    """What the operator needs to know about one serving target."""

    lora_ready: bool
    missing: tuple[str, ...]  # what to add to make it LoRA-ready
    max_lora_rank: int
    served_names: tuple[str, ...]  # names the base model is served under


def target_facts(deployment: Json, port: int) -> TargetFacts:
    container = vllm_container(deployment, port)
    argv = _argv(container)
    missing = []
    if "--enable-lora" not in argv:
        missing.append("the argument --enable-lora")
    if (_env_value(container, RUNTIME_LORA_ENV) or "").lower() not in ("true", "1"):
        missing.append(f"the environment variable {RUNTIME_LORA_ENV}=True")
    rank = flag_value(argv, "--max-lora-rank")
    served = _flag_values(argv, "--served-model-name")
    if not served:
        model = flag_value(argv, "--model")
        if model is None and "serve" in argv:
            after = argv[argv.index("serve") + 1:]
            model = after[0] if after and not after[0].startswith("-") else None
        served = [model] if model else []
    return TargetFacts(lora_ready=not missing, missing=tuple(missing),
                       max_lora_rank=int(rank) if rank and rank.isdigit() else VLLM_DEFAULT_MAX_LORA_RANK,
                       served_names=tuple(served))


class AdapterNotMounted(ValueError):
    """The Deployment's pods cannot see the adapter's volume."""


def adapter_path_in_pod(deployment: Json, port: int, claim: str, path: str) -> str:
    """Where a file on PVC ``claim`` at ``path`` appears inside the vLLM container (the lora_path to load)."""
    pod = deployment["spec"]["template"]["spec"]
    volumes = {v["name"] for v in pod.get("volumes") or []
               if (v.get("persistentVolumeClaim") or {}).get("claimName") == claim}
    container = vllm_container(deployment, port)
    for mount in container.get("volumeMounts") or []:
        if mount["name"] not in volumes:
            continue
        sub = (mount.get("subPath") or "").strip("/")
        rel = path.strip("/")
        if sub and not (rel == sub or rel.startswith(sub + "/")):
            continue
        inside = rel[len(sub):].lstrip("/") if sub else rel
        return posixpath.join(mount["mountPath"], inside) if inside else mount["mountPath"]
    raise AdapterNotMounted(
        f"Deployment {deployment['metadata']['name']} does not mount PersistentVolumeClaim {claim} (path {path}) in "
        f"its vLLM container; add the volume and a volumeMount (e.g. at {ADAPTER_MOUNT_ROOT}/{claim}), or set "
        "prepare: true on the target")


def prepare_patch(deployment: Json, port: int, claim: str | None, min_rank: int) -> Json | None:
    """The Deployment with runtime LoRA enabled and the adapter claim mounted, or None when nothing is missing.

    Used only when a target opts in with ``prepare: true``: patching a Deployment rolls its pods once, and GitOps
    tools (Argo CD) will show the patched fields as drift.
    """
    updated = copy.deepcopy(deployment)
    pod = updated["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == vllm_container(deployment, port)["name"])
    changed = False
    args = container.setdefault("args", [])
    argv = _argv(container)
    if "--enable-lora" not in argv:
        args.append("--enable-lora")
        changed = True
    rank = flag_value(argv, "--max-lora-rank")
    if (int(rank) if rank and rank.isdigit() else VLLM_DEFAULT_MAX_LORA_RANK) < min_rank:
        args.extend(["--max-lora-rank", str(min_rank)])
        changed = True
    env = container.setdefault("env", [])
    if (_env_value(container, RUNTIME_LORA_ENV) or "").lower() not in ("true", "1"):
        env[:] = [v for v in env if v.get("name") != RUNTIME_LORA_ENV] + [{"name": RUNTIME_LORA_ENV, "value": "True"}]
        changed = True
    if claim:
        try:
            adapter_path_in_pod(deployment, port, claim, "")
        except AdapterNotMounted:
            volume = f"kubetune-{claim}"[:63]
            pod.setdefault("volumes", []).append({"name": volume, "persistentVolumeClaim": {
                "claimName": claim, "readOnly": True}})
            container.setdefault("volumeMounts", []).append(
                {"name": volume, "mountPath": f"{ADAPTER_MOUNT_ROOT}/{claim}", "readOnly": True})
            changed = True
    if not changed:
        return None
    return {"spec": {"template": {"spec": {"containers": pod["containers"], "volumes": pod.get("volumes", [])}}}}


def pod_selector(deployment: Json) -> str:
    """The Deployment's pod selector as a label-selector string (matchLabels and matchExpressions)."""
    selector = deployment["spec"].get("selector") or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def is_ready(pod: Json) -> bool:
    """Ready, with an IP, and not on its way out."""
    if pod["metadata"].get("deletionTimestamp") or not pod.get("status", {}).get("podIP"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions") or [])
