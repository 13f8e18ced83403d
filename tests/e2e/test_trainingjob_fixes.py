"""Defects a review of the TrainingJob controller found, each shown fixed against the real control plane: a queued
job can still be edited, children are adopted by owner UID and not by name, a Job that cannot create its pod says why,
errors that keep happening reach the status with a backoff, and custom images need the administrator's allow-list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubetune_devcluster.kubeapi import ApiError, KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.waiting import wait_for

from .conftest import training_job
from .helpers import get_tj, jobs_of, models_of, pods_of, tj_path, wait_event, wait_phase

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
Json = dict[str, Any]


def condition(tj: Json, kind: str) -> Json:
    return {c["type"]: c for c in tj["status"].get("conditions") or []}.get(kind, {})


def test_a_queued_job_can_be_fixed_by_lowering_gpus_and_then_trains(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    # Defect 1: the Job controller sets Job.startTime before any pod is scheduled; copying it froze the spec of a job
    # that never trained, so the documented fix (lower resources.gpus) was refused by the API server.
    kube.create(tj_path(namespace), training_job("greedy", resources={"gpus": 8}))
    wait_for(lambda: "Insufficient" in (get_tj(kube, namespace, "greedy").get("status") or {}).get("message", ""),
             90, interval=0.2, what="the job to be Queued as unschedulable")
    queued = get_tj(kube, namespace, "greedy")["status"]
    assert (queued["phase"], queued["reason"]) == ("Queued", "Unschedulable")
    assert "startTime" not in queued, "nothing has trained yet"
    first_job = jobs_of(kube, namespace, "greedy")[0]["metadata"]["uid"]

    kube.patch(tj_path(namespace, "greedy"), {"spec": {"resources": {"gpus": 0}}})  # refused before the fix

    done = wait_phase(kube, namespace, "greedy", ("Succeeded", "Failed"), operator=operator, timeout=400)["status"]
    assert done["phase"] == "Succeeded", done
    jobs = jobs_of(kube, namespace, "greedy")
    assert len(jobs) == 1 and jobs[0]["metadata"]["uid"] != first_job, "the Job was replaced for the new spec"
    assert "nvidia.com/gpu" not in json.dumps(jobs[0]["spec"]["template"]["spec"]["containers"][0]["resources"])
    assert done["startTime"]
    # Once the trainer has run, the spec is frozen (except suspend).
    with pytest.raises(ApiError) as refused:
        kube.patch(tj_path(namespace, "greedy"), {"spec": {"resources": {"gpus": 1}}})
    assert refused.value.status == 422 and "immutable once training has started" in refused.value.message


def test_a_recreated_trainingjob_trains_again_instead_of_adopting_the_old_job(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    # Defect 2: children were found by name. A TrainingJob deleted and re-created under the same name before the
    # garbage collector ran adopted the old Complete Job: Succeeded without training, with a model whose path did not
    # exist. Orphan deletion leaves the old children in place, as a slow garbage collector would.
    kube.create(tj_path(namespace), training_job("again"))
    first = wait_phase(kube, namespace, "again", ("Succeeded", "Failed"), operator=operator, timeout=400)
    assert first["status"]["phase"] == "Succeeded", first["status"]
    old_uid = first["metadata"]["uid"]
    old_job = jobs_of(kube, namespace, "again")[0]["metadata"]["uid"]
    kube.delete(tj_path(namespace, "again"), {"kind": "DeleteOptions", "apiVersion": "v1",
                                              "propagationPolicy": "Orphan"})
    wait_for(lambda: kube.get_or_none(tj_path(namespace, "again")) is None, 30, what="the TrainingJob to go")
    assert [j["metadata"]["uid"] for j in jobs_of(kube, namespace, "again")] == [old_job], "left behind, Complete"

    kube.create(tj_path(namespace), training_job("again", hyperparameters={"maxSteps": 40}))
    second = wait_phase(kube, namespace, "again", ("Succeeded", "Failed"), operator=operator, timeout=400)
    status = second["status"]
    assert status["phase"] == "Succeeded", status
    assert second["metadata"]["uid"] != old_uid
    jobs = jobs_of(kube, namespace, "again")
    assert len(jobs) == 1 and jobs[0]["metadata"]["uid"] != old_job
    assert jobs[0]["metadata"]["ownerReferences"][0]["uid"] == second["metadata"]["uid"]
    assert status["metrics"]["steps"] == 40, "it trained with its own spec"
    configmap = kube.get(KubeREST.path_for("ConfigMap", namespace, "again-trainer"))
    assert configmap["metadata"]["ownerReferences"][0]["uid"] == second["metadata"]["uid"]
    # Its model points at an adapter that exists, under the new object's run directory.
    model = next(m for m in models_of(kube, namespace, "again") if m["metadata"]["name"] == status["modelRef"]["name"])
    path = model["spec"]["adapter"]["pvc"]["path"]
    assert second["metadata"]["uid"][:8] in path
    assert (storage["adapters"] / path / "adapter_config.json").exists()


def test_a_job_that_cannot_create_its_pod_says_why_and_recovers(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    # Defect 3: the Job controller's FailedCreate events were never read, leaving the job Queued/PodCreating forever.
    kube.create(tj_path(namespace), training_job("prio", resources={"gpus": 0, "priorityClassName": "batch-low"}))
    wait_for(lambda: (get_tj(kube, namespace, "prio").get("status") or {}).get("reason") == "FailedCreate", 120,
             interval=0.3, what="the job to report FailedCreate")
    status = get_tj(kube, namespace, "prio")["status"]
    assert status["phase"] == "Queued"
    assert "no PriorityClass with name batch-low was found" in status["message"], status["message"]
    assert pods_of(kube, namespace, "prio") == []

    kube.create("/apis/scheduling.k8s.io/v1/priorityclasses", {
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "batch-low"},
        "value": 100, "description": "training that serving may preempt"})
    try:
        done = wait_phase(kube, namespace, "prio", ("Succeeded", "Failed"), operator=operator, timeout=400)["status"]
        assert done["phase"] == "Succeeded", done
    finally:
        kube.delete("/apis/scheduling.k8s.io/v1/priorityclasses/batch-low")


def test_a_namespace_quota_that_needs_requests_accepts_training_pods(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    # Training pods without requests were refused by any ResourceQuota on cpu or memory; the operator now gives them
    # default requests (KUBETUNE_TRAINER_CPU_REQUEST / _MEMORY_REQUEST).
    kube.create(KubeREST.path_for("ResourceQuota", namespace, api_version="v1", plural="resourcequotas"), {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "compute"},
        "spec": {"hard": {"requests.cpu": "4", "requests.memory": "8Gi"}}})
    kube.create(tj_path(namespace), training_job("quota"))
    done = wait_phase(kube, namespace, "quota", ("Succeeded", "Failed"), operator=operator, timeout=400)["status"]
    assert done["phase"] == "Succeeded", done
    requests = jobs_of(kube, namespace, "quota")[0]["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert set(requests["requests"]) == {"cpu", "memory"}


def test_an_error_that_keeps_happening_reaches_the_status_and_retries_back_off(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    # Defect 3: a reconcile that raised was retried every 5 s forever with nothing on the object. A quota of zero
    # ConfigMaps makes creating the trainer's ConfigMap fail (403 exceeded quota) on every attempt.
    quota = KubeREST.path_for("ResourceQuota", namespace, api_version="v1", plural="resourcequotas")
    kube.create(quota, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "no-configmaps"},
                        "spec": {"hard": {"count/configmaps": "0"}}})
    wait_for(lambda: (kube.get(f"{quota}/no-configmaps").get("status") or {}).get("hard"), 30,
             what="the quota to be enforced")
    kube.create(tj_path(namespace), training_job("blocked"))

    def reported() -> Json | None:
        found = condition(get_tj(kube, namespace, "blocked"), "Reconciled")
        return found if found.get("status") == "False" else None

    shown = wait_for(reported, 120, interval=0.5, what="the error on the TrainingJob")
    assert shown["reason"] == "Forbidden"
    assert "exceeded quota" in shown["message"] and "configmaps" in shown["message"]
    wait_event(kube, namespace, "blocked", "TrainingJob",
               lambda e: e["reason"] == "ReconcileError" and e["type"] == "Warning")
    attempts = [line for line in operator.log_tail(200_000).splitlines()
                if f"{namespace}', 'blocked'" in line and "reconcile of TrainingJob" in line]
    delays = [float(line.split("retry in ")[1].split("s)")[0]) for line in attempts]
    assert delays == sorted(delays) and delays[-1] > delays[0], f"the retries back off: {delays}"

    kube.delete(f"{quota}/no-configmaps")
    done = wait_phase(kube, namespace, "blocked", ("Succeeded", "Failed"), operator=operator, timeout=400)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert condition(done, "Reconciled")["status"] == "True", "recovered"


def test_a_custom_image_needs_the_administrators_allow_list(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path]) -> None:
    # Defect 9: anyone who could create a TrainingJob could run any image with the namespace's Secrets and volumes.
    kube.create(tj_path(namespace), training_job("byo", image="docker.io/someone/anything:latest"))
    failed = wait_phase(kube, namespace, "byo", ("Failed", "Succeeded", "Running"), operator=operator)["status"]
    assert (failed["phase"], failed["reason"]) == ("Failed", "ImageNotAllowed"), failed
    assert "KUBETUNE_ALLOWED_IMAGES" in failed["message"]
    assert jobs_of(kube, namespace, "byo") == []
    # Removing spec.image (allowed: nothing has run) lets it train with the operator's image.
    kube.patch(tj_path(namespace, "byo"), {"spec": {"image": None}})
    done = wait_phase(kube, namespace, "byo", ("Succeeded",), operator=operator, timeout=400)["status"]
    assert done["phase"] == "Succeeded"
