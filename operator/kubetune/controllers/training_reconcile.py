"""Reconcile one TrainingJob: validate what it references, ensure its Job, derive its status from the Job and pods,
and register its FineTunedModel on success; pull progress while it runs and delete it after its TTL. Level-triggered
and idempotent: every trigger calls the same function, and a restarted operator converges from what it reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..api import InvalidResource, TrainingJob, parse_resource, set_condition
from ..builders.training import UnsupportedSpec, trainer_name
from .events import post_event
from .metrics import RECONCILES, TRANSITIONS
from .progress import follow_progress
from .resources import TRAININGJOBS
from .runtime import Runtime
from .training_children import (
    MissingReference,
    ensure_job,
    ensure_model,
    job_and_pods,
    missing_references,
    replace_stale_job,
    suspend_requested,
    sync_suspend,
)
from .training_phase import Observation, observe
from .ttl import seconds_left

Json = dict[str, Any]
RETRY_MISSING_SECONDS = 10
RETRY_ERROR_SECONDS = 5
TERMINAL = ("Succeeded", "Failed")


async def patch_status(runtime: Runtime, namespace: str, name: str, status: Json) -> None:
    written = await runtime.client.patch(TRAININGJOBS, name, {"status": status}, namespace, subresource="status")
    runtime.wrote("TrainingJob", namespace, name, written)


def _conditions(previous: list[Json], obs: Observation, generation: int | None, now: datetime) -> list[Json]:
    conditions = set_condition(previous, "Validated", True, "ReferencesFound",
                               "every referenced object exists", generation, now)
    conditions = set_condition(conditions, "Suspended", obs.phase == "Suspended",
                               "Suspended" if obs.phase == "Suspended" else "NotSuspended", "", generation, now)
    conditions = set_condition(conditions, "Running", obs.phase == "Running",
                               obs.reason if obs.phase == "Running" else obs.phase, obs.message
                               if obs.phase == "Running" else "", generation, now)
    conditions = set_condition(conditions, "Succeeded", obs.phase == "Succeeded",
                               obs.reason if obs.phase == "Succeeded" else "NotSucceeded",
                               obs.message if obs.phase == "Succeeded" else "", generation, now)
    return set_condition(conditions, "Failed", obs.phase == "Failed", obs.reason if obs.phase == "Failed"
                         else "NotFailed", obs.message if obs.phase == "Failed" else "", generation, now)


async def _emit_transition(runtime: Runtime, body: Mapping[str, Any], old_phase: str | None, new_phase: str,
                           reason: str, message: str) -> None:
    if old_phase == new_phase:
        return
    TRANSITIONS.labels("TrainingJob", new_phase).inc()
    kind = "Warning" if new_phase == "Failed" or reason.endswith("NotFound") else "Normal"
    await post_event(runtime.client, body, kind, reason, f"{old_phase or 'New'} -> {new_phase}: {message}"[:1000])


async def _fail_permanently(runtime: Runtime, body: Mapping[str, Any], reason: str, message: str) -> None:
    meta = body["metadata"]
    status = body.get("status") or {}
    now = datetime.now(UTC)
    conditions = set_condition(status.get("conditions"), "Failed", True, reason, message, meta.get("generation"), now)
    await patch_status(runtime, meta["namespace"], meta["name"], {
        "phase": "Failed", "reason": reason, "message": message, "conditions": conditions,
        "observedGeneration": meta.get("generation")})
    await _emit_transition(runtime, body, status.get("phase"), "Failed", reason, message)


def enqueue_trainingjob(runtime: Runtime, namespace: str, name: str, body: Mapping[str, Any] | None = None) -> None:
    """Queue a reconcile of one TrainingJob; ``body`` is the newest object a watch event delivered, if any.

    Every trigger comes here: the TrainingJob's own watch events and those of its Job and pods. The queue runs one
    reconcile per job at a time and folds a burst of events into one pass; the handler returns at once, so nothing
    holds the event while the pass waits.
    """
    if body is not None:
        runtime.offer("TrainingJob", namespace, name, dict(body))
    assert runtime.trainingjobs is not None, "the operator starts the queue at start-up"
    runtime.trainingjobs.add((namespace, name))


async def reconcile_trainingjob(runtime: Runtime, namespace: str, name: str) -> None:
    """Bring one TrainingJob's children and status up to date (run by the work queue)."""
    key = ("TrainingJob", namespace, name)
    current = runtime.take(*key) or await runtime.client.get_or_none(TRAININGJOBS, name, namespace)
    if current is None or current["metadata"].get("deletionTimestamp"):
        return
    try:
        await _reconcile(runtime, current)
    except Exception:
        RECONCILES.labels("TrainingJob", "error").inc()
        # Watch events are not retried by kopf: try again on our own.
        runtime.later((*key, "retry"), RETRY_ERROR_SECONDS, lambda: _requeue(runtime, namespace, name))
        raise
    RECONCILES.labels("TrainingJob", "ok").inc()


async def _requeue(runtime: Runtime, namespace: str, name: str) -> None:
    enqueue_trainingjob(runtime, namespace, name)


def _schedule_ttl(runtime: Runtime, tj: TrainingJob, completion_time: str | None) -> None:
    ttl = tj.spec.ttl_seconds_after_finished
    if ttl is None or not completion_time:
        return
    ns, name = tj.metadata.namespace or "", tj.metadata.name or ""

    async def expire() -> None:
        await runtime.client.delete(TRAININGJOBS, name, ns)

    runtime.later(("TrainingJob", ns, name, "ttl"), seconds_left(completion_time, ttl, datetime.now(UTC)), expire)


async def _reconcile(runtime: Runtime, body: Mapping[str, Any]) -> None:
    client, settings = runtime.client, runtime.settings
    meta = body["metadata"]
    ns, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    key = ("TrainingJob", ns, name)
    status: Json = body.get("status") or {}
    try:
        tj = parse_resource(body)
    except InvalidResource as e:
        if status.get("phase") != "Failed":
            await _fail_permanently(runtime, body, "InvalidSpec", str(e))
        return
    assert isinstance(tj, TrainingJob)
    if status.get("phase") in TERMINAL and (status.get("phase") == "Failed" or status.get("modelRef")):
        runtime.cancel_task((*key, "progress"))
        _schedule_ttl(runtime, tj, status.get("completionTime"))
        return  # finished and recorded: nothing can change it any more
    now = datetime.now(UTC)

    missing: list[MissingReference] | None = None
    if not status.get("phase"):
        # Never reconciled: its Job most likely does not exist, so check the references in the same round trip.
        (job, pods), missing = await asyncio.gather(job_and_pods(client, tj), missing_references(client, tj))
    else:
        job, pods = await job_and_pods(client, tj)
    if job is None:
        if missing is None:
            missing = await missing_references(client, tj)
        if missing:
            message = "; ".join(m.message for m in missing)
            conditions = set_condition(status.get("conditions"), "Validated", False, missing[0].reason, message,
                                       generation, now)
            await patch_status(runtime, ns, name, {"phase": "Pending", "reason": missing[0].reason,
                                                  "message": message, "conditions": conditions,
                                                  "observedGeneration": generation})
            await _emit_transition(runtime, body, status.get("phase"), "Pending", missing[0].reason, message)
            runtime.later((*key, "retry"), RETRY_MISSING_SECONDS, lambda: _requeue(runtime, ns, name))
            return
        try:
            job = await ensure_job(client, tj, settings)
        except UnsupportedSpec as e:
            await _fail_permanently(runtime, body, "UnsupportedSpec", str(e))
            return
    else:
        await replace_stale_job(client, tj, settings, job)
    if suspend_requested(job) != tj.spec.suspend:
        # The operator flips Job.spec.suspend only when spec.suspend changed, so a queue (Kueue) that suspends or
        # admits the Job is not fought over.
        await sync_suspend(client, tj)
        job = {**job, "spec": {**job.get("spec", {}), "suspend": tj.spec.suspend}}

    obs = observe(job, pods, tj.spec.suspend)
    update: Json = {
        "phase": obs.phase, "reason": obs.reason, "message": obs.message, "jobName": trainer_name(tj),
        "observedGeneration": generation, "failedAttempts": obs.failed_attempts,
        "conditions": _conditions(status.get("conditions") or [], obs, generation, now),
    }
    if obs.start_time and not status.get("startTime"):
        update["startTime"] = obs.start_time
    if obs.completion_time:
        update["completionTime"] = obs.completion_time
    result = obs.result
    if result is not None:
        if result.dataset_stats:
            update["datasetStats"] = result.dataset_stats.model_dump(by_alias=True, exclude_none=True)
        if result.metrics:
            update["metrics"] = result.metrics.model_dump(by_alias=True, exclude_none=True)
    if obs.phase == "Succeeded":
        model = await ensure_model(client, tj, result)
        update["modelRef"] = {"name": model}
        update["message"] = f"{obs.message}; registered FineTunedModel {model}"
        if result and result.metrics and result.metrics.steps is not None:
            progress = dict(status.get("progress") or {})
            progress.update({"step": result.metrics.steps, "percent": 100.0, "etaSeconds": 0})
            if result.metrics.train_loss is not None:
                progress["loss"] = result.metrics.train_loss
            update["progress"] = progress
    # Most pod and Job events change nothing the status shows; an unchanged status is not written again (each write
    # is one more TrainingJob event for every watcher).
    if any(status.get(key) != value for key, value in update.items()):
        await patch_status(runtime, ns, name, update)
    await _emit_transition(runtime, body, status.get("phase"), obs.phase, obs.reason, update["message"])
    if obs.phase == "Running":
        runtime.ensure_task((*key, "progress"), lambda: follow_progress(runtime, ns, name, meta["uid"]))
    else:
        runtime.cancel_task((*key, "progress"))
    if obs.finished:
        _schedule_ttl(runtime, tj, update.get("completionTime"))
