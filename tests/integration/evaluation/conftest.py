"""One tiny base with room for a judge's prompt, one real adapter trained on it, and one vLLM server (with an API
key) serving both, shared by the evaluator's integration tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from evaluator_harness import (
    ADAPTER_NAME,
    API_KEY,
    BASE_NAME,
    Trained,
    conversation,
    free_port,
    order_questions,
    trainer_config,
)

from kubetune_devcluster.tinymodel import TinyModelSpec, build_tiny_model
from kubetune_devcluster.vllm_server import VLLMProcess, start_vllm

CONTEXT = 1024  # the judge's prompt holds a question and two answers


@pytest.fixture(scope="session")
def eval_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama with a longer context than the shared one (which vLLM serves with 128 tokens)."""
    return build_tiny_model(tmp_path_factory.mktemp("eval-base") / "tiny-llama",
                            TinyModelSpec(max_position_embeddings=CONTEXT, seed=5))


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, eval_base: Path) -> Trained:
    """A real adapter: the trainer, in its own process, on 64 order questions with 25 % held out."""
    root = tmp_path_factory.mktemp("trained")
    data = root / "orders.jsonl"
    data.write_text("".join(json.dumps(conversation(q)) + "\n" for q in order_questions(64)))
    config = trainer_config(root, eval_base, data)
    (root / "job.json").write_text(json.dumps(config))
    proc = subprocess.run([sys.executable, "-m", "kubetune.training", "--config", str(root / "job.json")],
                          capture_output=True, text=True, timeout=1500,
                          env={**os.environ, "OMP_NUM_THREADS": "2", "TOKENIZERS_PARALLELISM": "false"})
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    result = json.loads(Path(config["terminationMessagePath"]).read_text())
    return Trained(Path(config["output"]["dir"]), result, log)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, eval_base: Path, trained: Trained) -> Iterator[VLLMProcess]:
    """vLLM (CPU) serving the base as tiny-llama and the adapter as orders, behind an API key."""
    log = tmp_path_factory.mktemp("vllm") / "vllm.log"
    process = start_vllm(eval_base, BASE_NAME, "127.0.0.1", free_port(), log, timeout=900, api_key=API_KEY,
                         extra=["--lora-modules", f"{ADAPTER_NAME}={trained.adapter}", "--max-model-len",
                                str(CONTEXT)])
    try:
        yield process
    finally:
        process.stop()
