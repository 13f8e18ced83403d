"""build_training_job: the batch/v1 Job that runs the training pod."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from builder_inputs import UID

from kubetune.api import TrainingJob
from kubetune.api.trainer import EXIT_CONFIG_INVALID, EXIT_DATASET_INVALID
from kubetune.builders.naming import MANAGED_BY, TRAININGJOB, TRAININGJOB_UID
from kubetune.builders.training import UnsupportedSpec, build_training_job, trainer_name
from kubetune.settings import OperatorSettings

Make = Callable[..., TrainingJob]
Json = dict[str, Any]


def pod_spec(job: Json) -> Json:
    return job["spec"]["template"]["spec"]


def container(job: Json) -> Json:
    (only,) = pod_spec(job)["containers"]
    assert only["name"] == "trainer"
    return only


def volumes(job: Json) -> dict[str, Json]:
    return {v["name"]: v for v in pod_spec(job)["volumes"]}


def mounts(job: Json) -> dict[str, Json]:
    return {m["name"]: m for m in container(job)["volumeMounts"]}


def test_identity_labels_and_owner(trainingjob: Make, settings: OperatorSettings) -> None:
    tj = trainingjob(name="support-bot", namespace="team-a")
    job = build_training_job(tj, settings)
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    meta = job["metadata"]
    assert (meta["name"], meta["namespace"]) == ("support-bot-trainer", "team-a")
    assert meta["name"] == trainer_name(tj)
    # The operator's watches select children by these labels; the pods carry them too.
    for labels in (meta["labels"], job["spec"]["template"]["metadata"]["labels"]):
        assert labels[MANAGED_BY] == "kubetune"
        assert labels[TRAININGJOB] == "support-bot"
        assert labels[TRAININGJOB_UID] == UID
    (owner,) = meta["ownerReferences"]
    assert owner == {"apiVersion": "kubetune.dev/v1alpha1", "kind": "TrainingJob", "name": "support-bot", "uid": UID,
                     "controller": True, "blockOwnerDeletion": True}


def test_same_spec_same_job(trainingjob: Make, settings: OperatorSettings) -> None:
    assert build_training_job(trainingjob(), settings) == build_training_job(trainingjob(), settings)


@pytest.mark.parametrize("name", ["a" * 63, "b" * 40 + "." + "c" * 22, "x" * 45 + ".y" + "z" * 16])
def test_long_names_stay_valid(trainingjob: Make, settings: OperatorSettings, name: str) -> None:
    job = build_training_job(trainingjob(name=name), settings)
    job_name = job["metadata"]["name"]
    assert len(job_name) <= 63
    assert job_name.endswith("-trainer")
    # A DNS-1123 subdomain: no segment may start or end with '-' (a truncation at a '.' must not leave ".-").
    assert all(seg and seg[0].isalnum() and seg[-1].isalnum() for seg in job_name.split("."))
    assert all(len(v) <= 63 for v in job["metadata"]["labels"].values())
    assert build_training_job(trainingjob(name=name), settings)["metadata"]["name"] == job_name


def test_long_names_sharing_a_prefix_get_different_jobs(trainingjob: Make, settings: OperatorSettings) -> None:
    a = build_training_job(trainingjob(name="p" * 60 + "aaa"), settings)["metadata"]["name"]
    b = build_training_job(trainingjob(name="p" * 60 + "bbb"), settings)["metadata"]["name"]
    assert a != b


def test_name_too_long_for_a_label_is_refused(trainingjob: Make, settings: OperatorSettings) -> None:
    # The TrainingJob's name is the value of the kubetune.dev/trainingjob label on its Job and pods, and label values
    # stop at 63 characters: the API server would refuse the Job on every retry.
    with pytest.raises(UnsupportedSpec, match="63"):
        build_training_job(trainingjob(name="n" * 64), settings)


@pytest.mark.parametrize(("gpus", "resource_name", "expected"), [
    (0, None, None),
    (1, None, ("nvidia.com/gpu", "1")),
    (4, "amd.com/gpu", ("amd.com/gpu", "4")),
    (8, "gpu.intel.com/i915", ("gpu.intel.com/i915", "8")),
])
def test_gpus(trainingjob: Make, settings: OperatorSettings, gpus: int, resource_name: str | None,
              expected: tuple[str, str] | None) -> None:
    resources: Json = {"gpus": gpus}
    if resource_name:
        resources["gpuResourceName"] = resource_name
    res = container(build_training_job(trainingjob(resources=resources), settings))["resources"]
    limits = res.get("limits", {})
    gpu_keys = [k for k in limits if "gpu" in k]
    if expected is None:
        assert gpu_keys == []
    else:
        # Extended resources are requested through limits (the API server copies them to requests).
        assert gpu_keys == [expected[0]]
        assert limits[expected[0]] == expected[1]


@pytest.mark.parametrize(("cpu", "memory"), [(8, "48Gi"), ("500m", None), (None, "512Mi"), (None, None)])
def test_cpu_and_memory_are_requests_and_limits(trainingjob: Make, settings: OperatorSettings, cpu: Any,
                                                memory: str | None) -> None:
    resources: Json = {"gpus": 0}
    if cpu is not None:
        resources["cpu"] = cpu
    if memory is not None:
        resources["memory"] = memory
    res = container(build_training_job(trainingjob(resources=resources), settings))["resources"]
    defaults = {"cpu": settings.trainer_cpu_request, "memory": settings.trainer_memory_request}
    for key, value in (("cpu", cpu), ("memory", memory)):
        if value is None:
            # Always a request, from the operator's defaults (a ResourceQuota refuses pods without one), no limit.
            assert res["requests"][key] == defaults[key]
            assert key not in res.get("limits", {})
        else:
            # Equal requests and limits: the pod is Guaranteed for what it asks, so it is not the first evicted.
            assert res["requests"][key] == res["limits"][key] == str(value)


def test_default_requests_come_from_the_operator_settings(trainingjob: Make) -> None:
    settings = OperatorSettings(trainer_cpu_request="250m", trainer_memory_request="3Gi")
    res = container(build_training_job(trainingjob(resources={"gpus": 0}), settings))["resources"]
    assert res == {"requests": {"cpu": "250m", "memory": "3Gi"}}


def test_placement(trainingjob: Make, settings: OperatorSettings) -> None:
    tj = trainingjob(resources={
        "gpus": 1, "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "priorityClassName": "training-low"})
    spec = pod_spec(build_training_job(tj, settings))
    assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert spec["priorityClassName"] == "training-low"


def test_no_placement_fields_when_unset(trainingjob: Make, settings: OperatorSettings) -> None:
    spec = pod_spec(build_training_job(trainingjob(), settings))
    assert not {"nodeSelector", "tolerations", "priorityClassName"} & spec.keys()


@pytest.mark.parametrize("suspend", [True, False])
def test_suspend(trainingjob: Make, settings: OperatorSettings, suspend: bool) -> None:
    assert build_training_job(trainingjob(suspend=suspend), settings)["spec"]["suspend"] is suspend


@pytest.mark.parametrize("deadline", [None, 1, 86400])
def test_active_deadline(trainingjob: Make, settings: OperatorSettings, deadline: int | None) -> None:
    extra = {} if deadline is None else {"activeDeadlineSeconds": deadline}
    spec = build_training_job(trainingjob(**extra), settings)["spec"]
    assert spec.get("activeDeadlineSeconds") == deadline


@pytest.mark.parametrize("backoff", [0, 2, 10])
def test_backoff_limit_one_pod_at_a_time(trainingjob: Make, settings: OperatorSettings, backoff: int) -> None:
    spec = build_training_job(trainingjob(backoffLimit=backoff), settings)["spec"]
    assert spec["backoffLimit"] == backoff
    assert (spec["completions"], spec["parallelism"]) == (1, 1)
    # A replacement starts only once the old pod has stopped: two pods never write the same checkpoints.
    assert spec["podReplacementPolicy"] == "Failed"
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_pod_failure_policy(trainingjob: Make, settings: OperatorSettings) -> None:
    rules = build_training_job(trainingjob(), settings)["spec"]["podFailurePolicy"]["rules"]
    fail_job = [r for r in rules if r["action"] == "FailJob"]
    ignore = [r for r in rules if r["action"] == "Ignore"]
    assert len(fail_job) == 1 and len(ignore) == 1
    codes = fail_job[0]["onExitCodes"]
    assert codes["containerName"] == "trainer" and codes["operator"] == "In"
    assert sorted(codes["values"]) == [3, 4] == sorted([EXIT_DATASET_INVALID, EXIT_CONFIG_INVALID])
    assert ignore[0]["onPodConditions"] == [{"type": "DisruptionTarget", "status": "True"}]
    # The rules are evaluated in order; FailJob on data errors must win over anything after it.
    assert rules.index(fail_job[0]) < rules.index(ignore[0])


def test_kueue_labels_pass_through_to_the_job(trainingjob: Make, settings: OperatorSettings) -> None:
    tj = trainingjob(labels={"kueue.x-k8s.io/queue-name": "gpu-queue", "kueue.x-k8s.io/priority-class": "low",
                             "app.kubernetes.io/name": "support-bot"})
    labels = build_training_job(tj, settings)["metadata"]["labels"]
    assert labels["kueue.x-k8s.io/queue-name"] == "gpu-queue"
    assert labels["kueue.x-k8s.io/priority-class"] == "low"
    assert "app.kubernetes.io/name" not in labels  # only queueing labels, not the user's own


def test_restricted_security(trainingjob: Make, settings: OperatorSettings) -> None:
    job = build_training_job(trainingjob(), settings)
    spec = pod_spec(job)
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False
    pod_sc = spec["securityContext"]
    assert pod_sc["runAsNonRoot"] is True
    assert (pod_sc["runAsUser"], pod_sc["runAsGroup"], pod_sc["fsGroup"]) == (1234, 1234, 1234)
    assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container(job)["securityContext"]
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["runAsNonRoot"] is True


def test_container_runs_the_trainer(trainingjob: Make, settings: OperatorSettings) -> None:
    c = container(build_training_job(trainingjob(), settings))
    assert c["image"] == "registry.example/kubetune/trainer:1.2.3"
    assert c["command"] == ["/opt/venv/bin/python", "-m", "kubetune.training", "--config", "/etc/kubetune/job.json"]
    assert c["ports"] == [{"name": "progress", "containerPort": 8181}]
    assert c["terminationMessagePath"] == "/dev/termination-log"
    env = {e["name"]: e for e in c["env"]}
    # The trainer binds its progress endpoint to the pod IP (the test node gives each pod its own loopback address).
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}


def test_spec_image_wins(trainingjob: Make, settings: OperatorSettings) -> None:
    c = container(build_training_job(trainingjob(image="registry.example/custom:9"), settings))
    assert c["image"] == "registry.example/custom:9"


def test_config_and_output_volumes(trainingjob: Make, settings: OperatorSettings) -> None:
    tj = trainingjob()
    job = build_training_job(tj, settings)
    vols, mnts = volumes(job), mounts(job)
    assert vols["config"] == {"name": "config", "configMap": {"name": trainer_name(tj)}}
    assert mnts["config"]["mountPath"] == "/etc/kubetune" and mnts["config"]["readOnly"] is True
    assert vols["output"]["persistentVolumeClaim"] == {"claimName": "adapters"}
    assert mnts["output"]["mountPath"] == "/output" and not mnts["output"].get("readOnly")
    assert "emptyDir" in vols["tmp"] and mnts["tmp"]["mountPath"] == "/tmp"
    assert set(mnts) <= set(vols)


@pytest.mark.parametrize(("source", "sub_path"), [
    ({"pvc": {"claimName": "models", "path": "gemma-3-12b-it"}}, "gemma-3-12b-it"),
    ({"pvc": {"claimName": "models"}}, None),
])
def test_base_model_on_a_claim(trainingjob: Make, settings: OperatorSettings, source: Json,
                               sub_path: str | None) -> None:
    job = build_training_job(trainingjob(baseModel={"name": "google/gemma-3-12b-it", "source": source}), settings)
    assert volumes(job)["base-model"]["persistentVolumeClaim"] == {"claimName": "models", "readOnly": True}
    mount = mounts(job)["base-model"]
    assert mount["mountPath"] == "/models/base" and mount["readOnly"] is True
    assert mount.get("subPath") == sub_path


def test_base_model_from_the_hub_is_downloaded_into_tmp(trainingjob: Make, settings: OperatorSettings) -> None:
    tj = trainingjob(baseModel={"name": "google/gemma-3-12b-it", "source": {"uri": "hf://google/gemma-3-12b-it"}})
    job = build_training_job(tj, settings)
    assert "base-model" not in volumes(job)
    # The snapshot lands in the pod's /tmp emptyDir, beside the Hub cache HF_HOME points at.
    assert volumes(job)["tmp"] == {"name": "tmp", "emptyDir": {}} and mounts(job)["tmp"]["mountPath"] == "/tmp"
    env = {e["name"]: e for e in container(job)["env"]}
    assert env["HF_HOME"]["value"] == "/tmp/hf"
    assert "HF_TOKEN" not in env  # no tokenSecretRef: the download sends no token


def test_hub_token_reaches_the_pod_only_from_its_secret(trainingjob: Make, settings: OperatorSettings) -> None:
    source = {"uri": "hf://org/private@v2", "tokenSecretRef": {"name": "hf-token", "key": "token"}}
    job = build_training_job(trainingjob(baseModel={"name": "org/private", "source": source}), settings)
    env = {e["name"]: e for e in container(job)["env"]}
    assert env["HF_TOKEN"] == {"name": "HF_TOKEN",
                               "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}}
    assert "value" not in env["HF_TOKEN"]


@pytest.mark.parametrize(("source", "volume"), [
    ({"inline": [{"text": "hello"}]}, None),
    ({"configMap": {"name": "rows", "key": "train.jsonl"}},
     {"configMap": {"name": "rows", "items": [{"key": "train.jsonl", "path": "dataset.jsonl"}]}}),
    ({"pvc": {"claimName": "data", "path": "sets/train.jsonl"}},
     {"persistentVolumeClaim": {"claimName": "data", "readOnly": True}}),
    ({"uri": "https://data.example/train.jsonl"}, None),
    ({"postgres": {"secretRef": {"name": "appdb", "key": "url"}, "query": "select 1"}}, None),
])
def test_dataset_volume(trainingjob: Make, settings: OperatorSettings, source: Json, volume: Json | None) -> None:
    job = build_training_job(trainingjob(dataset={"format": "text", "source": source}), settings)
    if volume is None:
        assert "dataset" not in volumes(job)
    else:
        assert {k: v for k, v in volumes(job)["dataset"].items() if k != "name"} == volume
        assert mounts(job)["dataset"] == {"name": "dataset", "mountPath": "/data", "readOnly": True}


def test_postgres_url_comes_from_the_secret(trainingjob: Make, settings: OperatorSettings) -> None:
    tj = trainingjob(dataset={"format": "prompt-completion", "source": {"postgres": {
        "secretRef": {"name": "appdb", "key": "url"}, "query": "select prompt, answer from t"}}})
    env = {e["name"]: e for e in container(build_training_job(tj, settings))["env"]}
    assert env["KUBETUNE_DATABASE_URL"] == {
        "name": "KUBETUNE_DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "appdb", "key": "url"}}}


def test_other_sources_get_no_database_env(trainingjob: Make, settings: OperatorSettings) -> None:
    env = {e["name"] for e in container(build_training_job(trainingjob(), settings))["env"]}
    assert "KUBETUNE_DATABASE_URL" not in env
