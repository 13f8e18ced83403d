"""Decide a TrainingJob's phase, reason and message from its Job and pods. Pure: no I/O, the clock is passed in.

The operator is level-triggered: whatever event woke it, it reads the Job and pods and derives the status anew, so a
restart at any point converges on the same answer.

A multi-node job is a gang of pods (an Indexed Job): rank 0 runs in the pod of index 0, and only its result,
progress and IP count; it trains only while all its pods run, so one that cannot be scheduled holds the job Queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..api.trainer import EXIT_CONFIG_INVALID, EXIT_DATASET_INVALID, EXIT_GANG_STOPPED, TrainerResult
from ..builders.training import COMPLETION_INDEX, CONTAINER
from .jobs import container_status, job_condition

Json = dict[str, Any]
MAX_ERRORS_SHOWN = 5
_PERMANENT_EXITS = {EXIT_DATASET_INVALID: ("DatasetInvalid", "the dataset is invalid"),
                    EXIT_CONFIG_INVALID: ("ConfigInvalid", "the job config cannot run")}


@dataclass(frozen=True)
class Observation:
    """What the Job and its pods say about a TrainingJob."""

    phase: str
    reason: str
    message: str
    result: TrainerResult | None = None
    failed_attempts: int = 0
    start_time: str | None = None
    completion_time: str | None = None
    pod_name: str | None = None
    pod_ip: str | None = None

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


def _trainer_state(pod: Json) -> Json:
    return container_status(pod, CONTAINER)


def trainer_result(pod: Json) -> TrainerResult | None:
    """The TrainerResult in a finished pod's termination message, if it wrote one."""
    terminated = _trainer_state(pod).get("state", {}).get("terminated") or {}
    message = terminated.get("message") or ""
    if not message.lstrip().startswith("{"):
        return None
    try:
        return TrainerResult.model_validate_json(message)
    except ValidationError:
        return None


def trainer_started_at(pods: list[Json]) -> str | None:
    """When the trainer container first started in any of the Job's pods, or None while none has run.

    Not the Job's startTime: the Job controller sets that before a pod is even scheduled, and the spec must stay
    editable while a job waits in the queue (lowering resources.gpus is how a user unblocks it).
    """
    times = []
    for pod in pods:
        state = _trainer_state(pod)
        for section in (state.get("state") or {}, state.get("lastState") or {}):
            for phase in ("running", "terminated"):
                started = (section.get(phase) or {}).get("startedAt")
                if started:
                    times.append(str(started))
    return min(times, default=None)


def _terminated(pod: Json) -> Json:
    return dict(_trainer_state(pod).get("state", {}).get("terminated") or {})


def holds_rank0(pod: Json) -> bool:
    """Whether the pod runs rank 0: every pod of a one-pod job, the pods of index 0 of a multi-node one."""
    meta = pod["metadata"]
    index = (meta.get("annotations") or {}).get(COMPLETION_INDEX, (meta.get("labels") or {}).get(COMPLETION_INDEX))
    return index in (None, "0")


def _rank0_first(pods: list[Json]) -> list[Json]:
    """The pods of rank 0 where there are any: their results and progress are the run's."""
    return [p for p in pods if holds_rank0(p)] or pods


def _gang_size(job: Json) -> int:
    spec = job.get("spec", {})
    return int(spec.get("completions") or 1) if spec.get("completionMode") == "Indexed" else 1


def _newest(pods: list[Json]) -> Json | None:
    return max(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), default=None)


def _failure(job: Json, pods: list[Json], condition: Json) -> tuple[str, str, TrainerResult | None]:
    """Reason and message for a failed Job, from the most telling pod."""
    failed = [p for p in pods if p.get("status", {}).get("phase") == "Failed"]
    permanent = [p for p in failed if _terminated(p).get("exitCode") in (EXIT_DATASET_INVALID, EXIT_CONFIG_INVALID)]
    pod = _newest(_rank0_first(permanent)) or _newest(_rank0_first(failed))
    result = trainer_result(pod) if pod else None
    terminated = _terminated(pod) if pod else {}
    job_reason = condition.get("reason") or "Failed"
    if job_reason == "DeadlineExceeded":
        return "DeadlineExceeded", f"training ran longer than activeDeadlineSeconds: {condition.get('message', '')}", \
            result
    if result is not None and result.reason in ("DatasetInvalid", "ConfigInvalid"):
        lines = "; ".join(result.errors[:MAX_ERRORS_SHOWN])
        message = result.message + (f" First errors: {lines}" if lines else "")
        return result.reason, message, result
    code = terminated.get("exitCode")
    if result is None and code in _PERMANENT_EXITS:
        # The trainer died before writing its result (the message is then its log's tail, FallbackToLogsOnError);
        # the exit code alone still says why the Job was failed without a retry.
        reason, what = _PERMANENT_EXITS[code]
        tail = (terminated.get("message") or "").strip()[-500:]
        return reason, f"the trainer exited with code {code} ({what}) without writing its result" + (
            f"; its log ends: {tail}" if tail else ""), None
    if terminated.get("reason") == "OOMKilled":
        limit = (pod or {}).get("spec", {}).get("containers", [{}])[0].get("resources", {}).get("limits", {})
        return "OOMKilled", (f"the training pod ran out of memory (limit {limit.get('memory', 'unset')}); raise "
                             "spec.resources.memory, or lower batchSize or maxSeqLength"), result
    attempts = _failed_attempts(job, pods)
    detail = result.message if result else (terminated.get("message") or "").strip()[-500:]
    message = f"{attempts} training pod(s) failed, the last with exit code {terminated.get('exitCode', '?')}"
    if detail:
        message += f": {detail}"
    reason = "BackoffLimitExceeded" if job_reason in ("BackoffLimitExceeded", "PodFailurePolicy") else job_reason
    return reason, message, result


def _failed_attempts(job: Json, pods: list[Json]) -> int:
    """At FailureTarget the Job may not have counted its last failed pod yet (it does once the pod's tracking finalizer
    is removed), and a failed TrainingJob is not reconciled again: count the failed pods too. Pods failed by a
    disruption, and the peers that stopped with them, do not use up retries (the Ignore rules), so they are not
    attempts."""
    counted = sum(1 for p in pods if p.get("status", {}).get("phase") == "Failed" and not _disrupted(p)
                  and _terminated(p).get("exitCode") != EXIT_GANG_STOPPED)
    return max(int(job.get("status", {}).get("failed", 0)), counted)


def _disrupted(pod: Json) -> bool:
    return any(c.get("type") == "DisruptionTarget" and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions") or [])


def scheduling_problem(pod: Json) -> tuple[str, str] | None:
    for c in pod.get("status", {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return c.get("reason") or "Unschedulable", c.get("message") or "the pod cannot be scheduled"
    return None


def observe(job: Json | None, pods: list[Json], suspend: bool,
            creation_failure: str | None = None) -> Observation:
    """Derive the phase from the Job (None when not created yet) and the Job's pods. ``creation_failure`` is the
    message of the Job controller's newest FailedCreate event, if it cannot create the pod (a quota, a missing
    PriorityClass)."""
    if job is None:
        return Observation("Pending", "JobNotCreated", "the training Job has not been created yet")
    status = job.get("status", {})
    common: dict[str, Any] = {"failed_attempts": int(status.get("failed", 0)), "start_time": trainer_started_at(pods)}
    complete = job_condition(job, "Complete")
    if complete:
        succeeded = [p for p in pods if p.get("status", {}).get("phase") == "Succeeded"]
        pod = _newest(_rank0_first(succeeded))
        result = trainer_result(pod) if pod else None
        message = result.message if result and result.message else "training finished and the adapter was written"
        return Observation("Succeeded", "Completed", message, result=result,
                           completion_time=status.get("completionTime") or complete.get("lastTransitionTime"),
                           **common)
    # Since Kubernetes 1.31 the Job controller adds FailureTarget first and Failed only once every pod has stopped,
    # which a training pod checkpointing in its grace period can take a minute to do: the outcome is already final.
    failed = job_condition(job, "Failed") or job_condition(job, "FailureTarget")
    if failed:
        reason, message, result = _failure(job, pods, failed)
        return Observation("Failed", reason, message, result=result, completion_time=failed.get("lastTransitionTime"),
                           failed_attempts=_failed_attempts(job, pods), start_time=common["start_time"])
    if job.get("spec", {}).get("suspend"):
        if suspend:
            return Observation("Suspended", "Suspended", "training is suspended; checkpoints are kept, set "
                               "spec.suspend=false to resume", **common)
        return Observation("Queued", "AwaitingAdmission", "the Job is suspended by a queueing controller (e.g. "
                           "Kueue) until it is admitted", **common)
    active = [p for p in pods if p.get("status", {}).get("phase") in ("Pending", "Running")
              and not p["metadata"].get("deletionTimestamp")]
    running = [p for p in active if p["status"].get("phase") == "Running"]
    gang = _gang_size(job)
    if running and gang > 1:
        # A gang trains only once all its pods run: one the scheduler cannot place holds all of them.
        stuck = next((p for p in active if scheduling_problem(p)), None)
        if stuck is not None:
            reason, why = scheduling_problem(stuck) or ("Unschedulable", "")
            return Observation("Queued", reason, f"pod {stuck['metadata']['name']} of the {gang} that train together "
                               f"cannot be scheduled: {why}", pod_name=stuck["metadata"]["name"], **common)
    if running:
        pod = _newest(_rank0_first(running))
        assert pod is not None
        retry = f" (retry {common['failed_attempts']})" if common["failed_attempts"] else ""
        what = f"pod {pod['metadata']['name']} is training" if gang == 1 else \
            f"{len(running)} of {gang} pods are training, rank 0 in {pod['metadata']['name']}"
        return Observation("Running", "Training", f"{what}{retry}",
                           pod_name=pod["metadata"]["name"],
                           pod_ip=pod["status"].get("podIP") if holds_rank0(pod) else None, **common)
    pending = _newest(active)
    if pending is not None:
        problem = scheduling_problem(pending)
        if problem:
            return Observation("Queued", problem[0], problem[1], pod_name=pending["metadata"]["name"], **common)
        waiting = (_trainer_state(pending).get("state") or {}).get("waiting") or {}
        return Observation("Queued", waiting.get("reason") or "PodStarting",
                           waiting.get("message") or f"pod {pending['metadata']['name']} is starting",
                           pod_name=pending["metadata"]["name"], **common)
    if any(p.get("status", {}).get("phase") == "Succeeded" for p in pods):
        return Observation("Running", "Completing", "the training pod finished; waiting for the Job to complete",
                           **common)
    if creation_failure:
        return Observation("Queued", "FailedCreate", f"the Job controller cannot create the training pod: "
                           f"{creation_failure}", **common)
    if common["failed_attempts"]:
        return Observation("Running", "Retrying", f"{common['failed_attempts']} training pod(s) failed; a retry "
                           "resumes from the newest checkpoint", **common)
    return Observation("Queued", "PodCreating", "waiting for the Job controller to create the training pod", **common)
