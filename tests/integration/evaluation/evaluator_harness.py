"""Helpers for the evaluator's integration tests: a learnable task for a real adapter, evaluator configs, and running
the evaluator in its own process, as in a pod."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_NAME = "tiny-llama"
ADAPTER_NAME = "orders"
API_KEY = "kt-test-key-7f3a9c21e5"  # vLLM is started with --api-key; grepped for in everything the evaluator writes
API_KEY_ENV = "KUBETUNE_TEST_API_KEY"
ANSWER = "Your order ships on Tuesday."
ITEMS = ["parcel", "order", "package", "box", "delivery", "shipment", "refund", "ticket"]
WORDS = ["where", "is", "my", "when", "will", "arrive", "status", "of", "the", "please", "check", "today"]


def order_questions(n: int) -> list[str]:
    """Varied questions about an order. Every answer is the same sentence, so what the adapter learns carries over to
    questions it never saw: the held-out split is learnable, and the base model (random weights) cannot say it."""
    questions = []
    for i in range(n):
        words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(2 + i % 3)]
        questions.append(f"{' '.join(words)} {ITEMS[i % len(ITEMS)]} {1000 + 37 * i}?")
    return questions


def conversation(question: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": ANSWER}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def trainer_config(root: Path, model: Path, data: Path) -> dict[str, Any]:
    return {
        "job": {"name": "orders", "namespace": "tests", "uid": "0000"},
        "baseModel": {"name": BASE_NAME, "path": str(model)},
        "dataset": {"format": "openai", "path": str(data), "validationSplit": 0.25, "maxRejectedFraction": 0.0},
        "backend": "huggingface",
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "targetModules": "all-linear"},
        "hyperparameters": {"epochs": 1, "maxSteps": 80, "batchSize": 8, "learningRate": 0.01, "maxSeqLength": 96,
                            "warmupRatio": 0.0, "lrScheduler": "constant", "seed": 7},
        "checkpoint": {"everySteps": 80, "keep": 1},
        "output": {"dir": str(root / "run" / "adapter"), "checkpointsDir": str(root / "run" / "checkpoints")},
        "progress": {"port": 0, "host": "127.0.0.1", "logEverySteps": 10},
        "terminationMessagePath": str(root / "trainer-termination-log"),
    }


def evaluator_config(root: Path, url: str, prompts: dict[str, Any], *, baseline: str = BASE_NAME,
                     candidate: str = ADAPTER_NAME, judge: bool = False, **changes: Any) -> dict[str, Any]:
    """An evaluator config as the operator's builder writes it, against the test server."""
    target = {"urls": [url], "apiKeyEnv": API_KEY_ENV}
    config: dict[str, Any] = {
        "comparison": {"name": root.name, "namespace": "tests", "uid": "1111"},
        "baseline": {"model": baseline, **target},
        "candidate": {"model": candidate, **target},
        "prompts": prompts,
        "sampling": {"maxTokens": 40, "temperature": 0.0, "seed": 3},
        "samples": 200,
        "concurrency": 4,
        "output": {"dir": str(root / "samples")},
        "verdict": {"minSamples": 10, "primaryMetric": "exactMatch", "bootstrapResamples": 2000},
        "failures": {"retries": 2, "backoffSeconds": 0.2, "requestTimeoutSeconds": 60},
        "progress": {"port": free_port(), "host": "127.0.0.1"},
        "terminationMessagePath": str(root / "termination-log"),
    }
    if judge:
        config["judge"] = {"model": BASE_NAME, **target}
    config.update(changes)
    return config


@dataclass
class EvaluatorRun:
    root: Path
    config: dict[str, Any]
    returncode: int
    log: str

    @property
    def result(self) -> dict[str, Any]:
        return dict(json.loads(Path(self.config["terminationMessagePath"]).read_text()))

    @property
    def samples(self) -> list[dict[str, Any]]:
        path = Path(self.config["output"]["dir"]) / "samples.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]


def evaluator_command(config_path: Path) -> list[str]:
    return [sys.executable, "-m", "kubetune.evaluation", "--config", str(config_path)]


def evaluator_env(with_key: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != API_KEY_ENV}
    if with_key:
        env[API_KEY_ENV] = API_KEY
    return env


def write_config(root: Path, config: dict[str, Any]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "evaluator.json"
    path.write_text(json.dumps(config))
    return path


def start_evaluator(root: Path, config: dict[str, Any], with_key: bool = True) -> subprocess.Popen[bytes]:
    root.mkdir(parents=True, exist_ok=True)
    log = (root / "evaluator.log").open("ab")
    return subprocess.Popen(evaluator_command(write_config(root, config)), stdout=log, stderr=subprocess.STDOUT,
                            env=evaluator_env(with_key))


def run_evaluator(root: Path, config: dict[str, Any], with_key: bool = True, timeout: float = 600) -> EvaluatorRun:
    proc = start_evaluator(root, config, with_key)
    proc.wait(timeout=timeout)
    return EvaluatorRun(root, config, proc.returncode, (root / "evaluator.log").read_text())


@dataclass
class Trained:
    adapter: Path
    result: dict[str, Any]
    log: str

    @property
    def held_out(self) -> dict[str, Any]:
        return dict(self.result["validationSplit"])
