"""Reconcile one ModelComparison: resolve what it names, run its evaluator Job, follow its progress, and record the
result and verdict. Level-triggered and idempotent, on the same control model as the other kinds.

The spec is immutable (a CEL rule), so once the evaluator's ConfigMap and Job exist the comparison is frozen: a
retried evaluator pod resumes from the samples already written and reads the same config.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..api import InvalidResource, ModelComparison, parse_resource, set_condition
from ..builders.evaluation import (
    MODELCOMPARISON_UID,
    build_evaluator_configmap,
    build_evaluator_job,
    evaluator_name,
    samples_path,
)
from ..kube import Conflict
from ..kube.client import JOBS, PODS
from .comparison_phase import ComparisonObservation, observe_comparison
from .comparison_progress import follow_evaluation
from .comparison_resolve import Resolver, Unusable, Waiting
from .jobs import POD_CREATION_GRACE, age, finished, pod_creation_failure
from .metrics import RECONCILES, TRANSITIONS
from .ownership import NameConflict, ensure_configmap, is_ours, owned_by, remove_leftover
from .resources import MODELCOMPARISONS
from .runtime import Runtime
from .status import StaleRead, changed, recovered, write_status
from .workqueue import Requeue

log = logging.getLogger(__name__)
Json = dict[str, Any]
KIND = "ModelComparison"
WAITING = Requeue(backoff=True)
WAITS = "comparison-waits"  # runtime.extras: (kind, namespace, name) -> comparisons waiting on that object


def enqueue_modelcomparison(runtime: Runtime, namespace: str, name: str, body: Mapping[str, Any] | None = None) -> None:
    runtime.enqueue(KIND, namespace, name, body)


def _waits(runtime: Runtime) -> dict[tuple[str, str, str], set[str]]:
    waits: dict[tuple[str, str, str], set[str]] = runtime.extras.setdefault(WAITS, {})
    return waits


def wake_comparisons(runtime: Runtime, kind: str, namespace: str, name: str) -> None:
    """A FineTunedModel or TrainingJob changed: the comparisons waiting on it look again at once."""
    for comparison in sorted(_waits(runtime).get((kind, namespace, name), ())):
        enqueue_modelcomparison(runtime, namespace, comparison)


def _wait_on(runtime: Runtime, namespace: str, comparison: str, depends_on: tuple[str, str] | None) -> None:
    waits = _waits(runtime)
    for key in [k for k, names in waits.items() if comparison in names and k[1] == namespace]:
        waits[key].discard(comparison)
        if not waits[key]:
            del waits[key]
    if depends_on is not None:
        waits.setdefault((depends_on[0], namespace, depends_on[1]), set()).add(comparison)


async def reconcile_modelcomparison(runtime: Runtime, namespace: str, name: str) -> Requeue | None:
    body = runtime.take(KIND, namespace, name) or await runtime.client.get_or_none(MODELCOMPARISONS, name, namespace)
    if body is None or body["metadata"].get("deletionTimestamp"):
        _wait_on(runtime, namespace, name, None)
        return None
    try:
        result = await _reconcile(runtime, body)
    except StaleRead:
        RECONCILES.labels(KIND, "retry").inc()
        return Requeue(after=0)
    except Exception:
        RECONCILES.labels(KIND, "error").inc()
        raise
    RECONCILES.labels(KIND, "ok").inc()
    return result


# -- status ----------------------------------------------------------------------------------------------------------
async def _emit(runtime: Runtime, body: Mapping[str, Any], old: str | None, new: str, reason: str,
                message: str) -> None:
    if old == new:
        return
    TRANSITIONS.labels(KIND, new).inc()
    kind = "Warning" if new == "Failed" else "Normal"
    await runtime.events.emit(body, kind, reason, f"{old or 'New'} -> {new}: {message}"[:1000])


def _conditions(previous: list[Json] | None, phase: str, reason: str, message: str, generation: int | None,
                now: datetime, resolved: bool) -> list[Json]:
    conditions = set_condition(previous, "Resolved", resolved, "Resolved" if resolved else reason,
                               "" if resolved else message, generation, now)
    conditions = set_condition(conditions, "Running", phase == "Running", reason if phase == "Running" else phase,
                               message if phase == "Running" else "", generation, now)
    conditions = set_condition(conditions, "Succeeded", phase == "Succeeded",
                               reason if phase == "Succeeded" else "NotSucceeded",
                               message if phase == "Succeeded" else "", generation, now)
    conditions = set_condition(conditions, "Failed", phase == "Failed", reason if phase == "Failed" else "NotFailed",
                               message if phase == "Failed" else "", generation, now)
    return recovered(conditions, generation, now)


async def _set_phase(runtime: Runtime, body: Mapping[str, Any], phase: str, reason: str, message: str,
                     resolved: bool = False) -> None:
    meta = body["metadata"]
    status = body.get("status") or {}
    now = datetime.now(UTC)
    update = {"phase": phase, "reason": reason, "message": message, "observedGeneration": meta.get("generation"),
              "conditions": _conditions(status.get("conditions"), phase, reason, message, meta.get("generation"), now,
                                        resolved)}
    if changed(status, update):
        await write_status(runtime, KIND, MODELCOMPARISONS, body, update)
    await _emit(runtime, body, status.get("phase"), phase, reason, message)


# -- the reconcile ---------------------------------------------------------------------------------------------------
async def _reconcile(runtime: Runtime, body: Mapping[str, Any]) -> Requeue | None:
    meta = body["metadata"]
    ns, name = meta["namespace"], meta["name"]
    key = (KIND, ns, name)
    status: Json = body.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        runtime.cancel_task((*key, "progress"))
        _wait_on(runtime, ns, name, None)
        return None  # the spec cannot change: the result stands
    try:
        mc = parse_resource(body)
    except InvalidResource as e:
        await _set_phase(runtime, body, "Failed", "InvalidSpec", str(e))
        return None
    assert isinstance(mc, ModelComparison)
    image = mc.spec.image
    if image is not None and not runtime.settings.image_allowed(image):
        await _set_phase(runtime, body, "Failed", "ImageNotAllowed", f"spec.image {image!r} is not in the operator's "
                         "allowed images (KUBETUNE_ALLOWED_IMAGES); remove spec.image to use the evaluator image")
        return None

    client = runtime.client
    job = await client.get_or_none(JOBS, evaluator_name(mc), ns)
    if job is not None and not owned_by(job, mc.metadata.uid):
        if is_ours(job):
            await remove_leftover(client, JOBS, job)
            await _set_phase(runtime, body, "Pending", "RemovingLeftover", f"Job {job['metadata']['name']} belongs "
                             "to an earlier ModelComparison of the same name; waiting for it to be deleted")
        else:
            await _set_phase(runtime, body, "Pending", "NameConflict", f"a Job named {job['metadata']['name']} exists "
                             "and was not created by kubetune for this ModelComparison")
        return WAITING
    if job is None:
        try:
            facts = await Resolver(client, mc).resolve()
        except Waiting as e:
            _wait_on(runtime, ns, name, e.depends_on)
            await _set_phase(runtime, body, "Pending", e.reason, e.message)
            return WAITING
        except Unusable as e:
            _wait_on(runtime, ns, name, None)
            await _set_phase(runtime, body, "Failed", e.reason, e.message)
            return None
        _wait_on(runtime, ns, name, None)
        try:
            await ensure_configmap(client, build_evaluator_configmap(mc, facts, runtime.settings), mc.metadata.uid,
                                   KIND)
        except NameConflict as e:
            await _set_phase(runtime, body, "Pending", "NameConflict", str(e))
            return WAITING
        manifest = build_evaluator_job(mc, facts, runtime.settings)
        try:
            job = await client.create(JOBS, manifest, ns)
            log.info("created evaluator Job %s/%s for ModelComparison %s", ns, manifest["metadata"]["name"], name)
        except Conflict:
            return Requeue(after=0)  # created meanwhile: the next pass reads it

    pods = await client.list(PODS, ns, label_selector=f"{MODELCOMPARISON_UID}={mc.metadata.uid}")
    now = datetime.now(UTC)
    creation_failure = None
    if not any(p.get("status", {}).get("phase") in ("Pending", "Running") for p in pods) and not finished(job) \
            and age(job, now) > POD_CREATION_GRACE:
        creation_failure = await pod_creation_failure(client, job, pods)
    obs = observe_comparison(job, pods, creation_failure)
    update = _status_update(mc, obs, status, now)
    if changed(status, update):
        await write_status(runtime, KIND, MODELCOMPARISONS, body, update)
    await _emit(runtime, body, status.get("phase"), obs.phase, obs.reason, update["message"])
    if obs.phase == "Succeeded" and obs.result is not None and obs.result.results is not None:
        verdict = obs.result.results.verdict
        await runtime.events.emit(body, "Normal", "Verdict", f"verdict {verdict}: {update['message']}"[:1000])
    if obs.phase == "Running":
        runtime.ensure_task((*key, "progress"), lambda: follow_evaluation(runtime, ns, name, meta["uid"]))
    else:
        runtime.cancel_task((*key, "progress"))
    if obs.phase == "Pending" and obs.reason in ("PodCreating", "FailedCreate"):
        return WAITING
    return None


def _status_update(mc: ModelComparison, obs: ComparisonObservation, status: Json, now: datetime) -> Json:
    generation = mc.metadata.generation
    message = obs.message
    update: Json = {"phase": obs.phase, "reason": obs.reason, "jobName": evaluator_name(mc),
                    "observedGeneration": generation}
    if obs.start_time and not status.get("startTime"):
        update["startTime"] = obs.start_time
    if obs.completion_time:
        update["completionTime"] = obs.completion_time
    results = obs.result.results if obs.result is not None else None
    if results is not None:
        rendered = results.model_dump(by_alias=True, exclude_none=True, mode="json")
        where = samples_path(mc)
        if where:
            rendered["samplesPath"] = where
        update["results"] = rendered
        if obs.phase == "Succeeded":
            message = results.verdict_message or message
            progress = dict(status.get("progress") or {})
            progress.update({"done": results.samples, "total": results.samples, "inFlight": 0, "percent": 100.0})
            update["progress"] = {k: v for k, v in progress.items() if v is not None}
    update["message"] = message
    update["conditions"] = _conditions(status.get("conditions"), obs.phase, obs.reason, message, generation, now,
                                       resolved=True)
    return update
