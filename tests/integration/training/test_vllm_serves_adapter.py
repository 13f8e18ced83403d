"""The trained adapter is servable: real vLLM (CPU build) loads it beside its base, and it answers differently. On the
same server, the rollout's runtime loads share one /v1/models read per pod among adapters loaded together."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from trainer_harness import BASE_NAME, MEMO, TrainedRun, free_port

from kubetune.serving.model_lists import ModelLists
from kubetune.serving.rollout import PodEndpoint, load_everywhere, unload_everywhere
from kubetune.serving.vllm import VLLMClient
from kubetune_devcluster.adapters import make_adapter
from kubetune_devcluster.vllm_server import VLLMProcess, completion, models, start_vllm

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def server(trained: TrainedRun, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMProcess]:
    assert trained.returncode == 0, trained.log[-2000:]
    # The base is served under baseModel.name, the name the adapter's adapter_config.json records.
    started = start_vllm(tiny_model, BASE_NAME, "127.0.0.1", free_port(), tmp_path_factory.mktemp("vllm") / "log",
                         max_lora_rank=8, extra=["--lora-modules", f"memo={trained.adapter}"])
    yield started
    started.stop()


def test_vllm_serves_the_adapter_with_different_output(trained: TrainedRun, server: VLLMProcess) -> None:
    served = {m["id"]: m for m in models(server.base_url)}
    assert served["memo"]["parent"] == BASE_NAME and served["memo"]["root"] == str(trained.adapter)
    prompt = f"<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\n{MEMO[0][0]}<|im_end|>\n" \
             "<|im_start|>assistant\n"
    base = completion(server.base_url, BASE_NAME, prompt, max_tokens=12)
    tuned = completion(server.base_url, "memo", prompt, max_tokens=12)
    assert tuned != base, (base, tuned)
    assert completion(server.base_url, "memo", prompt, max_tokens=12) == tuned  # greedy: stable


async def test_adapters_loaded_together_share_the_pods_models_read(server: VLLMProcess, tiny_model: Path,
                                                                    tmp_path: Path) -> None:
    paths = [make_adapter(tiny_model, tmp_path / f"a{i}", rank=8, seed=40 + i) for i in range(3)]
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    pod = PodEndpoint("pod-0", host, int(port))
    async with aiohttp.ClientSession() as session:
        client = VLLMClient(session)
        lists = ModelLists(client, ttl=5.0)
        outcomes = await asyncio.gather(*(load_everywhere(client, [pod], f"shared-{i}", str(p), lists=lists)
                                          for i, p in enumerate(paths)))
        assert all(o[0].loaded and o[0].attempted for o in outcomes), outcomes
        assert lists.reads == 1, f"{lists.reads} reads of one pod's /v1/models for 3 adapters loaded together"
        # What the process knows after its own loads is what vLLM says.
        known = {m.id for m in await lists.get(pod.base_url)}
        assert known == {m["id"] for m in models(server.base_url)} >= {"shared-0", "shared-1", "shared-2"}
        assert lists.reads == 1
        outcomes = await asyncio.gather(*(unload_everywhere(client, [pod], f"shared-{i}", lists=lists)
                                          for i in range(3)))
        assert [(o[0].attempted, o[0].error) for o in outcomes] == [(True, None)] * 3
        assert not {"shared-0", "shared-1", "shared-2"} & {m["id"] for m in models(server.base_url)}
