"""Reconcile one TrainingJob: validate what it references, ensure its Job, derive its status from the Job and pods,
and register its FineTunedModel on success. Level-triggered and idempotent; every kopf trigger calls this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

import kopf

from ..api import InvalidResource, TrainingJob, parse_resource, set_condition
from ..builders.training import UnsupportedSpec, trainer_name
from ..kube import KubeClient
from .metrics import RECONCILES, TRANSITIONS
from .resources import TRAININGJOBS
from .runtime import Runtime
from .training_children import (
    MissingReference,
    ensure_job,
    ensure_model,
    job_and_pods,
    missing_references,
    replace_stale_job,
    sync_suspend,
)
from .training_phase import Observation, observe

Json = dict[str, Any]
RETRY_MISSING_SECONDS = 10
TERMINAL = ("Succeeded", "Failed")


async def patch_status(client: KubeClient, namespace: str, name: str, status: Json) -> None:
    await client.patch(TRAININGJOBS, name, {"status": status}, namespace, subresource="status")


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


def _emit_transition(body: Mapping[str, Any], old_phase: str | None, new_phase: str, reason: str, message: str) -> None:
    if old_phase == new_phase:
        return
    TRANSITIONS.labels("TrainingJob", new_phase).inc()
    kind = "Warning" if new_phase == "Failed" or reason.endswith("NotFound") else "Normal"
    text = f"{old_phase or 'New'} -> {new_phase}: {message}"[:1000]
    kopf.event(cast(kopf.Body, body), type=kind, reason=reason, message=text)


async def _fail_permanently(runtime: Runtime, body: Mapping[str, Any], reason: str, message: str) -> None:
    meta = body["metadata"]
    status = body.get("status") or {}
    now = datetime.now(UTC)
    conditions = set_condition(status.get("conditions"), "Failed", True, reason, message, meta.get("generation"), now)
    await patch_status(runtime.client, meta["namespace"], meta["name"], {
        "phase": "Failed", "reason": reason, "message": message, "conditions": conditions,
        "observedGeneration": meta.get("generation")})
    _emit_transition(body, status.get("phase"), "Failed", reason, message)


async def reconcile_trainingjob(runtime: Runtime, namespace: str, name: str, coalesce: bool = False,
                                fresh: Mapping[str, Any] | None = None) -> None:
    """Bring one TrainingJob's children and status up to date. Raises kopf.TemporaryError to be retried.

    With ``coalesce`` (for watch events of its Job and pods) it returns at once when another reconcile of the same job
    is waiting for its turn: that one has read nothing yet, so it will see what this event reports. Bursts of pod and
    Job events then cost one reconcile, not one each. ``fresh`` is the body of a just-created TrainingJob, used instead
    of reading it again; its Job most likely does not exist yet, so the references are checked in the same round
    trip as the Job. Both keep the time from apply to Job low under load (bench/operator_latency.py).
    """
    if coalesce and runtime.waiting("TrainingJob", namespace, name):
        return
    async with runtime.turn("TrainingJob", namespace, name):
        body = fresh if fresh is not None else await runtime.client.get_or_none(TRAININGJOBS, name, namespace)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return
        try:
            await _reconcile(runtime, body, fresh=fresh is not None)
        except kopf.TemporaryError:
            RECONCILES.labels("TrainingJob", "retry").inc()
            raise
        except Exception:
            RECONCILES.labels("TrainingJob", "error").inc()
            raise
        RECONCILES.labels("TrainingJob", "ok").inc()


async def _reconcile(runtime: Runtime, body: Mapping[str, Any], fresh: bool = False) -> None:
    client, settings = runtime.client, runtime.settings
    meta = body["metadata"]
    ns, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    status: Json = body.get("status") or {}
    if status.get("phase") in TERMINAL and (status.get("phase") == "Failed" or status.get("modelRef")):
        return  # finished and recorded: nothing can change it any more
    try:
        tj = parse_resource(body)
    except InvalidResource as e:
        await _fail_permanently(runtime, body, "InvalidSpec", str(e))
        return
    assert isinstance(tj, TrainingJob)
    now = datetime.now(UTC)

    missing: list[MissingReference] | None = None
    if fresh:
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
            await patch_status(client, ns, name, {"phase": "Pending", "reason": missing[0].reason,
                                                  "message": message, "conditions": conditions,
                                                  "observedGeneration": generation})
            _emit_transition(body, status.get("phase"), "Pending", missing[0].reason, message)
            raise kopf.TemporaryError(message, delay=RETRY_MISSING_SECONDS)
        try:
            job = await ensure_job(client, tj, settings)
        except UnsupportedSpec as e:
            await _fail_permanently(runtime, body, "UnsupportedSpec", str(e))
            return
    else:
        await replace_stale_job(client, tj, settings, job)
    if tj.spec.suspend and not job.get("spec", {}).get("suspend"):
        await sync_suspend(client, tj)
        job = {**job, "spec": {**job.get("spec", {}), "suspend": True}}

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
        await patch_status(client, ns, name, update)
    _emit_transition(body, status.get("phase"), obs.phase, obs.reason, update["message"])
