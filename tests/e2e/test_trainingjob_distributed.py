"""Training across processes and pods, end to end on CPU with gloo: the real operator, Job controller, scheduler and
process node, torchrun in the pods, and real vLLM loading what they trained.

- one pod of two pods killed mid-run: the gang restarts from the checkpoint and completes, one Job, one model;
- two pods of one process each: an Indexed Job behind a headless Service; each rank trains on half of every epoch, so
  an epoch takes half the steps of the same job on one pod (run beside it); the loss falls; the adapter has the usual
  files and loads in vLLM;
- one pod with two processes (torchrun --nproc-per-node 2) does the same.
"""

from __future__ import annotations

import json
import math
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.postgres import free_port
from kubetune_devcluster.vllm_server import VLLMProcess, completion, models, start_vllm
from kubetune_devcluster.waiting import wait_for

from .conftest import BASE_MODEL_NAME, memorisation_rows, training_job
from .helpers import checkpoint_step, get_tj, jobs_of, models_of, pods_of, tj_path, trainer_results, wait_phase

pytestmark = [pytest.mark.cluster, pytest.mark.slow, pytest.mark.timeout(1800)]
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
TRAIN = 900  # seconds a training job may take on this shared 2-core machine
EPOCHS, BATCH = 6, 4
Json = dict[str, Any]


@pytest.fixture
def shared_storage(cluster: LocalCluster, kube: KubeREST, namespace: str, tiny_model: Path) -> dict[str, Path]:
    """Claims `models` (the tiny base model under tiny-llama/) and `adapters`, ReadWriteMany: every pod of a
    multi-node job mounts them, wherever it runs."""
    for name in ("models", "adapters"):
        kube.create(KubeREST.path_for("PersistentVolumeClaim", namespace), {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}}})
    models_dir = cluster.volume_path(namespace, "models")
    shutil.copytree(tiny_model, models_dir / BASE_MODEL_NAME, dirs_exist_ok=True)
    return {"models": models_dir, "adapters": cluster.volume_path(namespace, "adapters")}


@pytest.fixture(scope="module")
def vllm(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMProcess]:
    server = start_vllm(tiny_model, BASE_MODEL_NAME, "127.0.0.1", free_port(),
                        tmp_path_factory.mktemp("vllm") / "vllm.log", timeout=600, max_lora_rank=8)
    yield server
    server.stop()


def by_epochs(name: str, **resources: Any) -> Json:
    """A job that runs whole epochs (no maxSteps), so its step count says how much data each rank saw."""
    manifest = training_job(name, memorisation_rows(48), resources={"gpus": 0, **resources},
                            hyperparameters={"epochs": EPOCHS, "batchSize": BATCH},
                            checkpoint={"everySteps": 10, "keep": 2})
    del manifest["spec"]["hyperparameters"]["maxSteps"]
    return manifest


def succeeded(kube: KubeREST, namespace: str, name: str, operator: OperatorProcess) -> Json:
    status = wait_phase(kube, namespace, name, ("Succeeded", "Failed"), timeout=TRAIN, operator=operator)["status"]
    assert status["phase"] == "Succeeded", json.dumps(status, indent=1)
    return dict(status)


def expected_steps(train_examples: int, processes: int) -> int:
    """Steps of the run when each of ``processes`` ranks gets its share of every epoch (DistributedSampler)."""
    return EPOCHS * math.ceil(math.ceil(train_examples / processes) / BATCH)


def adapter_dir(kube: KubeREST, namespace: str, status: Json, storage: dict[str, Path]) -> Path:
    ftm = kube.get(KubeREST.path("kubetune.dev/v1alpha1", "finetunedmodels", namespace, status["modelRef"]["name"]))
    return storage["adapters"] / ftm["spec"]["adapter"]["pvc"]["path"]


def assert_trained(adapter: Path) -> None:
    """The usual adapter files, and a loss that fell over the run (from the newest checkpoint's log)."""
    assert {"adapter_model.safetensors", "adapter_config.json", "kubetune-manifest.json"} <= {
        p.name for p in adapter.iterdir()}
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == BASE_MODEL_NAME
    assert (adapter.parent / "validation.jsonl").exists()
    newest = max((adapter.parent / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    losses = [e["loss"] for e in json.loads((newest / "trainer_state.json").read_text())["log_history"] if "loss" in e]
    assert len(losses) >= 2 and losses[-1] < losses[0], losses


def assert_loads_in_vllm(server: VLLMProcess, name: str, adapter: Path) -> None:
    body = json.dumps({"lora_name": name, "lora_path": str(adapter)}).encode()
    request = urllib.request.Request(f"{server.base_url}/v1/load_lora_adapter", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        assert resp.status == 200
    served = {m["id"]: m for m in models(server.base_url)}
    assert served[name]["parent"] == BASE_MODEL_NAME and served[name]["root"] == str(adapter)
    assert completion(server.base_url, name, "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
                      "<|im_start|>assistant\n", max_tokens=8)


def test_killing_one_pod_restarts_the_gang_from_its_checkpoint(
        kube: KubeREST, namespace: str, operator: OperatorProcess, shared_storage: dict[str, Path]) -> None:
    kube.create(tj_path(namespace), training_job("sturdy", resources={"gpus": 0, "nodes": 2},
                                                 hyperparameters={"maxSteps": 200},
                                                 checkpoint={"everySteps": 20, "keep": 2}))
    wait_for(lambda: checkpoint_step(kube, namespace, "sturdy") >= 20, TRAIN, interval=0.2,
             what="a checkpoint at step 20")
    saved = checkpoint_step(kube, namespace, "sturdy")
    (rank0,) = [p for p in pods_of(kube, namespace, "sturdy") if p["status"].get("phase") == "Running"
                and p["metadata"]["annotations"][COMPLETION_INDEX] == "0"]
    # Force deletion: index 0's processes (torchrun's rendezvous and rank 0) are SIGKILLed with no last checkpoint.
    kube.delete(KubeREST.path_for("Pod", namespace, rank0["metadata"]["name"]), {"gracePeriodSeconds": 0})

    done = succeeded(kube, namespace, "sturdy", operator)
    final = trainer_results(kube, namespace, "sturdy")[-1]
    assert final["resumedFromStep"] >= saved >= 20
    assert final["metrics"]["steps"] == 200
    # Both pods of the gang were replaced: the killed one (deleted with no grace, so gone from the API; its
    # replacement is the one pod of index 0), and its peer, whose next collective failed (kept as Failed).
    pods = pods_of(kube, namespace, "sturdy")
    by_index = {i: [p for p in pods if p["metadata"]["annotations"][COMPLETION_INDEX] == i] for i in ("0", "1")}
    assert [p["metadata"]["name"] for p in by_index["0"]] != [rank0["metadata"]["name"]] and len(by_index["0"]) == 1
    assert sorted(p["status"]["phase"] for p in by_index["1"]) == ["Failed", "Succeeded"], by_index["1"]
    assert done["failedAttempts"] == 2
    assert len(jobs_of(kube, namespace, "sturdy")) == 1
    assert len(models_of(kube, namespace, "sturdy")) == 1


def test_two_pods_each_train_on_half_and_their_adapter_loads_in_vllm(
        kube: KubeREST, namespace: str, operator: OperatorProcess, shared_storage: dict[str, Path],
        vllm: VLLMProcess) -> None:
    # The same job on one pod, beside it: the baseline for steps per epoch.
    kube.create(tj_path(namespace), by_epochs("alone"))
    kube.create(tj_path(namespace), by_epochs("pair", nodes=2))
    pair = succeeded(kube, namespace, "pair", operator)
    alone = succeeded(kube, namespace, "alone", operator)

    train = pair["datasetStats"]["trainExamples"]
    assert alone["datasetStats"] == pair["datasetStats"]
    assert alone["metrics"]["steps"] == expected_steps(train, 1)
    assert pair["metrics"]["steps"] == expected_steps(train, 2) <= (alone["metrics"]["steps"] + EPOCHS) // 2

    # One Indexed Job of two pods, addressed through the operator's headless Service, rank 0 in index 0.
    (job,) = jobs_of(kube, namespace, "pair")
    assert job["spec"]["completionMode"] == "Indexed" and job["spec"]["completions"] == 2
    service = kube.get(KubeREST.path_for("Service", namespace, job["metadata"]["name"]))
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    assert service["metadata"]["ownerReferences"][0]["uid"] == get_tj(kube, namespace, "pair")["metadata"]["uid"]
    pods = {p["metadata"]["annotations"][COMPLETION_INDEX]: p for p in pods_of(kube, namespace, "pair")}
    assert {p["spec"]["hostname"] for p in pods.values()} == {f"{job['metadata']['name']}-{i}" for i in (0, 1)}
    assert all(p["spec"]["subdomain"] == service["metadata"]["name"] for p in pods.values())
    # Rank 0 wrote the result; the other rank stayed quiet.
    assert [r["phase"] for r in trainer_results(kube, namespace, "pair")] == ["Succeeded"]
    assert len(models_of(kube, namespace, "pair")) == 1

    adapter = adapter_dir(kube, namespace, pair, shared_storage)
    assert_trained(adapter)
    assert_loads_in_vllm(vllm, "pair", adapter)


def test_one_pod_with_two_processes_trains_on_halves_and_its_adapter_loads_in_vllm(
        kube: KubeREST, namespace: str, operator: OperatorProcess, shared_storage: dict[str, Path],
        vllm: VLLMProcess) -> None:
    kube.create(tj_path(namespace), by_epochs("duo", processesPerNode=2))
    duo = succeeded(kube, namespace, "duo", operator)

    train = duo["datasetStats"]["trainExamples"]
    assert duo["metrics"]["steps"] == expected_steps(train, 2) < expected_steps(train, 1)
    (job,) = jobs_of(kube, namespace, "duo")
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--nproc-per-node") + 1] == "2"
    assert job["spec"].get("completionMode", "NonIndexed") == "NonIndexed" and len(pods_of(kube, namespace, "duo")) == 1
    assert len(models_of(kube, namespace, "duo")) == 1

    adapter = adapter_dir(kube, namespace, duo, shared_storage)
    assert_trained(adapter)
    assert_loads_in_vllm(vllm, "duo", adapter)
