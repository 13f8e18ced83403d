"""Decide a ModelComparison's phase, reason and message from its evaluator Job and pods. Pure: no I/O.

The evaluator writes an ``EvaluatorResult`` to its termination message; on success it carries ``status.results`` as
they are, verdict included. A failed Job says why through the newest pod's result (EndpointErrors names the first
request error) or, when the pod died before writing one, through its exit code and the Job's condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..api.evaluator import EvaluatorResult
from ..builders.evaluation import CONTAINER
from .jobs import container_status, job_condition
from .training_phase import scheduling_problem

Json = dict[str, Any]


@dataclass(frozen=True)
class ComparisonObservation:
    phase: str
    reason: str
    message: str
    result: EvaluatorResult | None = None
    start_time: str | None = None
    completion_time: str | None = None
    pod_ip: str | None = None
    failed_attempts: int = 0

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


def _evaluator_state(pod: Json) -> Json:
    return container_status(pod, CONTAINER)


def evaluator_result(pod: Json) -> EvaluatorResult | None:
    terminated = (_evaluator_state(pod).get("state") or {}).get("terminated") or {}
    message = terminated.get("message") or ""
    if not message.lstrip().startswith("{"):
        return None
    try:
        return EvaluatorResult.model_validate_json(message)
    except ValidationError:
        return None


def evaluator_started_at(pods: list[Json]) -> str | None:
    times = []
    for pod in pods:
        state = _evaluator_state(pod)
        for section in (state.get("state") or {}, state.get("lastState") or {}):
            for phase in ("running", "terminated"):
                started = (section.get(phase) or {}).get("startedAt")
                if started:
                    times.append(str(started))
    return min(times, default=None)


def _newest(pods: list[Json]) -> Json | None:
    return max(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), default=None)


def observe_comparison(job: Json, pods: list[Json], creation_failure: str | None = None) -> ComparisonObservation:
    """The phase from the evaluator Job and its pods."""
    status = job.get("status", {})
    started = evaluator_started_at(pods)
    failed_pods = [p for p in pods if p.get("status", {}).get("phase") == "Failed"]
    complete = job_condition(job, "Complete")
    if complete:
        pod = _newest([p for p in pods if p.get("status", {}).get("phase") == "Succeeded"])
        result = evaluator_result(pod) if pod else None
        if result is None or result.results is None:
            return ComparisonObservation("Failed", "NoResult", "the evaluator finished without a readable result",
                                         start_time=started, completion_time=status.get("completionTime"))
        return ComparisonObservation("Succeeded", result.results.verdict_reason or "Completed", result.message,
                                     result=result, start_time=started,
                                     completion_time=status.get("completionTime") or complete.get("lastTransitionTime"),
                                     failed_attempts=len(failed_pods))
    failed = job_condition(job, "Failed") or job_condition(job, "FailureTarget")
    if failed:
        pod = _newest(failed_pods)
        result = evaluator_result(pod) if pod else None
        if result is not None:
            message = result.message + (f"; first error: {result.first_error}" if result.first_error and
                                        result.first_error not in result.message else "")
            return ComparisonObservation("Failed", result.reason, message, result=result, start_time=started,
                                         completion_time=failed.get("lastTransitionTime"),
                                         failed_attempts=len(failed_pods))
        terminated = (_evaluator_state(pod).get("state") or {}).get("terminated") or {} if pod else {}
        detail = (terminated.get("message") or "").strip()[-500:]
        reason = failed.get("reason") or "Failed"
        message = f"{len(failed_pods)} evaluator pod(s) failed" + (
            f", the last with exit code {terminated.get('exitCode')}" if terminated else "") + (
            f": {detail}" if detail else f" ({failed.get('message', '')})")
        return ComparisonObservation("Failed", "BackoffLimitExceeded" if reason == "BackoffLimitExceeded" else reason,
                                     message, start_time=started, completion_time=failed.get("lastTransitionTime"),
                                     failed_attempts=len(failed_pods))
    active = [p for p in pods if p.get("status", {}).get("phase") in ("Pending", "Running")
              and not p["metadata"].get("deletionTimestamp")]
    running = [p for p in active if p["status"].get("phase") == "Running"]
    retry = f" (retry {len(failed_pods)}, resuming from the samples written)" if failed_pods else ""
    if running:
        pod = _newest(running)
        assert pod is not None
        return ComparisonObservation("Running", "Evaluating", f"pod {pod['metadata']['name']} is evaluating{retry}",
                                     start_time=started, pod_ip=pod["status"].get("podIP"),
                                     failed_attempts=len(failed_pods))
    pending = _newest(active)
    if pending is not None:
        problem = scheduling_problem(pending)
        if problem:
            return ComparisonObservation("Pending", problem[0], problem[1], start_time=started,
                                         failed_attempts=len(failed_pods))
        waiting = (_evaluator_state(pending).get("state") or {}).get("waiting") or {}
        return ComparisonObservation("Pending", waiting.get("reason") or "PodStarting",
                                     waiting.get("message") or f"pod {pending['metadata']['name']} is starting{retry}",
                                     start_time=started, failed_attempts=len(failed_pods))
    if creation_failure:
        return ComparisonObservation("Pending", "FailedCreate", f"the Job controller cannot create the evaluator pod: "
                                     f"{creation_failure}", start_time=started, failed_attempts=len(failed_pods))
    if failed_pods:
        return ComparisonObservation("Running", "Retrying", f"{len(failed_pods)} evaluator pod(s) failed; the next "
                                     "resumes from the samples written", start_time=started,
                                     failed_attempts=len(failed_pods))
    return ComparisonObservation("Pending", "PodCreating", "waiting for the Job controller to create the evaluator pod",
                                 start_time=started)
