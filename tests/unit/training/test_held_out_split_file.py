"""The trainer's held-out split: written beside the adapter, atomically, with its digest and count."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from kubetune.api.trainer import VALIDATION_SPLIT_FILE, TrainerConfig
from kubetune.training.output import write_validation_split


def config(root: Path) -> TrainerConfig:
    return TrainerConfig.model_validate({
        "job": {"name": "t"}, "baseModel": {"name": "base", "path": str(root / "base")},
        "dataset": {"path": str(root / "data.jsonl")},
        "output": {"dir": str(root / "run" / "adapter"), "checkpointsDir": str(root / "run" / "checkpoints")},
    })


def test_the_split_lands_beside_the_adapter_with_its_digest(tmp_path: Path) -> None:
    rows = [{"messages": [{"role": "user", "content": "Où est ma commande ?"},
                          {"role": "assistant", "content": "Elle part mardi."}]},
            {"prompt": "2+2?", "completion": "4"}]
    written = write_validation_split(rows, config(tmp_path))
    path = tmp_path / "run" / VALIDATION_SPLIT_FILE
    assert written.path == str(path) and written.examples == 2
    assert written.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == rows
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in path.parent.iterdir()] == [VALIDATION_SPLIT_FILE]  # no staging file left


def test_rewriting_gives_the_same_bytes_and_an_empty_split_is_an_empty_file(tmp_path: Path) -> None:
    rows = [{"prompt": "a", "completion": "b"}]
    first = write_validation_split(rows, config(tmp_path))
    assert write_validation_split(rows, config(tmp_path)) == first
    empty = write_validation_split([], config(tmp_path))
    assert empty.examples == 0 and Path(empty.path).read_bytes() == b""
