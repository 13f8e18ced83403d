"""The trainer under torchrun, on CPU with gloo, without a cluster: two processes train on halves of each epoch and
rank 0 alone writes; two "nodes" (two torchruns meeting on loopback through the PET_* variables, as two pods do)
stop together at one checkpoint when one of them gets SIGTERM, and resume together from it."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from trainer_harness import MEMO, conversation, free_port, job_config, read_result, write_config, write_jsonl

from kubetune.api.trainer import EXIT_GANG_STOPPED

MARKER = "kubetune-checkpoint.json"
pytestmark = pytest.mark.slow


def rows() -> list[dict[str, Any]]:
    return [conversation(f"{p} ({n})", a) for n in range(4) for p, a in MEMO]


def torchrun(config_path: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "kubetune.training.torchrun", *options, "-m", "kubetune.training", "--config",
            str(config_path)]


def env(**extra: str) -> dict[str, str]:
    # One thread per process: two processes share this machine's cores.
    return {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", **extra}


def logged_losses(checkpoint: Path) -> list[float]:
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return [entry["loss"] for entry in state["log_history"] if "loss" in entry]


def marked(checkpoints: Path) -> list[int]:
    return sorted(int(p.parent.name.split("-")[1]) for p in checkpoints.glob(f"checkpoint-*/{MARKER}"))


def test_two_processes_each_train_on_half_and_rank0_alone_writes(tmp_path: Path, tiny_model: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", rows())
    settings: dict[str, Any] = {"hyperparameters": {"epochs": 2, "maxSteps": None, "batchSize": 4,
                                                    "learningRate": 0.005},
                                "checkpoint": {"everySteps": 5, "keep": 2}, "progress": {"logEverySteps": 2}}
    runs = {}
    for kind in ("single", "ddp"):
        root = tmp_path / kind
        root.mkdir()
        config = job_config(root, tiny_model, {"format": "openai", "path": str(data), "validationSplit": 0.2},
                            **settings)
        path = write_config(root, config)
        argv = torchrun(path, "--standalone", "--nnodes", "1", "--nproc-per-node", "2") if kind == "ddp" else \
            [sys.executable, "-m", "kubetune.training", "--config", str(path)]
        done = subprocess.run(argv, capture_output=True, text=True, env=env(), timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        runs[kind] = (config, read_result(config), done.stdout + done.stderr)

    single, ddp = runs["single"][1], runs["ddp"][1]
    train = ddp["datasetStats"]["trainExamples"]
    assert single["datasetStats"] == ddp["datasetStats"]
    # Each rank gets its half of every epoch (DistributedSampler), so an epoch takes half the steps.
    assert single["metrics"]["steps"] == 2 * math.ceil(train / 4)
    assert ddp["metrics"]["steps"] == 2 * math.ceil(math.ceil(train / 2) / 4) < single["metrics"]["steps"]
    config, result, log = runs["ddp"]
    checkpoints = Path(config["output"]["checkpointsDir"])
    losses = logged_losses(checkpoints / f"checkpoint-{result['metrics']['steps']}")
    assert losses[-1] < losses[0], losses
    # The adapter in its usual form, written once.
    adapter = Path(config["output"]["dir"])
    assert {"adapter_model.safetensors", "adapter_config.json", "kubetune-manifest.json"} <= {
        p.name for p in adapter.iterdir()}
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == "tiny-llama"
    assert result["adapter"]["sha256"] and result["validationSplit"]["examples"] == ddp["datasetStats"][
        "validationExamples"]
    assert log.count("adapter written to") == 1
    assert log.count("progress on http://") == 1
    assert log.count("joined a run of 2 processes on 1 node(s) as rank") == 1  # rank 1 logs warnings only
    # Rank 0 marks every checkpoint; each rank adds its own RNG state to it, as the Trainer does.
    last = checkpoints / f"checkpoint-{result['metrics']['steps']}"
    assert (last / MARKER).exists()
    assert {"rng_state_0.pth", "rng_state_1.pth"} <= {p.name for p in last.iterdir()}


def start_node(config_path: Path, rank: int, port: int, log: Path) -> subprocess.Popen[bytes]:
    variables = {"PET_NNODES": "2", "PET_NPROC_PER_NODE": "1", "PET_NODE_RANK": str(rank),
                 "PET_MASTER_ADDR": "127.0.0.1", "PET_MASTER_PORT": str(port)}
    with log.open("ab") as out:
        return subprocess.Popen(torchrun(config_path), stdout=out, stderr=subprocess.STDOUT, env=env(**variables))


def test_sigterm_on_one_node_stops_both_at_one_checkpoint_and_both_resume(tmp_path: Path, tiny_model: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", rows())
    config = job_config(tmp_path, tiny_model, {"format": "openai", "path": str(data)},
                        hyperparameters={"maxSteps": 120, "batchSize": 4, "learningRate": 0.002},
                        checkpoint={"everySteps": 10, "keep": 2}, progress={"logEverySteps": 10})
    path = write_config(tmp_path, config)
    checkpoints = Path(config["output"]["checkpointsDir"])
    port = free_port()
    nodes = [start_node(path, rank, port, tmp_path / f"node-{rank}.log") for rank in (0, 1)]
    try:
        deadline = time.monotonic() + 300
        while not marked(checkpoints):
            assert time.monotonic() < deadline and all(n.poll() is None for n in nodes), "no checkpoint marked"
            time.sleep(0.1)
        nodes[1].send_signal(signal.SIGTERM)  # node 1's pod is preempted; node 0 hears of it at the next step
        codes = [n.wait(120) for n in nodes]
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
    logs = [(tmp_path / f"node-{rank}.log").read_text() for rank in (0, 1)]
    assert codes == [EXIT_GANG_STOPPED, 128 + signal.SIGTERM], logs
    stopped = read_result(config)  # rank 0's
    assert (stopped["phase"], stopped["reason"]) == ("Failed", "Preempted")
    step = marked(checkpoints)[-1]
    assert f"saved the checkpoint at step {step} and stopped" in stopped["message"]
    assert step < 120

    nodes = [start_node(path, rank, port, tmp_path / f"node-{rank}.log") for rank in (0, 1)]
    try:
        codes = [n.wait(600) for n in nodes]
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
    assert codes == [0, 0], [(tmp_path / f"node-{rank}.log").read_text()[-3000:] for rank in (0, 1)]
    result = read_result(config)
    assert result["resumedFromStep"] == step
    assert result["metrics"]["steps"] == 120
