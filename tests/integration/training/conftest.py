"""One real training run (in its own process, as in a pod) shared by the tests that inspect its adapter."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from trainer_harness import (
    MEMO,
    TrainedRun,
    conversation,
    job_config,
    poll_progress,
    read_result,
    trainer_command,
    trainer_env,
    write_config,
    write_jsonl,
)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> TrainedRun:
    """One real run: 16 conversations, 25 % held out, 60 steps; its progress polled while it trains."""
    root = tmp_path_factory.mktemp("trained")
    rows = [conversation(p, a) for p, a in MEMO] + [conversation(p.upper(), a) for p, a in MEMO]
    data = write_jsonl(root / "data" / "train.jsonl", rows)
    config = job_config(root, tiny_model, {"format": "openai", "path": str(data), "validationSplit": 0.25},
                        checkpoint={"everySteps": 20, "keep": 2})
    log_path = root / "trainer.log"
    seen: list[dict[str, Any]] = []
    with log_path.open("wb") as log:
        proc = subprocess.Popen(trainer_command(write_config(root, config)), stdout=log, stderr=subprocess.STDOUT,
                                env=trainer_env())
        poll_progress(config, proc, seen)
        proc.wait(timeout=600)
    return TrainedRun(root, config, proc.returncode, read_result(config), log_path.read_text(), seen)
