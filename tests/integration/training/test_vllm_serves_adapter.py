"""The trained adapter is servable: real vLLM (CPU build) loads it beside its base, and it answers differently."""

from __future__ import annotations

from pathlib import Path

import pytest
from trainer_harness import BASE_NAME, MEMO, TrainedRun, free_port

from kubetune_devcluster.vllm_server import completion, models, start_vllm

pytestmark = pytest.mark.vllm


def test_vllm_serves_the_adapter_with_different_output(trained: TrainedRun, tiny_model: Path,
                                                       tmp_path: Path) -> None:
    assert trained.returncode == 0, trained.log[-2000:]
    port = free_port()
    # The base is served under baseModel.name, the name the adapter's adapter_config.json records.
    server = start_vllm(tiny_model, BASE_NAME, "127.0.0.1", port, tmp_path / "vllm.log", max_lora_rank=8,
                        extra=["--lora-modules", f"memo={trained.adapter}"])
    try:
        served = {m["id"]: m for m in models(server.base_url)}
        assert served["memo"]["parent"] == BASE_NAME and served["memo"]["root"] == str(trained.adapter)
        prompt = f"<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\n{MEMO[0][0]}<|im_end|>\n" \
                 "<|im_start|>assistant\n"
        base = completion(server.base_url, BASE_NAME, prompt, max_tokens=12)
        tuned = completion(server.base_url, "memo", prompt, max_tokens=12)
        assert tuned != base, (base, tuned)
        assert completion(server.base_url, "memo", prompt, max_tokens=12) == tuned  # greedy: stable
    finally:
        server.stop()
