"""TrainingJob from `kubectl apply` to a trained adapter: the real operator, Job controller, node and trainer."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.waiting import wait_for

from .conftest import training_job
from .helpers import ftm_path, get_tj, tj_path, wait_event, wait_phase

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
def test_trainingjob_trains_reports_progress_and_registers_a_model(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    manifest = training_job("support-bot", hyperparameters={"maxSteps": 300}, resources={"gpus": 1})
    kube.create(tj_path(namespace), manifest)

    # A Job runs the trainer; while it trains, status.progress moves.
    running = wait_phase(kube, namespace, "support-bot", ("Running", "Succeeded", "Failed"), operator=operator)
    job = kube.get(KubeREST.path_for("Job", namespace, running["status"]["jobName"]))
    assert job["metadata"]["ownerReferences"][0]["name"] == "support-bot"
    pod_spec = job["spec"]["template"]["spec"]
    assert pod_spec["automountServiceAccountToken"] is False
    assert pod_spec["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    seen_steps: set[int] = set()

    def progressed() -> bool:
        tj = get_tj(kube, namespace, "support-bot")
        step = (tj.get("status", {}).get("progress") or {}).get("step")
        if step is not None and tj["status"]["phase"] == "Running":
            seen_steps.add(step)
        return len(seen_steps) >= 2 or tj["status"]["phase"] in ("Succeeded", "Failed")

    wait_for(progressed, 240, interval=0.2, what="progress to change while running")
    done = wait_phase(kube, namespace, "support-bot", ("Succeeded", "Failed"), operator=operator)
    status = done["status"]
    assert status["phase"] == "Succeeded", json.dumps(status, indent=1)
    assert len(seen_steps) >= 2, f"progress did not move while running: {seen_steps}"
    assert status["progress"]["percent"] == 100.0
    assert status["metrics"]["steps"] == 300
    assert status["datasetStats"]["examples"] == 24
    assert status["startTime"] and status["completionTime"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Succeeded"]["status"] == "True"
    assert all(c["observedGeneration"] == done["metadata"]["generation"] for c in status["conditions"])

    # One FineTunedModel, versioned, pointing at the adapter the trainer wrote, with the training metrics.
    model_name = status["modelRef"]["name"]
    assert model_name == "support-bot-v1"
    ftm = kube.get(ftm_path(namespace, model_name))
    assert ftm["spec"]["servedName"] == "support-bot-v1"
    assert ftm["spec"]["baseModel"]["name"] == "tiny-llama"
    assert ftm["metadata"]["labels"]["kubetune.dev/trainingjob"] == "support-bot"
    assert "ownerReferences" not in ftm["metadata"]
    adapter = ftm["spec"]["adapter"]["pvc"]
    assert adapter["claimName"] == "adapters"
    adapter_dir = storage["adapters"] / adapter["path"]
    assert (adapter_dir / "adapter_model.safetensors").exists()
    assert json.loads((adapter_dir / "adapter_config.json").read_text())["base_model_name_or_path"] == "tiny-llama"
    assert ftm["spec"]["origin"]["metrics"]["steps"] == 300
    assert ftm["spec"]["origin"]["metrics"]["trainLoss"] < 5.0

    wait_event(kube, namespace, "support-bot", "TrainingJob", lambda e: e["reason"] == "Training")
    wait_event(kube, namespace, "support-bot", "TrainingJob", lambda e: e["reason"] == "Completed")
    # The operator's own metrics count the transitions it made.
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    assert 'kubetune_phase_transitions_total{kind="TrainingJob",phase="Succeeded"}' in metrics
    # The operator created the Job exactly once (every other reconcile found it), and kopf wrote nothing onto the
    # TrainingJob: no last-handled-configuration annotation for GitOps tools to see as drift.
    created = f"created Job {namespace}/{done['status']['jobName']} for TrainingJob support-bot"
    assert operator.log_path.read_text().count(created) == 1
    assert not any(k.startswith("kubetune.dev/") for k in done["metadata"].get("annotations") or {})


def test_finished_job_is_deleted_after_its_ttl_and_its_model_stays(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    kube.create(tj_path(namespace), training_job("short-lived", hyperparameters={"maxSteps": 10},
                                                 ttlSecondsAfterFinished=3))
    done = wait_phase(kube, namespace, "short-lived", ("Succeeded", "Failed"), operator=operator)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    wait_for(lambda: kube.get_or_none(tj_path(namespace, "short-lived")) is None, 60,
             what="the TrainingJob to expire")
    assert kube.get(ftm_path(namespace, done["status"]["modelRef"]["name"]))["spec"]["origin"]["trainingJob"] == \
        "short-lived"
