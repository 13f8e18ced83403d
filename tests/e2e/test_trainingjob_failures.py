"""TrainingJobs that cannot train say why: bad data, too many GPUs, missing references."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess

from .conftest import create_claim, memorisation_rows, training_job
from .helpers import get_tj, jobs_of, pods_of, tj_path, wait_phase

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def test_invalid_dataset_fails_with_datasetinvalid_naming_lines_and_is_not_retried(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    rows = memorisation_rows(6)
    rows[1] = {"messages": [{"role": "user", "content": "hi"}, {"role": "wizard", "content": "hello"}]}
    rows[3] = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}
    rows[4] = {"messages": [{"role": "user", "content": "only a question"}]}
    kube.create(tj_path(namespace), training_job("bad-data", rows, backoffLimit=3))

    failed = wait_phase(kube, namespace, "bad-data", ("Failed", "Succeeded"), operator=operator)["status"]
    assert failed["phase"] == "Failed"
    assert failed["reason"] == "DatasetInvalid"
    for line in ("line 2", "line 4", "line 5"):
        assert line in failed["message"], failed["message"]
    assert "wizard" in failed["message"]
    # Permanent: the pod failure policy failed the Job on the first pod, despite backoffLimit 3.
    assert failed["failedAttempts"] == 1
    assert len(pods_of(kube, namespace, "bad-data")) == 1
    assert {c["type"]: c["status"] for c in failed["conditions"]}["Failed"] == "True"


def test_more_gpus_than_the_node_has_stays_queued_with_the_schedulers_reason(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    kube.create(tj_path(namespace), training_job("greedy", resources={"gpus": 8}))

    queued = wait_phase(kube, namespace, "greedy", ("Queued",), operator=operator, timeout=60)["status"]
    deadline = time.monotonic() + 10
    while "Insufficient" not in queued.get("message", "") and time.monotonic() < deadline:
        time.sleep(0.2)
        queued = get_tj(kube, namespace, "greedy")["status"]
    assert queued["reason"] == "Unschedulable"
    assert "Insufficient nvidia.com/gpu" in queued["message"]
    time.sleep(3)  # and it stays there
    assert get_tj(kube, namespace, "greedy")["status"]["phase"] == "Queued"
    assert [p["status"]["phase"] for p in pods_of(kube, namespace, "greedy")] == ["Pending"]


def test_missing_claim_keeps_the_job_pending_until_it_appears(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    manifest = training_job("waits", output={"modelName": "waits", "storage": {"pvc": {"claimName": "later"}}})
    kube.create(tj_path(namespace), manifest)

    pending = wait_phase(kube, namespace, "waits", ("Pending",), operator=operator, timeout=60)["status"]
    assert pending["reason"] == "PersistentVolumeClaimNotFound"
    assert "spec.output.storage.pvc.claimName" in pending["message"] and "later" in pending["message"]
    validated = {c["type"]: c for c in pending["conditions"]}["Validated"]
    assert (validated["status"], validated["reason"]) == ("False", "PersistentVolumeClaimNotFound")
    assert jobs_of(kube, namespace, "waits") == []

    create_claim(kube, namespace, "later")
    done = wait_phase(kube, namespace, "waits", ("Succeeded", "Failed"), operator=operator)["status"]
    assert done["phase"] == "Succeeded", done
