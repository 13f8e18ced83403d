"""build_training_job and build_rendezvous_service for several processes: torchrun in one pod, an Indexed Job of
several pods behind a headless Service with Kubeflow Trainer's PET_* variables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from builder_inputs import UID

from kubetune.api import TrainingJob
from kubetune.api.trainer import EXIT_CONFIG_INVALID, EXIT_DATASET_INVALID, EXIT_GANG_STOPPED
from kubetune.builders.naming import TRAININGJOB_UID
from kubetune.builders.training import (
    COMPLETION_INDEX,
    UnsupportedSpec,
    build_rendezvous_service,
    build_trainer_configmap,
    build_training_job,
    trainer_name,
)
from kubetune.settings import OperatorSettings

Make = Callable[..., TrainingJob]
Json = dict[str, Any]
CONFIG = "/etc/kubetune/job.json"


def trainer(job: Json) -> Json:
    (only,) = job["spec"]["template"]["spec"]["containers"]
    return dict(only)


def env(job: Json) -> dict[str, Json]:
    return {e["name"]: e for e in trainer(job)["env"]}


def ignored_exit_codes(job: Json) -> list[int]:
    return [code for rule in job["spec"]["podFailurePolicy"]["rules"] if rule["action"] == "Ignore"
            and "onExitCodes" in rule for code in rule["onExitCodes"]["values"]]


def test_one_process_is_the_plain_trainer(trainingjob: Make, settings: OperatorSettings) -> None:
    job = build_training_job(trainingjob(resources={"gpus": 1}), settings)
    assert trainer(job)["command"] == ["/opt/venv/bin/python", "-m", "kubetune.training", "--config", CONFIG]
    assert not any(name.startswith("PET_") for name in env(job))
    spec = job["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 2)
    assert "completionMode" not in spec and "successPolicy" not in spec
    assert "subdomain" not in spec["template"]["spec"]
    assert ignored_exit_codes(job) == []


@pytest.mark.parametrize(("resources", "processes"), [
    ({"gpus": 4}, 4),  # one process per GPU by default
    ({"gpus": 4, "processesPerNode": 2}, 2),
    ({"gpus": 0, "processesPerNode": 2}, 2),  # CPU: as many as asked
])
def test_several_processes_in_one_pod_run_under_torchrun(trainingjob: Make, settings: OperatorSettings,
                                                         resources: Json, processes: int) -> None:
    job = build_training_job(trainingjob(resources=resources), settings)
    assert trainer(job)["command"] == [
        "/opt/venv/bin/python", "-m", "kubetune.training.torchrun", "--standalone", "--nnodes", "1",
        "--nproc-per-node", str(processes), "-m", "kubetune.training", "--config", CONFIG]
    spec = job["spec"]
    # The same Job as for one process: one pod, no index, no Service.
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 2)
    assert "completionMode" not in spec and "subdomain" not in spec["template"]["spec"]
    assert ignored_exit_codes(job) == [EXIT_GANG_STOPPED]
    gpus = trainer(job)["resources"].get("limits", {}).get("nvidia.com/gpu")
    assert gpus == (str(resources["gpus"]) if resources["gpus"] else None)


def test_several_pods_form_an_indexed_job_with_kubeflow_variables(trainingjob: Make,
                                                                   settings: OperatorSettings) -> None:
    tj = trainingjob(name="support-bot", resources={"gpus": 8, "nodes": 3}, backoffLimit=2)
    job = build_training_job(tj, settings)
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 3
    assert spec["successPolicy"] == {"rules": [{"succeededIndexes": "0"}]}
    # One gang restart fails every pod once: the Job's budget is backoffLimit restarts of all three.
    assert spec["backoffLimit"] == 6
    assert spec["podReplacementPolicy"] == "Failed"
    assert spec["template"]["spec"]["subdomain"] == "support-bot-trainer"
    assert trainer(job)["command"] == ["/opt/venv/bin/python", "-m", "kubetune.training.torchrun", "-m",
                                       "kubetune.training", "--config", CONFIG]
    variables = env(job)
    assert variables["PET_NNODES"]["value"] == "3"
    assert variables["PET_NPROC_PER_NODE"]["value"] == "8"
    assert variables["PET_NODE_RANK"]["valueFrom"] == {"fieldRef": {
        "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}
    assert variables["PET_MASTER_ADDR"]["value"] == "support-bot-trainer-0.support-bot-trainer"
    assert variables["PET_MASTER_PORT"]["value"] == str(settings.rendezvous_port) == "29400"
    assert {"name": "rendezvous", "containerPort": 29400} in trainer(job)["ports"]
    assert trainer(job)["resources"]["limits"]["nvidia.com/gpu"] == "8"  # per pod


def test_a_gang_keeps_the_failure_policy_and_ignores_peers_of_a_preempted_pod(trainingjob: Make,
                                                                                settings: OperatorSettings) -> None:
    rules = build_training_job(trainingjob(resources={"gpus": 1, "nodes": 2}), settings)["spec"]["podFailurePolicy"][
        "rules"]
    assert rules[0]["action"] == "FailJob"
    assert rules[0]["onExitCodes"]["values"] == [EXIT_DATASET_INVALID, EXIT_CONFIG_INVALID]
    assert {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]} in rules
    assert rules[-1] == {"action": "Ignore", "onExitCodes": {"containerName": "trainer", "operator": "In",
                                                             "values": [EXIT_GANG_STOPPED]}}


def test_kueue_sees_the_whole_gang(trainingjob: Make, settings: OperatorSettings) -> None:
    tj = trainingjob(resources={"gpus": 2, "nodes": 4}, labels={"kueue.x-k8s.io/queue-name": "gpus"})
    job = build_training_job(tj, settings)
    # Kueue admits a Job's parallelism as one workload: four pods of two GPUs, all or none.
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpus"
    assert job["spec"]["parallelism"] == 4 and job["spec"]["suspend"] is False


def test_the_rendezvous_service_is_headless_owned_and_selects_this_jobs_pods(trainingjob: Make,
                                                                              settings: OperatorSettings) -> None:
    tj = trainingjob(name="support-bot", namespace="team-a", resources={"gpus": 1, "nodes": 2})
    service = build_rendezvous_service(tj, settings)
    assert service["metadata"]["name"] == trainer_name(tj) == "support-bot-trainer"
    assert service["metadata"]["namespace"] == "team-a"
    (owner,) = service["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("TrainingJob", UID, True)
    spec = service["spec"]
    assert spec["clusterIP"] == "None" and spec["publishNotReadyAddresses"] is True
    assert spec["selector"] == {TRAININGJOB_UID: UID}
    assert spec["selector"].items() <= build_training_job(tj, settings)["spec"]["template"]["metadata"][
        "labels"].items()


def test_the_trainer_config_does_not_change_with_the_number_of_processes(trainingjob: Make,
                                                                           settings: OperatorSettings) -> None:
    # The trainer learns its rank from torchrun, not from the config: one config for every rank.
    one = build_trainer_configmap(trainingjob(resources={"gpus": 1}), settings)["data"]
    many = build_trainer_configmap(trainingjob(resources={"gpus": 1, "nodes": 4}), settings)["data"]
    assert one == many


def test_a_name_too_long_for_the_pods_hostnames_is_unsupported(trainingjob: Make, settings: OperatorSettings) -> None:
    # The API server refuses it (GANG_NAME_RULE); a body that bypassed it is refused here rather than create a Job
    # whose pods can never be created.
    body = trainingjob(name="a" * 40, resources={"gpus": 1, "nodes": 2})
    body.metadata.name = "a" * 56
    with pytest.raises(UnsupportedSpec, match="hostnames"):
        build_training_job(body, settings)
