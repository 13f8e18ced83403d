"""Every step the trainer logs lands in the mirror once, even when the operator following it is SIGKILLed mid-run
and restarted: the restarted one fetches /history from the newest step in the database, and the trainer waits for
one last read before it exits (progress.lingerSeconds).

The trainer is paused (SIGSTOP) while the first follower is killed and the second starts, so the kill lands
mid-training however fast the machine trains; it goes on (SIGCONT) once the second follows."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from trainer_harness import MEMO, conversation, job_config, trainer_command, trainer_env, write_config, write_jsonl

from kubetune.store import upgrade
from kubetune.store.database import make_engine

pytestmark = pytest.mark.postgres
FOLLOWER = Path(__file__).with_name("loss_curve_follower.py")


def steps_in(url: str, uid: str) -> list[tuple[int, float | None, float | None]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(r) for r in connection.execute(text(  # type: ignore[misc]
                "select step, loss, eval_loss from training_metrics where job_uid = :u order by step"), {"u": uid})]
    finally:
        engine.dispose()


def test_operator_killed_mid_training_loses_no_step(tmp_path: Path, tiny_model: Path, database: str) -> None:
    upgrade(database)
    rows = [conversation(p, a) for p, a in MEMO] + [conversation(p.upper(), a) for p, a in MEMO]
    data = write_jsonl(tmp_path / "train.jsonl", rows)
    config = job_config(tmp_path, tiny_model, {"format": "openai", "path": str(data), "validationSplit": 0.25},
                        hyperparameters={"maxSteps": 60, "batchSize": 4},
                        checkpoint={"everySteps": 20, "keep": 5},
                        progress={"logEverySteps": 5, "lingerSeconds": 60})
    uid = "job-" + tmp_path.name[-8:]
    port = str(config["progress"]["port"])
    trainer_log = (tmp_path / "trainer.log").open("wb")
    trainer = subprocess.Popen(trainer_command(write_config(tmp_path, config)), stdout=trainer_log,
                               stderr=subprocess.STDOUT, env=trainer_env())
    follower_cmd = [sys.executable, str(FOLLOWER), database, port, uid]
    try:
        first = subprocess.Popen(follower_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 300
        while len(steps_in(database, uid)) < 2:  # some steps mirrored: kill the "operator" mid-training
            assert trainer.poll() is None and first.poll() is None, "trainer or follower ended early"
            assert time.monotonic() < deadline, "no steps mirrored within 300 s"
            time.sleep(0.05)
        trainer.send_signal(signal.SIGSTOP)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = steps_in(database, uid)[-1][0]
        second = subprocess.Popen(follower_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert second.stdout is not None
        resumed = second.stdout.readline()
        trainer.send_signal(signal.SIGCONT)
        out, _ = second.communicate(timeout=600)
        assert second.returncode == 0, out[-2000:]
        assert resumed == f"resuming from step {killed_at}\n"
        assert trainer.wait(120) == 0
    finally:
        if trainer.poll() is None:
            trainer.send_signal(signal.SIGCONT)
            trainer.kill()
    assert "no /history read" not in (tmp_path / "trainer.log").read_text()  # the last read came before the linger

    # The truth: the trainer's own log history, saved with its last checkpoint.
    checkpoints = Path(config["output"]["checkpointsDir"])
    state = json.loads((checkpoints / "checkpoint-60" / "trainer_state.json").read_text())
    logged: dict[int, dict[str, float]] = {}
    for entry in state["log_history"]:
        if "loss" in entry or "eval_loss" in entry:
            logged.setdefault(entry["step"], {}).update(entry)
    mirrored = steps_in(database, uid)
    assert [s for s, _, _ in mirrored] == sorted(logged)  # every step, once
    assert set(range(5, 61, 5)) <= set(logged)  # logEverySteps 5 (the trainer also logs step 1)
    assert killed_at < 60
    for step, loss, eval_loss in mirrored:
        assert loss == pytest.approx(logged[step]["loss"])
        assert eval_loss == (pytest.approx(logged[step]["eval_loss"]) if "eval_loss" in logged[step] else None)
