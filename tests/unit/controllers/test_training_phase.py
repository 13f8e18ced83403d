"""training_phase.observe: a TrainingJob's phase, reason and message from its Job and pods, shaped as the API
server returns them (batch/v1 Job status, core/v1 Pod status)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubetune.controllers.training_phase import observe

Json = dict[str, Any]
T0 = "2026-03-01T10:00:00Z"
T1 = "2026-03-01T10:05:00Z"


def job(conditions: list[Json] | None = None, suspend: bool = False, **status: Any) -> Json:
    body: Json = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "support-bot-trainer", "namespace": "team-a", "uid": "j-1"},
        "spec": {"suspend": suspend, "backoffLimit": 2, "completions": 1, "parallelism": 1},
        "status": dict(status),
    }
    if conditions:
        body["status"]["conditions"] = conditions
    return body


def condition(kind: str, reason: str = "", message: str = "", at: str = T1) -> Json:
    return {"type": kind, "status": "True", "reason": reason, "message": message, "lastProbeTime": at,
            "lastTransitionTime": at}


def pod(name: str, phase: str, created: str = T0, ip: str | None = None, state: Json | None = None,
        conditions: list[Json] | None = None, memory: str | None = None, deleting: bool = False) -> Json:
    body: Json = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "team-a", "creationTimestamp": created,
                     "labels": {"kubetune.dev/trainingjob": "support-bot", "job-name": "support-bot-trainer"}},
        "spec": {"containers": [{"name": "trainer", "resources": {"limits": {"memory": memory}} if memory else {}}]},
        "status": {"phase": phase, "conditions": conditions or []},
    }
    if deleting:
        body["metadata"]["deletionTimestamp"] = T1
    if ip:
        body["status"]["podIP"] = ip
        body["status"]["podIPs"] = [{"ip": ip}]
    if state is not None:
        body["status"]["containerStatuses"] = [{"name": "trainer", "state": state, "ready": phase == "Running",
                                                "restartCount": 0, "image": "kubetune/trainer:test"}]
    return body


def terminated(exit_code: int, message: str = "", reason: str = "Error") -> Json:
    return {"terminated": {"exitCode": exit_code, "reason": reason, "message": message, "startedAt": T0,
                           "finishedAt": T1, "containerID": "process://1"}}


def result(phase: str, reason: str, message: str = "", **extra: Any) -> str:
    return json.dumps({"phase": phase, "reason": reason, "message": message, **extra})


DATASET_ERRORS = [f"line {n}: messages[1].content: must not be empty" for n in (3, 7, 8, 12, 20, 31, 40)]


def test_no_job_yet() -> None:
    obs = observe(None, [], suspend=False)
    assert (obs.phase, obs.reason) == ("Pending", "JobNotCreated")


def test_succeeded_reads_the_result() -> None:
    message = result("Succeeded", "Completed", "trained 60 steps, loss 0.31",
                     metrics={"trainLoss": 0.31, "steps": 60}, datasetStats={"examples": 24, "rejected": 0})
    obs = observe(job([condition("SuccessCriteriaMet", "CompletionsReached", at=T1),
                       condition("Complete", "CompletionsReached", at=T1)],
                      succeeded=1, startTime=T0, completionTime=T1),
                  [pod("p-1", "Succeeded", state=terminated(0, message, "Completed"))], suspend=False)
    assert (obs.phase, obs.reason, obs.message) == ("Succeeded", "Completed", "trained 60 steps, loss 0.31")
    assert obs.finished
    assert obs.result is not None and obs.result.metrics is not None
    assert (obs.result.metrics.train_loss, obs.result.metrics.steps) == (0.31, 60)
    assert (obs.start_time, obs.completion_time) == (T0, T1)


def test_succeeded_after_the_pods_are_gone() -> None:
    obs = observe(job([condition("Complete")], succeeded=1, completionTime=T1), [], suspend=False)
    assert (obs.phase, obs.result) == ("Succeeded", None)
    assert obs.message


def test_dataset_invalid_names_the_first_lines() -> None:
    message = result("Failed", "DatasetInvalid", "7 of 40 rows are invalid (17.5%), more than maxRejectedFraction 0.01",
                     errors=DATASET_ERRORS, datasetStats={"examples": 33, "rejected": 7})
    failed_pod = pod("p-1", "Failed", state=terminated(3, message))
    obs = observe(job([condition("FailureTarget", "PodFailurePolicy", "Container trainer for pod team-a/p-1 failed "
                                 "with exit code 3 matching FailJob rule at index 0"),
                       condition("Failed", "PodFailurePolicy", "Container trainer for pod team-a/p-1 failed with "
                                 "exit code 3 matching FailJob rule at index 0")], failed=1, startTime=T0),
                  [failed_pod], suspend=False)
    assert (obs.phase, obs.reason) == ("Failed", "DatasetInvalid")
    assert obs.message.startswith("7 of 40 rows are invalid")
    # The first five errors, in order; the rest are left to the pod's log.
    for line in DATASET_ERRORS[:5]:
        assert line in obs.message
    assert DATASET_ERRORS[5] not in obs.message
    assert obs.message.index("line 3:") < obs.message.index("line 7:")
    assert obs.result is not None and obs.result.dataset_stats is not None
    assert obs.result.dataset_stats.rejected == 7


def test_config_invalid() -> None:
    message = result("Failed", "ConfigInvalid", "method qlora needs a CUDA GPU")
    obs = observe(job([condition("Failed", "PodFailurePolicy")], failed=1),
                  [pod("p-1", "Failed", state=terminated(4, message))], suspend=False)
    assert (obs.phase, obs.reason, obs.message) == ("Failed", "ConfigInvalid", "method qlora needs a CUDA GPU")


@pytest.mark.parametrize(("exit_code", "reason"), [(3, "DatasetInvalid"), (4, "ConfigInvalid")])
def test_permanent_exit_without_a_result(exit_code: int, reason: str) -> None:
    # terminationMessagePolicy FallbackToLogsOnError: when the trainer died before writing its result, the message is
    # the tail of its log. The exit code still says what happened, and the Job was failed on the first attempt.
    logs = "Traceback (most recent call last):\n  ...\nValueError: row 3 is not JSON"
    obs = observe(job([condition("Failed", "PodFailurePolicy")], failed=1),
                  [pod("p-1", "Failed", state=terminated(exit_code, logs))], suspend=False)
    assert (obs.phase, obs.reason) == ("Failed", reason)
    assert "row 3 is not JSON" in obs.message
    assert obs.result is None


def test_permanent_failure_wins_over_earlier_crashes() -> None:
    crash = pod("p-1", "Failed", created=T0, state=terminated(1, result("Failed", "TrainingError", "CUDA error")))
    invalid = pod("p-2", "Failed", created=T1, state=terminated(
        3, result("Failed", "DatasetInvalid", "no valid row", errors=["line 1: text: must not be empty"])))
    obs = observe(job([condition("Failed", "PodFailurePolicy")], failed=2), [invalid, crash], suspend=False)
    assert obs.reason == "DatasetInvalid"
    assert "line 1: text: must not be empty" in obs.message


def test_backoff_limit_exceeded() -> None:
    pods = [pod(f"p-{i}", "Failed", created=f"2026-03-01T10:0{i}:00Z",
                state=terminated(1, result("Failed", "TrainingError", f"crash {i}"))) for i in range(3)]
    obs = observe(job([condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")],
                      failed=3, startTime=T0), pods, suspend=False)
    assert (obs.phase, obs.reason) == ("Failed", "BackoffLimitExceeded")
    assert obs.message == "3 training pod(s) failed, the last with exit code 1: crash 2"
    assert obs.failed_attempts == 3


def test_backoff_limit_exceeded_with_a_log_tail() -> None:
    obs = observe(job([condition("Failed", "BackoffLimitExceeded")], failed=1),
                  [pod("p-0", "Failed", state=terminated(1, "RuntimeError: boom\n"))], suspend=False)
    assert obs.reason == "BackoffLimitExceeded"
    assert obs.message.endswith("exit code 1: RuntimeError: boom")


def test_oom_killed() -> None:
    oom = pod("p-0", "Failed", memory="2Gi", state=terminated(137, reason="OOMKilled"))
    obs = observe(job([condition("Failed", "BackoffLimitExceeded")], failed=3), [oom], suspend=False)
    assert (obs.phase, obs.reason) == ("Failed", "OOMKilled")
    assert "2Gi" in obs.message and "spec.resources.memory" in obs.message


def test_deadline_exceeded() -> None:
    # The Job controller deletes the pods when the deadline passes; there may be none left to read.
    obs = observe(job([condition("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")],
                      failed=1, startTime=T0), [], suspend=False)
    assert (obs.phase, obs.reason) == ("Failed", "DeadlineExceeded")
    assert "Job was active longer than specified deadline" in obs.message
    assert obs.completion_time == T1


def test_failure_target_is_already_failed() -> None:
    # Since Kubernetes 1.31 the Job controller first adds FailureTarget, then Failed once its pods have stopped; a
    # training pod may take its 60 s grace period to checkpoint. The outcome is decided at FailureTarget.
    terminating = pod("p-0", "Running", ip="127.0.0.7", deleting=True, state={"running": {"startedAt": T0}})
    obs = observe(job([condition("FailureTarget", "DeadlineExceeded", "Job was active longer than specified "
                                 "deadline")], active=0, failed=0, startTime=T0), [terminating], suspend=False)
    assert (obs.phase, obs.reason) == ("Failed", "DeadlineExceeded")


def test_failure_target_counts_the_failed_pod_the_job_has_not_counted_yet() -> None:
    invalid = pod("p-1", "Failed", state=terminated(3, result("Failed", "DatasetInvalid", "no valid row")))
    obs = observe(job([condition("FailureTarget", "PodFailurePolicy")], failed=0, startTime=T0), [invalid],
                  suspend=False)
    assert (obs.phase, obs.reason, obs.failed_attempts) == ("Failed", "DatasetInvalid", 1)


def test_disrupted_pods_are_not_attempts() -> None:
    preempted = pod("p-0", "Failed", created=T0, state=terminated(143, result("Failed", "Preempted", "SIGTERM")),
                    conditions=[{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}])
    crash = pod("p-1", "Failed", created=T1, state=terminated(1, result("Failed", "TrainingError", "boom")))
    obs = observe(job([condition("FailureTarget", "BackoffLimitExceeded")], failed=0), [preempted, crash],
                  suspend=False)
    assert obs.failed_attempts == 1


def test_unschedulable_pod_is_queued_with_the_schedulers_reason() -> None:
    message = ("0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are available: 1 No "
               "preemption victims found for incoming pod.")
    pending = pod("p-0", "Pending", conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                                 "message": message, "lastTransitionTime": T0}])
    obs = observe(job(active=1), [pending], suspend=False)
    assert (obs.phase, obs.reason, obs.message) == ("Queued", "Unschedulable", message)
    assert obs.pod_name == "p-0"


def test_starting_pod_shows_the_waiting_reason() -> None:
    starting = pod("p-0", "Pending", conditions=[{"type": "PodScheduled", "status": "True"}],
                   state={"waiting": {"reason": "ContainerCreating"}})
    obs = observe(job(active=1), [starting], suspend=False)
    assert (obs.phase, obs.reason) == ("Queued", "ContainerCreating")


def test_suspended_by_the_user() -> None:
    obs = observe(job([{"type": "Suspended", "status": "True", "reason": "JobSuspended"}], suspend=True),
                  [], suspend=True)
    assert (obs.phase, obs.reason) == ("Suspended", "Suspended")
    assert "spec.suspend=false" in obs.message


def test_suspended_by_a_queueing_controller() -> None:
    # Kueue creates Jobs suspended and unsuspends them on admission; the user did not ask for a pause.
    obs = observe(job(suspend=True), [], suspend=False)
    assert (obs.phase, obs.reason) == ("Queued", "AwaitingAdmission")


def test_suspended_while_the_old_pod_stops() -> None:
    stopping = pod("p-0", "Running", ip="127.0.0.7", deleting=True, state={"running": {"startedAt": T0}})
    obs = observe(job(suspend=True, startTime=T0), [stopping], suspend=True)
    assert obs.phase == "Suspended"


def test_running_pod() -> None:
    running = pod("p-0", "Running", ip="127.0.0.9", conditions=[{"type": "Ready", "status": "True"}],
                  state={"running": {"startedAt": T0}})
    obs = observe(job(active=1, startTime=T0), [running], suspend=False)
    assert (obs.phase, obs.reason) == ("Running", "Training")
    assert (obs.pod_name, obs.pod_ip, obs.start_time) == ("p-0", "127.0.0.9", T0)
    assert "retry" not in obs.message


def test_running_retry_after_a_failure() -> None:
    old = pod("p-0", "Failed", created=T0, state=terminated(1, result("Failed", "Preempted", "SIGTERM")))
    new = pod("p-1", "Running", created=T1, ip="127.0.0.10", state={"running": {"startedAt": T1}})
    obs = observe(job(active=1, failed=1, startTime=T0), [old, new], suspend=False)
    assert (obs.phase, obs.pod_name, obs.pod_ip, obs.failed_attempts) == ("Running", "p-1", "127.0.0.10", 1)
    assert "(retry 1)" in obs.message


def test_terminating_pod_is_not_the_running_one() -> None:
    old = pod("p-0", "Running", created=T0, ip="127.0.0.7", deleting=True, state={"running": {"startedAt": T0}})
    new = pod("p-1", "Pending", created=T1, state={"waiting": {"reason": "ContainerCreating"}})
    obs = observe(job(active=1, startTime=T0), [old, new], suspend=False)
    assert (obs.phase, obs.pod_name) == ("Queued", "p-1")


def test_between_retries() -> None:
    obs = observe(job(active=0, failed=2, startTime=T0), [], suspend=False)
    assert (obs.phase, obs.reason, obs.failed_attempts) == ("Running", "Retrying", 2)
    assert "resumes from the newest checkpoint" in obs.message


def test_job_created_pod_not_yet() -> None:
    obs = observe(job(), [], suspend=False)
    assert (obs.phase, obs.reason) == ("Queued", "PodCreating")


def test_a_job_the_scheduler_has_not_placed_has_not_started_training() -> None:
    # The Job controller sets Job.status.startTime before any pod is scheduled; the spec must stay editable (lowering
    # resources.gpus is how a queued job is unblocked), so the start is the trainer's, not the Job's.
    unschedulable = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                     "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."}
    obs = observe(job(startTime=T0, active=1), [pod("p1", "Pending", conditions=[unschedulable])], suspend=False)
    assert (obs.phase, obs.reason) == ("Queued", "Unschedulable")
    assert obs.start_time is None
    waiting = {"waiting": {"reason": "ContainerCreating"}}
    assert observe(job(startTime=T0, active=1), [pod("p1", "Pending", state=waiting)], False).start_time is None


def test_training_starts_when_the_trainer_first_runs_in_any_pod() -> None:
    running = {"running": {"startedAt": T1}}
    first = pod("p1", "Failed", created=T0, state={"terminated": {**terminated(1)["terminated"],
                                                                    "startedAt": "2026-03-01T10:01:00Z"}})
    second = pod("p2", "Running", created=T1, ip="127.0.0.5", state=running)
    obs = observe(job(startTime=T0, active=1, failed=1), [first, second], suspend=False)
    assert obs.phase == "Running"
    assert obs.start_time == "2026-03-01T10:01:00Z"


def test_a_job_that_cannot_create_its_pod_says_why() -> None:
    message = ('Error creating: pods "support-bot-trainer-x" is forbidden: failed quota: compute: must specify '
               "limits.cpu for: trainer")
    obs = observe(job(startTime=T0), [], suspend=False, creation_failure=message)
    assert (obs.phase, obs.reason) == ("Queued", "FailedCreate")
    assert "must specify limits.cpu" in obs.message
    # Without a creation failure it is simply waiting for the Job controller.
    assert observe(job(startTime=T0), [], suspend=False).reason == "PodCreating"
