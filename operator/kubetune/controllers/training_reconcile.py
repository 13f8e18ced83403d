"""Reconcile one TrainingJob: validate what it references, ensure its Job, derive its status from the Job and pods,
and register its FineTunedModel on success; pull progress while it runs and delete it after its TTL. Level-triggered
and idempotent: every trigger queues the same key, and a restarted operator converges from what it reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..api import InvalidResource, TrainingJob, parse_resource, set_condition
from ..builders.training import UnsupportedSpec, held_out_path, is_gang, trainer_name
from ..kube.client import JOBS
from .jobs import POD_CREATION_GRACE, age, finished, pod_creation_failure
from .metrics import RECONCILES, TRANSITIONS
from .ownership import NameConflict, is_ours, owned_by, remove_leftover
from .progress import follow_progress
from .resources import TRAININGJOBS
from .runtime import Runtime
from .status import StaleRead, changed, recovered, write_status
from .training_children import (
    ensure_job,
    ensure_model,
    ensure_rendezvous_service,
    job_and_pods,
    missing_references,
    replace_stale_job,
    suspend_requested,
    sync_suspend,
)
from .training_phase import Observation, observe, trainer_started_at
from .ttl import seconds_left
from .workqueue import Requeue

Json = dict[str, Any]
KIND = "TrainingJob"
TERMINAL = ("Succeeded", "Failed")
WAITING = Requeue(backoff=True)  # on something outside the operator's watches: look again, less and less often


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
    conditions = set_condition(conditions, "Failed", obs.phase == "Failed", obs.reason if obs.phase == "Failed"
                               else "NotFailed", obs.message if obs.phase == "Failed" else "", generation, now)
    return recovered(conditions, generation, now)


async def _emit_transition(runtime: Runtime, body: Mapping[str, Any], old_phase: str | None, new_phase: str,
                           reason: str, message: str) -> None:
    if old_phase == new_phase:
        return
    TRANSITIONS.labels(KIND, new_phase).inc()
    kind = "Warning" if new_phase == "Failed" or reason.endswith("NotFound") else "Normal"
    await runtime.events.emit(body, kind, reason, f"{old_phase or 'New'} -> {new_phase}: {message}"[:1000])


async def _set_phase(runtime: Runtime, body: Mapping[str, Any], phase: str, reason: str, message: str,
                     condition: tuple[str, bool]) -> None:
    """A phase decided before any Job exists (Pending on a reference, Failed on the spec)."""
    meta = body["metadata"]
    status = body.get("status") or {}
    now = datetime.now(UTC)
    conditions = set_condition(status.get("conditions"), condition[0], condition[1], reason, message,
                               meta.get("generation"), now)
    update = {"phase": phase, "reason": reason, "message": message, "conditions": conditions,
              "observedGeneration": meta.get("generation")}
    if changed(status, update):
        await write_status(runtime, KIND, TRAININGJOBS, body, update)
    await _emit_transition(runtime, body, status.get("phase"), phase, reason, message)


async def _fail_permanently(runtime: Runtime, body: Mapping[str, Any], reason: str, message: str) -> None:
    await _set_phase(runtime, body, "Failed", reason, message, ("Failed", True))


def enqueue_trainingjob(runtime: Runtime, namespace: str, name: str, body: Mapping[str, Any] | None = None) -> None:
    """Queue a reconcile of one TrainingJob (from its own watch events and those of its Job and pods)."""
    runtime.enqueue(KIND, namespace, name, body)


async def reconcile_trainingjob(runtime: Runtime, namespace: str, name: str) -> Requeue | None:
    """Bring one TrainingJob's children and status up to date (run by the work queue)."""
    current = runtime.take(KIND, namespace, name) or await runtime.client.get_or_none(TRAININGJOBS, name, namespace)
    if current is None or current["metadata"].get("deletionTimestamp"):
        return None
    try:
        result = await _reconcile(runtime, current)
    except StaleRead:
        RECONCILES.labels(KIND, "retry").inc()
        return Requeue(after=0)  # read again and redo the pass
    except Exception:
        RECONCILES.labels(KIND, "error").inc()
        raise
    RECONCILES.labels(KIND, "ok").inc()
    return result


def _ttl_left(tj: TrainingJob, completion_time: str | None) -> float | None:
    ttl = tj.spec.ttl_seconds_after_finished
    if ttl is None or not completion_time:
        return None
    return seconds_left(completion_time, ttl, datetime.now(UTC))


async def _expire(runtime: Runtime, tj: TrainingJob, completion_time: str | None) -> Requeue | None:
    """Delete a finished job once its TTL has passed; until then, come back when it will have."""
    left = _ttl_left(tj, completion_time)
    if left is None:
        return None
    if left > 0:
        return Requeue(after=left)
    await runtime.client.delete(TRAININGJOBS, tj.metadata.name or "", tj.metadata.namespace or "",
                                uid=tj.metadata.uid)
    return None


def _image_refused(runtime: Runtime, tj: TrainingJob) -> str | None:
    image = tj.spec.image
    if image is None or runtime.settings.image_allowed(image):
        return None
    allowed = ", ".join(runtime.settings.allowed_images)
    return (f"spec.image {image!r} is not allowed by the operator's administrator (allowed: {allowed}); remove "
            "spec.image to use the default trainer image" if allowed else
            f"spec.image {image!r} is not allowed: this operator allows no custom images (KUBETUNE_ALLOWED_IMAGES "
            "is empty); remove spec.image to use the default trainer image")


async def _reconcile(runtime: Runtime, body: Mapping[str, Any]) -> Requeue | None:
    client, settings = runtime.client, runtime.settings
    meta = body["metadata"]
    ns, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    key = (KIND, ns, name)
    status: Json = body.get("status") or {}
    phase = status.get("phase")
    # A failure decided before any Job existed (the spec, the image) is re-examined when the spec changes.
    settled = phase == "Failed" and (status.get("jobName") or status.get("observedGeneration") == generation)
    try:
        tj = parse_resource(body)
    except InvalidResource as e:
        if not settled:
            await _fail_permanently(runtime, body, "InvalidSpec", str(e))
        return None
    assert isinstance(tj, TrainingJob)
    if settled or (phase == "Succeeded" and status.get("modelRef")):
        runtime.cancel_task((*key, "progress"))
        return await _expire(runtime, tj, status.get("completionTime"))  # finished and recorded
    refused = _image_refused(runtime, tj)
    if refused:
        await _fail_permanently(runtime, body, "ImageNotAllowed", refused)
        return None
    now = datetime.now(UTC)

    # A Job the previous pass made (leaving the status to this one) is taken as it was made; a TrainingJob never
    # reconciled almost never has one, so it is not looked for (creating it says so when it does).
    made = runtime.take_made(KIND, ns, name, generation)
    job, pods = (made, []) if made is not None else (None, []) if not phase else await job_and_pods(client, tj)
    created = made is not None
    if job is not None and not owned_by(job, tj.metadata.uid):
        return await _foreign_job(runtime, body, job)
    if job is None:
        missing = await missing_references(client, tj, runtime.sightings)
        if missing:
            message = "; ".join(m.message for m in missing)
            await _set_phase(runtime, body, "Pending", missing[0].reason, message, ("Validated", False))
            return WAITING
        try:
            with runtime.creations.closed_while():
                job, created = await ensure_job(client, tj, settings)
        except UnsupportedSpec as e:
            await _fail_permanently(runtime, body, "UnsupportedSpec", str(e))
            return None
        except NameConflict as e:
            await _set_phase(runtime, body, "Pending", "NameConflict", str(e), ("Validated", False))
            return WAITING
        if not owned_by(job, tj.metadata.uid):
            return await _foreign_job(runtime, body, job)
        if not created:
            _, pods = await job_and_pods(client, tj)  # made by an earlier operator that died before writing status
        elif runtime.newcomers_waiting(KIND):
            # A burst of applies: the Jobs of the TrainingJobs still waiting are created before this one's status is
            # written (by the next pass, queued behind them, from what this pass read and made).
            runtime.made(KIND, ns, name, generation, job)
            runtime.offer(KIND, ns, name, dict(body))
            return Requeue(after=0)
    if not created:  # a Job this pass rendered from the spec is not stale
        await replace_stale_job(client, tj, settings, job, started=trainer_started_at(pods) is not None)
    if is_gang(tj) and not finished(job):
        # The pods of a multi-node job find each other through it: one deleted under the job is put back before a
        # restarted pod needs it.
        await ensure_rendezvous_service(client, tj, settings, look_first=True)
    if suspend_requested(job) != tj.spec.suspend:
        # The operator flips Job.spec.suspend only when spec.suspend changed, so a queue (Kueue) that suspends or
        # admits the Job is not fought over.
        await sync_suspend(client, tj)
        job = {**job, "spec": {**job.get("spec", {}), "suspend": tj.spec.suspend}}

    creation_failure = None
    if not job.get("spec", {}).get("suspend") and not any(
            p.get("status", {}).get("phase") in ("Pending", "Running") for p in pods) and not finished(job) \
            and age(job, now) > POD_CREATION_GRACE:
        creation_failure = await pod_creation_failure(client, job, pods)
    obs = observe(job, pods, tj.spec.suspend, creation_failure)
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
        if result.validation_split and obs.phase == "Succeeded":
            update["validationSplit"] = {"path": held_out_path(tj), "examples": result.validation_split.examples,
                                         "sha256": result.validation_split.sha256}
    if obs.phase == "Succeeded":
        model = await ensure_model(client, tj, result)
        update["modelRef"] = {"name": model}
        update["message"] = f"{obs.message}; registered FineTunedModel {model}"
        if result and result.metrics and result.metrics.steps is not None:
            progress = dict(status.get("progress") or {})
            progress.update({"step": result.metrics.steps, "percent": 100.0, "etaSeconds": 0, "eta": "0s"})
            if result.metrics.train_loss is not None:
                progress["loss"] = round(result.metrics.train_loss, 4)
            update["progress"] = progress
    if changed(status, update):
        await patch_status(runtime, body, update)
    await _emit_transition(runtime, body, status.get("phase"), obs.phase, obs.reason, update["message"])
    if obs.phase == "Running":
        runtime.ensure_task((*key, "progress"), lambda: follow_progress(runtime, ns, name, meta["uid"]))
    else:
        runtime.cancel_task((*key, "progress"))
    if obs.finished:
        return await _expire(runtime, tj, update.get("completionTime"))
    if obs.phase == "Queued" and obs.reason in ("PodCreating", "FailedCreate"):
        return WAITING  # the Job controller's FailedCreate events are not watched
    return None


async def patch_status(runtime: Runtime, body: Mapping[str, Any], status: Json) -> None:
    await write_status(runtime, KIND, TRAININGJOBS, body, status)


async def _foreign_job(runtime: Runtime, body: Mapping[str, Any], job: Json) -> Requeue:
    """A Job with this job's name that belongs to another owner: an earlier TrainingJob of the same name (deleted,
    not yet garbage-collected) is removed and waited for; anything else is a name conflict the user must solve."""
    job_name = job["metadata"]["name"]
    if is_ours(job):
        await remove_leftover(runtime.client, JOBS, job)
        await _set_phase(runtime, body, "Pending", "RemovingLeftover",
                         f"Job {job_name} belongs to an earlier TrainingJob of the same name; waiting for it to be "
                         "deleted", ("Validated", False))
    else:
        await _set_phase(runtime, body, "Pending", "NameConflict",
                         f"a Job named {job_name} exists and was not created by kubetune for this TrainingJob; "
                         "delete it or rename the TrainingJob", ("Validated", False))
    return WAITING
