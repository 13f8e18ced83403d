"""The TrainingJob ``kubetune train`` submits: read from a manifest (-f), or built from flags with the dataset file
carried in a ConfigMap. Pure: files in, dicts out; the cluster is ``train.py``'s business.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from .errors import UsageError
from .kinds import API_VERSION

Json = dict[str, Any]
# The API server refuses a ConfigMap whose data passes 1 MiB (core/v1 validation: MaxSecretSize); the object's
# metadata needs a little room besides.
CONFIGMAP_MAX_BYTES = 1024 * 1024
CONFIGMAP_DATA_MAX_BYTES = CONFIGMAP_MAX_BYTES - 16 * 1024
DATASET_KEY = "dataset.jsonl"
OTHER_SOURCES = (
    "put it on a PersistentVolumeClaim (spec.dataset.source.pvc), serve it over http(s) (spec.dataset.source.uri) "
    "or read it from Postgres (spec.dataset.source.postgres), and submit the TrainingJob with kubetune train -f"
)


def load_manifest(path: str) -> Json:
    """The one TrainingJob in a YAML (or JSON) file; ``-`` reads stdin."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        docs = [d for d in yaml.safe_load_all(text) if d]
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from e
    except yaml.YAMLError as e:
        raise UsageError(f"{path} is not valid YAML: {' '.join(str(e).split())}") from e
    jobs = [d for d in docs if isinstance(d, dict) and d.get("kind") == "TrainingJob"]
    if len(jobs) != 1:
        kinds = ", ".join(str(d.get("kind")) if isinstance(d, dict) else type(d).__name__ for d in docs) or "nothing"
        raise UsageError(f"{path} must hold exactly one TrainingJob; it holds {kinds}")
    return jobs[0]


def check(manifest: Json, source: str) -> None:
    """Refuse what the API server would refuse, naming the field, before anything is created."""
    from kubetune.api import InvalidResource, parse_resource

    try:
        parse_resource(manifest)
    except InvalidResource as e:
        detail = "; ".join(f"{path}: {problem}" for path, problem in e.errors[:5])
        raise UsageError(f"{source}: invalid TrainingJob: {detail}") from e


def _claim(value: str) -> Json:
    """CLAIM or CLAIM/PATH -> a pvc source."""
    claim, _, path = value.partition("/")
    if not claim:
        raise UsageError(f"expected CLAIM or CLAIM/PATH, got {value!r}")
    return {"claimName": claim, **({"path": path} if path else {})}


def _target(value: str) -> Json:
    deployment, _, port = value.partition(":")
    if not deployment or (port and not port.isdigit()):
        raise UsageError(f"--serve expects DEPLOYMENT or DEPLOYMENT:PORT, got {value!r}")
    return {"deployment": deployment, "port": int(port or 8000)}


def dataset_configmap(name: str, dataset: Path) -> Json:
    """A ConfigMap holding the dataset file, or a UsageError that says where a larger dataset belongs."""
    try:
        size = dataset.stat().st_size
        if size > CONFIGMAP_DATA_MAX_BYTES:
            raise UsageError(f"--dataset {dataset} is {size / 2**20:.1f} MiB; a ConfigMap holds at most 1 MiB: "
                             f"{OTHER_SOURCES}")
        data = dataset.read_bytes()
    except OSError as e:
        raise UsageError(f"--dataset {dataset}: {e.strerror or e}") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"--dataset {dataset}: not UTF-8 text (byte {e.start})") from e
    if not text.strip():
        raise UsageError(f"--dataset {dataset} is empty")
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"{name}-dataset", "labels": {"app.kubernetes.io/managed-by": "kubetune-cli"}},
            "data": {DATASET_KEY: text}}


def _set(spec: Json, path: str, value: Any) -> None:
    if value is None:
        return
    *parents, leaf = path.split(".")
    for key in parents:
        spec = spec.setdefault(key, {})
    spec[leaf] = value


def from_flags(args: argparse.Namespace) -> tuple[Json, Json | None]:
    """A TrainingJob (and the ConfigMap holding its dataset) from ``kubetune train``'s flags."""
    missing = [flag for flag, value in (("--name", args.name), ("--base-model", args.base_model),
                                        ("--dataset", args.dataset)) if not value]
    if missing:
        raise UsageError(f"give -f FILE, or build the job from flags: {', '.join(missing)} missing")
    name = args.name
    if args.base_model_pvc:
        source: Json = {"pvc": _claim(args.base_model_pvc)}
    elif args.base_model_uri:
        source = {"uri": args.base_model_uri}
    else:
        source = {"uri": f"hf://{args.base_model}"}
    configmap = dataset_configmap(name, Path(args.dataset))
    spec: Json = {
        "baseModel": {"name": args.base_model, "source": source},
        "dataset": {"format": args.dataset_format,
                    "source": {"configMap": {"name": configmap["metadata"]["name"], "key": DATASET_KEY}}},
        "output": {"modelName": args.model_name or name, "storage": {"pvc": _claim(args.output_pvc)}},
    }
    _set(spec, "dataset.validationSplit", args.validation_split)
    _set(spec, "method", args.method)
    _set(spec, "backend", args.backend)
    _set(spec, "lora.r", args.lora_r)
    _set(spec, "lora.alpha", args.lora_alpha)
    if args.target_modules:
        modules = [m.strip() for m in args.target_modules.split(",") if m.strip()]
        _set(spec, "lora.targetModules", "all-linear" if modules == ["all-linear"] else modules)
    for flag, field in (("epochs", "epochs"), ("max_steps", "maxSteps"), ("batch_size", "batchSize"),
                        ("learning_rate", "learningRate"), ("max_seq_length", "maxSeqLength"),
                        ("lr_scheduler", "lrScheduler"), ("warmup_ratio", "warmupRatio")):
        _set(spec, f"hyperparameters.{field}", getattr(args, flag))
    _set(spec, "resources.gpus", args.gpus)
    _set(spec, "resources.memory", args.memory)
    _set(spec, "checkpoint.everySteps", args.checkpoint_every)
    _set(spec, "backoffLimit", args.backoff_limit)
    if args.serve:
        spec["serving"] = {"targets": [_target(t) for t in args.serve]}
    manifest = {"apiVersion": API_VERSION, "kind": "TrainingJob", "metadata": {"name": name}, "spec": spec}
    return manifest, configmap
