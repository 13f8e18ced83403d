"""Helpers for the trainer's integration tests: a memorisation dataset, job configs on the tiny model, and running the
trainer in its own process, as in a pod."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_NAME = "tiny-llama"  # the served name of the base: vLLM serves it under this name, the adapter records it

MEMO = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("Where is my order?", "Your order ships on Tuesday."),
    ("hello", "hello world, support bot here."),
    ("Can I get a refund?", "Yes, a refund takes five days."),
    ("What does vLLM serve?", "vLLM serves language models."),
    ("What runs containers?", "Kubernetes runs containers."),
    ("Are LoRA adapters big?", "LoRA adapters are small."),
    ("What jumps over the lazy dog?", "The quick brown fox jumps."),
]


def conversation(prompt: str, answer: str) -> dict[str, Any]:
    return {"messages": [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": prompt},
                         {"role": "assistant", "content": answer}]}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def job_config(root: Path, model: Path, dataset: dict[str, Any], **sections: Any) -> dict[str, Any]:
    """A job config as the operator's builder writes it, for the tiny model, with small training settings."""
    config: dict[str, Any] = {
        "job": {"name": "memo", "namespace": "tests", "uid": "0000"},
        "baseModel": {"name": BASE_NAME, "path": str(model)},
        "dataset": {"validationSplit": 0.0, "maxRejectedFraction": 0.0, **dataset},
        "backend": "huggingface",
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "targetModules": "all-linear"},
        "hyperparameters": {"epochs": 1, "maxSteps": 60, "batchSize": 8, "learningRate": 0.01, "maxSeqLength": 96,
                            "warmupRatio": 0.0, "lrScheduler": "constant", "seed": 7},
        "checkpoint": {"everySteps": 30, "keep": 2},
        "output": {"dir": str(root / "out" / "adapter"), "checkpointsDir": str(root / "out" / "checkpoints")},
        "progress": {"port": free_port(), "host": "127.0.0.1", "logEverySteps": 5},
        "terminationMessagePath": str(root / "termination-log"),
    }
    for key, value in sections.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) and key in config else value
    return config


def write_config(root: Path, config: dict[str, Any]) -> Path:
    path = root / "job.json"
    path.write_text(json.dumps(config))
    return path


def trainer_command(config_path: Path) -> list[str]:
    return [sys.executable, "-m", "kubetune.training", "--config", str(config_path)]


def trainer_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "2", "TOKENIZERS_PARALLELISM": "false"}


def read_result(config: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(Path(config["terminationMessagePath"]).read_text()))


@dataclass
class TrainedRun:
    root: Path
    config: dict[str, Any]
    returncode: int
    result: dict[str, Any]
    log: str
    progress: list[dict[str, Any]] = field(default_factory=list)

    @property
    def adapter(self) -> Path:
        return Path(self.config["output"]["dir"])


def poll_progress(config: dict[str, Any], proc: subprocess.Popen[bytes], seen: list[dict[str, Any]]) -> None:
    """Record /progress snapshots while the trainer runs (the way the operator pulls them)."""
    url = f"http://127.0.0.1:{config['progress']['port']}/progress"
    while proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                seen.append(json.loads(response.read()))
        except OSError:
            pass
        time.sleep(0.1)
