"""training_phase.observe for a multi-node job (an Indexed Job of several pods): rank 0's pod (index 0) carries the
result and the progress address, a pod the scheduler cannot place holds the gang Queued, and the peers of a preempted
pod do not count as attempts."""

from __future__ import annotations

import json
from typing import Any

from kubetune.api.trainer import EXIT_GANG_STOPPED
from kubetune.builders.training import COMPLETION_INDEX
from kubetune.controllers.training_phase import holds_rank0, observe

Json = dict[str, Any]
T0 = "2026-03-01T10:00:00Z"
T1 = "2026-03-01T10:05:00Z"


def gang_job(nodes: int = 2, conditions: list[Json] | None = None, **status: Any) -> Json:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "support-bot-trainer", "namespace": "team-a", "uid": "j-1"},
            "spec": {"suspend": False, "completionMode": "Indexed", "completions": nodes, "parallelism": nodes,
                     "backoffLimit": 2 * nodes},
            "status": {**status, **({"conditions": conditions} if conditions else {})}}


def member(index: int, phase: str, created: str = T0, state: Json | None = None, ip: str | None = None,
           unschedulable: str | None = None) -> Json:
    body: Json = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"support-bot-trainer-{index}-x{created[-3:-1]}", "namespace": "team-a",
                     "creationTimestamp": created, "annotations": {COMPLETION_INDEX: str(index)},
                     "labels": {COMPLETION_INDEX: str(index), "kubetune.dev/trainingjob": "support-bot"}},
        "spec": {"hostname": f"support-bot-trainer-{index}", "subdomain": "support-bot-trainer",
                 "containers": [{"name": "trainer"}]},
        "status": {"phase": phase, "conditions": []},
    }
    if unschedulable:
        body["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                         "message": unschedulable}]
    if ip:
        body["status"]["podIP"] = ip
    if state is not None:
        body["status"]["containerStatuses"] = [{"name": "trainer", "state": state, "ready": phase == "Running",
                                                "restartCount": 0}]
    return body


def running() -> Json:
    return {"running": {"startedAt": T0}}


def terminated(code: int, message: str = "") -> Json:
    return {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error", "message": message,
                           "startedAt": T0, "finishedAt": T1}}


def condition(kind: str, reason: str = "") -> Json:
    return {"type": kind, "status": "True", "reason": reason, "message": "", "lastTransitionTime": T1}


def test_rank0_is_index_0_or_a_pod_without_an_index() -> None:
    assert holds_rank0(member(0, "Running"))
    assert not holds_rank0(member(1, "Running"))
    assert holds_rank0({"metadata": {"name": "single-pod"}})


def test_running_reports_rank0s_pod_and_address() -> None:
    pods = [member(1, "Running", created=T1, state=running(), ip="10.0.0.9"),
            member(0, "Running", created=T0, state=running(), ip="10.0.0.7")]
    obs = observe(gang_job(active=2), pods, suspend=False)
    assert (obs.phase, obs.reason) == ("Running", "Training")
    assert (obs.pod_name, obs.pod_ip) == (pods[1]["metadata"]["name"], "10.0.0.7")
    assert obs.message == f"2 of 2 pods are training, rank 0 in {pods[1]['metadata']['name']}"


def test_a_peer_that_cannot_be_scheduled_holds_the_gang_queued() -> None:
    why = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    pods = [member(0, "Running", state=running(), ip="10.0.0.7"), member(1, "Pending", unschedulable=why)]
    obs = observe(gang_job(active=2), pods, suspend=False)
    assert (obs.phase, obs.reason) == ("Queued", "Unschedulable")
    assert "of the 2 that train together cannot be scheduled" in obs.message and why in obs.message
    assert obs.pod_name == pods[1]["metadata"]["name"]


def test_success_reads_rank0s_result_not_a_peers() -> None:
    result = json.dumps({"phase": "Succeeded", "reason": "Completed", "message": "trained 30 steps",
                         "metrics": {"steps": 30}})
    pods = [member(0, "Succeeded", created=T0, state=terminated(0, result)),
            member(1, "Succeeded", created=T1, state=terminated(0))]  # newer, and silent
    obs = observe(gang_job(conditions=[condition("SuccessCriteriaMet"), condition("Complete")], succeeded=2),
                  pods, suspend=False)
    assert (obs.phase, obs.message) == ("Succeeded", "trained 30 steps")
    assert obs.result is not None and obs.result.metrics is not None and obs.result.metrics.steps == 30


def test_failure_reads_rank0s_result() -> None:
    result = json.dumps({"phase": "Failed", "reason": "TrainingError", "message": "RuntimeError: Connection closed "
                         "by peer"})
    pods = [member(0, "Failed", created=T0, state=terminated(1, result)),
            member(1, "Failed", created=T1, state=terminated(137, "Killed"))]
    obs = observe(gang_job(conditions=[condition("Failed", "BackoffLimitExceeded")], failed=2), pods, suspend=False)
    assert (obs.phase, obs.reason) == ("Failed", "BackoffLimitExceeded")
    assert "Connection closed by peer" in obs.message


def test_peers_stopped_with_a_preempted_pod_are_not_attempts() -> None:
    disrupted = member(1, "Failed", created=T0, state=terminated(143))
    disrupted["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True",
                                          "reason": "PreemptionByScheduler"}]
    peer = member(0, "Failed", created=T0, state=terminated(EXIT_GANG_STOPPED))
    crashed = member(1, "Failed", created=T1, state=terminated(137))
    # The Job has not counted the last failure yet when it turns FailureTarget; the pods are counted as its rules do.
    obs = observe(gang_job(conditions=[condition("FailureTarget", "BackoffLimitExceeded")], failed=0),
                  [disrupted, peer, crashed], suspend=False)
    # Only the crash is an attempt: the disrupted pod and the peer that stopped with it are ignored.
    assert obs.failed_attempts == 1
