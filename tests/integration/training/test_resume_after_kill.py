"""A run killed with SIGKILL after a checkpoint resumes from it when started again: the step count continues."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from trainer_harness import (
    MEMO,
    conversation,
    job_config,
    read_result,
    trainer_command,
    trainer_env,
    write_config,
    write_jsonl,
)

MARKER = "kubetune-checkpoint.json"


def first_marked_checkpoint(checkpoints: Path, proc: subprocess.Popen[bytes], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        marked = sorted(int(p.parent.name.split("-")[1]) for p in checkpoints.glob(f"checkpoint-*/{MARKER}"))
        if marked:
            return marked[-1]
        time.sleep(0.02)
    raise AssertionError(f"no checkpoint was marked (exit code {proc.poll()})")


def test_sigkill_after_checkpoint_then_restart_resumes(tmp_path: Path, tiny_model: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", [conversation(p, a) for p, a in MEMO])
    config = job_config(tmp_path, tiny_model, {"format": "openai", "path": str(data)},
                        hyperparameters={"maxSteps": 120, "batchSize": 4, "learningRate": 0.002},
                        checkpoint={"everySteps": 20, "keep": 2}, progress={"logEverySteps": 10})
    path = write_config(tmp_path, config)
    checkpoints = Path(config["output"]["checkpointsDir"])
    log = (tmp_path / "first.log").open("wb")
    first = subprocess.Popen(trainer_command(path), stdout=log, stderr=subprocess.STDOUT, env=trainer_env())
    killed_after = first_marked_checkpoint(checkpoints, first, timeout=300)
    first.send_signal(signal.SIGKILL)  # no cleanup, no termination message: a node dying under the pod
    first.wait(30)
    assert first.returncode == -signal.SIGKILL
    assert not Path(config["output"]["dir"]).exists()
    marked = sorted(int(p.parent.name.split("-")[1]) for p in checkpoints.glob(f"checkpoint-*/{MARKER}"))
    resume_step = marked[-1]
    assert killed_after <= resume_step < 120

    second = subprocess.run(trainer_command(path), capture_output=True, text=True, env=trainer_env(), timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    result = read_result(config)
    assert result["resumedFromStep"] == resume_step > 0
    assert result["metrics"]["steps"] == 120
    final = json.loads((checkpoints / "checkpoint-120" / "trainer_state.json").read_text())
    assert final["global_step"] == 120
    steps = [entry["step"] for entry in final["log_history"] if "loss" in entry]
    # The history carries on from the first run: entries from before the kill, then from after it, no restart at 0.
    assert steps[0] <= resume_step < steps[-1] == 120
    assert steps == sorted(set(steps))
    manifest = json.loads((Path(config["output"]["dir"]) / "kubetune-manifest.json").read_text())
    assert manifest["resumedFromStep"] == resume_step

    # Killed after the last checkpoint but before the adapter was written: the next pod only writes the adapter.
    shutil.rmtree(config["output"]["dir"])
    third = subprocess.run(trainer_command(path), capture_output=True, text=True, env=trainer_env(), timeout=600)
    assert third.returncode == 0, third.stderr[-3000:]
    again = read_result(config)
    assert again["resumedFromStep"] == 120 and again["metrics"]["steps"] == 120
    assert again["metrics"]["trainLoss"] == result["metrics"]["trainLoss"]  # from the restored history
    assert again["adapter"]["sha256"] == result["adapter"]["sha256"]  # the same weights, from the checkpoint


def wait_for_step(config: dict, proc: subprocess.Popen[bytes], step: int, timeout: float) -> None:
    url = f"http://127.0.0.1:{config['progress']['port']}/progress"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if json.loads(response.read())["step"] >= step:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"step {step} not reached (exit code {proc.poll()})")


def test_sigterm_saves_a_checkpoint_and_stops_retriably(tmp_path: Path, tiny_model: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", [conversation(p, a) for p, a in MEMO])
    config = job_config(tmp_path, tiny_model, {"format": "openai", "path": str(data)},
                        hyperparameters={"maxSteps": 1000, "batchSize": 4},
                        checkpoint={"everySteps": 500, "keep": 2}, progress={"logEverySteps": 10})
    proc = subprocess.Popen(trainer_command(write_config(tmp_path, config)), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=trainer_env())
    wait_for_step(config, proc, 3, timeout=300)
    proc.send_signal(signal.SIGTERM)  # eviction or preemption
    assert proc.wait(120) == 1
    result = read_result(config)
    assert (result["phase"], result["reason"]) == ("Failed", "Preempted")
    checkpoints = Path(config["output"]["checkpointsDir"])
    marked = [int(p.parent.name.split("-")[1]) for p in checkpoints.glob(f"checkpoint-*/{MARKER}")]
    assert len(marked) == 1 and 3 <= marked[0] < 500  # saved on the signal, not on the schedule
    assert f"stopped by SIGTERM at step {marked[0]}" in result["message"]
