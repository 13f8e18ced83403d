"""The final adapter directory, written atomically, with its manifest.

Layout of ``output.dir``: ``adapter_model.safetensors``, ``adapter_config.json`` (``base_model_name_or_path`` is the
base's served name, so vLLM accepts the adapter for that base), the tokenizer files, and ``kubetune-manifest.json``
(what was trained, on what, how, the final metrics, and the sha256 of every other file).

Everything is written into a temporary directory beside ``output.dir`` and renamed into place: a reader (the operator,
vLLM) sees the old adapter or the whole new one, never a mix.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubetune.api.trainer import VALIDATION_SPLIT_FILE, ResultValidationSplit, TrainerConfig

from .digest import sha256_file
from .durable import fsync_path, fsync_tree

log = logging.getLogger(__name__)

MANIFEST = "kubetune-manifest.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


@dataclass(frozen=True)
class WrittenAdapter:
    path: Path
    sha256: str
    size_bytes: int
    manifest: dict[str, Any]


def write_adapter(model: Any, tokenizer: Any, config: TrainerConfig, facts: dict[str, Any],
                  base_commit: str | None = None) -> WrittenAdapter:
    """Save the trained adapter of ``model`` (a PEFT model) and ``tokenizer`` to ``config.output.dir``.

    ``facts`` (dataset, metrics, backend...) go into the manifest as they are; ``base_commit`` is the Hub commit a
    downloaded base resolved to.
    """
    target = Path(config.output.dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        _set_base_model(staging / ADAPTER_CONFIG, config.base_model.name)
        files: dict[str, dict[str, Any]] = {
            p.relative_to(staging).as_posix(): {"sha256": sha256_file(p), "sizeBytes": p.stat().st_size}
            for p in sorted(staging.rglob("*"))
            if p.is_file()
        }
        if ADAPTER_WEIGHTS not in files:
            raise RuntimeError(f"the backend saved no {ADAPTER_WEIGHTS}")
        manifest = {
            "kind": "KubetuneAdapterManifest",
            "version": 1,
            "createdAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "job": config.job.model_dump(mode="json", by_alias=True),
            "baseModel": _base_model_record(config, base_commit),
            "method": config.method,
            "lora": config.lora.model_dump(mode="json", by_alias=True),
            "hyperparameters": config.hyperparameters.model_dump(mode="json", by_alias=True),
            **facts,
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
        staging.chmod(0o755)  # mkdtemp makes it 0700; vLLM may read it as another user
        fsync_tree(staging)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    weights = files[ADAPTER_WEIGHTS]
    log.info("adapter written to %s (sha256 %s)", target, weights["sha256"])
    return WrittenAdapter(target, str(weights["sha256"]), int(weights["sizeBytes"]), manifest)


def _base_model_record(config: TrainerConfig, base_commit: str | None) -> dict[str, Any]:
    """The base's served name and, for a Hub base, the repo, the revision asked for and the commit trained on."""
    record: dict[str, Any] = {"name": config.base_model.name}
    hub = config.base_model.hub
    if hub is not None:
        record["hub"] = {"repoId": hub.repo_id, "revision": hub.revision or "main", "commit": base_commit}
    return record


def write_validation_split(examples: list[dict[str, Any]], config: TrainerConfig) -> ResultValidationSplit:
    """The held-out examples as JSON Lines beside ``output.dir``, written atomically (a temporary file renamed into
    place), so a comparison tests on exactly what training never saw. A resumed run writes the same bytes again: the
    split is a pure function of the data and the seed."""
    target = Path(config.output.dir).parent / VALIDATION_SPLIT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(example, ensure_ascii=False) + "\n" for example in examples).encode()
    fd, staging = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(staging, 0o644)  # mkstemp makes it 0600; the evaluator may read it as another user
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    fsync_path(target.parent)
    return ResultValidationSplit(path=str(target), examples=len(examples), sha256=hashlib.sha256(data).hexdigest())


def _set_base_model(path: Path, served_name: str) -> None:
    """Record the base by its served name, not the pod-local path PEFT wrote: vLLM matches adapters on it."""
    adapter_config = json.loads(path.read_text())
    adapter_config["base_model_name_or_path"] = served_name
    path.write_text(json.dumps(adapter_config, indent=2, sort_keys=True) + "\n")


def _swap_into_place(staging: Path, target: Path) -> None:
    """``rename`` cannot replace a non-empty directory, so an old adapter is moved aside first, then deleted."""
    if target.exists():
        retired = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(retired, ignore_errors=True)
        os.rename(target, retired)
        os.rename(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.rename(staging, target)
    fsync_path(target.parent)
