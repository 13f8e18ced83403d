"""Reconcile one FineTunedModel: validate its adapter once, check every serving target, hot-load the adapter into
every ready vLLM pod, unload it from targets that were removed, and unload everywhere before the object goes.

The queue runs one reconcile per model at a time, and every action on the model (load, unload on removal or on
delete) happens inside it: an unload can never race a load of the same model. Idempotent: /v1/models decides what is
already loaded, so any trigger may call it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ..api import (
    FineTunedModel,
    InvalidResource,
    SecretKeyRef,
    ServingTarget,
    get_condition,
    parse_resource,
    set_condition,
)
from ..api.finetunedmodel import READY
from ..kube import Conflict, Invalid
from ..kube.client import DEPLOYMENTS
from ..serving.model_lists import ModelLists
from ..serving.rollout import RolloutPolicy, load_everywhere, unload_everywhere
from ..serving.vllm import VLLMClient
from .metrics import ADAPTER_LOADS, MODEL_LIST_READS, RECONCILES, ROLLOUT_SECONDS, TRANSITIONS
from .model_phase import phase as model_phase
from .model_phase import target_status
from .model_targets import SecretNotUsable, TargetState, inspect_target, read_api_key, ready_endpoints
from .model_validation import MAX_ATTEMPTS, PENDING, Verdict, check_report, forget_validation_pod_of, inspect_adapter
from .model_watches import TargetWatches
from .resources import FINETUNEDMODELS
from .runtime import Runtime
from .status import StaleRead, changed, recovered, write_status
from .workqueue import Requeue

log = logging.getLogger(__name__)
Json = dict[str, Any]
KIND = "FineTunedModel"
FINALIZER = "kubetune.dev/finalizer"
RESYNC_SECONDS = 60.0  # a safety net: a vLLM process that restarts in place without its pod leaving Ready
UNWATCHED = ("SecretNotFound", "SecretNotMarked", "SecretKeyNotFound")


def enqueue_finetunedmodel(runtime: Runtime, namespace: str, name: str, body: Mapping[str, Any] | None = None) -> None:
    runtime.enqueue(KIND, namespace, name, body)


def target_watches(runtime: Runtime) -> TargetWatches:
    watches = runtime.extras.get("target-watches")
    if watches is None:
        watches = runtime.extras["target-watches"] = TargetWatches(
            runtime.client, lambda ns, name: enqueue_finetunedmodel(runtime, ns, name))
    assert isinstance(watches, TargetWatches)
    return watches


def model_lists(runtime: Runtime) -> ModelLists:
    lists = runtime.extras.get("model-lists")
    if lists is None:
        lists = runtime.extras["model-lists"] = ModelLists(vllm_client(runtime), on_read=MODEL_LIST_READS.inc)
    assert isinstance(lists, ModelLists)
    return lists


def vllm_client(runtime: Runtime) -> VLLMClient:
    return VLLMClient(runtime.http, timeout=runtime.settings.adapter_load_timeout)


def rollout_policy(runtime: Runtime) -> RolloutPolicy:
    return RolloutPolicy(concurrency=runtime.settings.adapter_load_concurrency,
                         retries=runtime.settings.adapter_load_retries)


async def reconcile_finetunedmodel(runtime: Runtime, namespace: str, name: str) -> Requeue | None:
    body = runtime.take(KIND, namespace, name) or await runtime.client.get_or_none(FINETUNEDMODELS, name, namespace)
    if body is None:
        target_watches(runtime).set_targets(namespace, name, set())
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


# -- writing status ------------------------------------------------------------------------------------------------
async def _emit(runtime: Runtime, body: Mapping[str, Any], old: str | None, new: str, reason: str,
                message: str) -> None:
    if old != new:
        TRANSITIONS.labels(KIND, new).inc()
        kind = "Warning" if new in ("Failed", "Degraded") else "Normal"
        await runtime.events.emit(body, kind, reason, f"{old or 'New'} -> {new}: {message}"[:1000])


async def _write(runtime: Runtime, body: Mapping[str, Any], update: Json) -> Mapping[str, Any]:
    status = body.get("status") or {}
    if not changed(status, update):
        return body
    return await write_status(runtime, KIND, FINETUNEDMODELS, body, update)


async def _set_phase(runtime: Runtime, body: Mapping[str, Any], phase: str, verdict: Verdict,
                     extra: Json | None = None) -> None:
    meta = body["metadata"]
    status = body.get("status") or {}
    now = datetime.now(UTC)
    conditions = set_condition(status.get("conditions"), READY, phase in ("Serving", "Ready"), verdict.reason,
                               verdict.message, meta.get("generation"), now)
    await _write(runtime, body, {"phase": phase, "reason": verdict.reason, "message": verdict.message,
                                 "conditions": recovered(conditions, meta.get("generation"), now),
                                 "observedGeneration": meta.get("generation"), **(extra or {})})
    await _emit(runtime, body, status.get("phase"), phase, verdict.reason, verdict.message)


# -- the finalizer -------------------------------------------------------------------------------------------------
async def _set_finalizer(runtime: Runtime, body: Mapping[str, Any], present: bool) -> Mapping[str, Any] | None:
    """Add or remove kubetune's finalizer, conditional on the list as read (other controllers may have theirs)."""
    meta = body["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    wanted = [*finalizers, FINALIZER] if present else [f for f in finalizers if f != FINALIZER]
    ops: list[Json] = [{"op": "test", "path": "/metadata/finalizers", "value": finalizers}] if finalizers else []
    ops.append({"op": "add", "path": "/metadata/finalizers", "value": wanted})
    try:
        written = await runtime.client.patch(FINETUNEDMODELS, meta["name"], ops, meta["namespace"],
                                             patch_type="json")
    except (Conflict, Invalid) as e:  # a failed test op is 422
        runtime.drop_offered(KIND, meta["namespace"], meta["name"])
        raise StaleRead(f"finalizers of {meta['name']} changed") from e
    runtime.wrote(KIND, meta["namespace"], meta["name"], written)
    return written if present else None


def _serving_targets(body: Mapping[str, Any]) -> list[ServingTarget]:
    """The targets a model is loaded on or should be: the spec's, and those still in status after being removed
    from it (until they are unloaded)."""
    spec = [ServingTarget.model_validate(t) for t in ((body.get("spec") or {}).get("serving") or {}).get("targets")
            or []]
    named = {t.deployment for t in spec}
    for old in (body.get("status") or {}).get("targets") or []:
        if old["deployment"] not in named:
            ref = old.get("apiKeySecretRef")
            spec.append(ServingTarget(deployment=old["deployment"], port=old.get("port") or 8000,
                                      api_key_secret_ref=SecretKeyRef.model_validate(ref) if ref else None))
    return spec


async def unload_targets(runtime: Runtime, model: Mapping[str, Any],
                         targets: list[ServingTarget]) -> dict[str, dict[str, str]]:
    """Unload the model's adapter from every pod of these targets, within the operator's unload deadline; each unload
    goes to the mirror's deployment history. Returns, by Deployment, the pods where it was not confirmed and why."""
    meta = model["metadata"]
    namespace, served_name = meta["namespace"], (model.get("spec") or {}).get("servedName") or ""
    failures: dict[str, dict[str, str]] = {}
    for i, target in enumerate(targets):
        deployment = await runtime.client.get_or_none(DEPLOYMENTS, target.deployment, namespace)
        if deployment is None:
            continue
        pods = await ready_endpoints(runtime.client, deployment, target.port, target_watches(runtime))
        api_key = None
        if target.api_key_secret_ref:
            ref = target.api_key_secret_ref
            with contextlib.suppress(SecretNotUsable):
                api_key = await read_api_key(runtime.client, namespace, ref.name, ref.key, f"targets[{i}]")
        outcomes = await unload_everywhere(vllm_client(runtime), pods, served_name, api_key, rollout_policy(runtime),
                                           runtime.settings.unload_deadline, model_lists(runtime))
        for outcome in outcomes:
            if outcome.attempted:
                _record(runtime, model, target.deployment, outcome.pod.name, "unload", outcome.error is None,
                        outcome.seconds, outcome.error)
        failed = {o.pod.name: o.error for o in outcomes if o.error}
        if failed:
            failures[target.deployment] = failed
    return failures


def _record(runtime: Runtime, model: Mapping[str, Any], target: str, pod: str, action: str, ok: bool,
            seconds: float | None, message: str | None) -> None:
    """One row of the deployment history: a load, unload or failed load on one pod."""
    if runtime.mirror is None:
        return
    meta = model["metadata"]
    runtime.mirror.record_deployment(
        model_uid=meta["uid"], namespace=meta["namespace"], model=meta["name"], target=target, pod=pod,
        action="load" if action == "load" else "unload", outcome="succeeded" if ok else "failed",
        served_name=(model.get("spec") or {}).get("servedName"),
        latency_ms=round(seconds * 1000, 3) if seconds is not None else None, message=message)


async def _finalize(runtime: Runtime, body: Mapping[str, Any]) -> None:
    meta = body["metadata"]
    ns, name = meta["namespace"], meta["name"]
    if FINALIZER in (meta.get("finalizers") or []):
        if (body.get("spec") or {}).get("servedName"):
            failures = await unload_targets(runtime, body, _serving_targets(body))
            for deployment, pods in failures.items():
                log.warning("adapter of %s not confirmed unloaded on %s: %s", name, deployment,
                            ", ".join(sorted(pods)))
        await _set_finalizer(runtime, body, present=False)
    target_watches(runtime).set_targets(ns, name, set())


# -- the reconcile -------------------------------------------------------------------------------------------------
async def _reconcile(runtime: Runtime, body: Json) -> Requeue | None:
    meta = body["metadata"]
    ns, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    if meta.get("deletionTimestamp"):
        await _finalize(runtime, body)
        return None
    status: Json = body.get("status") or {}
    validated = get_condition(status.get("conditions"), "Validated")
    if status.get("phase") == "Failed" and status.get("observedGeneration") == generation and (
            status.get("reason") == "InvalidSpec" or (validated or {}).get("status") == "False"):
        return None  # the spec or the adapter itself is bad: it stands until the spec changes (target failures,
        # found with a valid adapter, are checked again on every pass: the Deployment may have been fixed)
    try:
        ftm = parse_resource(body)
    except InvalidResource as e:
        await _set_phase(runtime, body, "Failed", Verdict(False, "InvalidSpec", str(e)))
        return None
    assert isinstance(ftm, FineTunedModel)
    targets = _serving_targets(body)
    watches = target_watches(runtime)
    watches.set_targets(ns, name, {t.deployment for t in targets})
    if targets and FINALIZER not in (meta.get("finalizers") or []):
        body = dict(await _set_finalizer(runtime, body, present=True) or body)  # cleanup is real: it gets loaded

    adapter = await _validated(runtime, body, ftm)
    if isinstance(adapter, Requeue) or adapter is None:
        return adapter
    status = body.get("status") or {}  # as validation left it (its conditions, its write's resourceVersion)
    rank = adapter.get("rank")
    wanted = ftm.spec.serving.targets if ftm.spec.serving else []
    states = [await inspect_target(runtime.client, ftm, t, int(rank) if rank is not None else None, watches, i)
              for i, t in enumerate(wanted)]
    # Every target's checks pass before anything is loaded anywhere.
    if all(s.verdict.ok for s in states):
        await _load(runtime, body, ftm, states)
    removed = [t for t in targets if t.deployment not in {w.deployment for w in wanted}]
    still_loaded = await _unload_removed(runtime, body, ftm, removed)

    previous = {t["deployment"]: t for t in status.get("targets") or []}
    now = datetime.now(UTC)
    target_list = [target_status(s, previous.get(s.target.deployment), now) for s in states]
    target_list += [previous[d] for d in still_loaded if d in previous]
    phase, reason, message = model_phase(states)
    ready_pods = sum(len(s.pods) for s in states)
    loaded_pods = sum(1 for s in states for o in s.outcomes if o.loaded)
    conditions = set_condition(status.get("conditions"), READY, phase in ("Serving", "Ready"), reason, message,
                               generation, now)
    update = {"phase": phase, "reason": reason, "message": message, "targets": target_list,
              "conditions": recovered(conditions, generation, now), "servedReplicas": loaded_pods,
              "loaded": f"{loaded_pods}/{ready_pods}", "observedGeneration": generation}
    await _write(runtime, body, update)
    await _emit(runtime, body, status.get("phase"), phase, reason, message)
    if still_loaded or any(s.problem_reason in UNWATCHED or any(not o.loaded for o in s.outcomes) for s in states):
        return Requeue(backoff=True)  # waiting on what no watch reports: a Secret, a pod that refused or timed out
    return Requeue(after=RESYNC_SECONDS) if wanted else None


async def _load(runtime: Runtime, body: Json, ftm: FineTunedModel, states: list[TargetState]) -> None:
    vllm, lists = vllm_client(runtime), model_lists(runtime)
    for state in states:
        if state.problem is None and state.pods and state.lora_path:
            with ROLLOUT_SECONDS.time():
                state.outcomes = await load_everywhere(vllm, state.pods, ftm.spec.served_name, state.lora_path,
                                                       state.api_key, rollout_policy(runtime), lists)
            for outcome in state.outcomes:
                ADAPTER_LOADS.labels("failed" if not outcome.loaded else
                                     "loaded" if outcome.attempted else "present").inc()
                if outcome.attempted or not outcome.loaded:
                    _record(runtime, body, state.target.deployment, outcome.pod.name, "load", outcome.loaded,
                            outcome.seconds, outcome.message)


async def _unload_removed(runtime: Runtime, body: Json, ftm: FineTunedModel,
                          removed: list[ServingTarget]) -> list[str]:
    """Unload from targets no longer in the spec; the ones still not confirmed stay in status for the next pass."""
    if not removed:
        return []
    failures = await unload_targets(runtime, body, removed)
    for deployment, pods in failures.items():
        log.warning("adapter %s not confirmed unloaded from removed target %s on %s", ftm.spec.served_name,
                    deployment, ", ".join(sorted(pods)))
    return sorted(failures)


async def _validated(runtime: Runtime, body: Json, ftm: FineTunedModel) -> Json | Requeue | None:
    """The adapter report (cached in status once valid); a Requeue while validating; None after failing."""
    client = runtime.client
    status = body.get("status") or {}
    meta = body["metadata"]
    if status.get("adapter") and any(c["type"] == "Validated" and c["status"] == "True"
                                     for c in status.get("conditions") or []):
        return dict(status["adapter"])
    generation = meta.get("generation")
    now = datetime.now(UTC)
    if ftm.spec.adapter.pvc is None:
        report: Json = {"baseModel": None}  # remote adapters are checked by vLLM when it loads them
    else:
        inspection = await inspect_adapter(client, ftm, runtime.settings)
        if inspection.failed is not None:
            attempts = int(status.get("validationAttempts") or 0) + 1
            why = f"attempt {attempts} of {MAX_ATTEMPTS}: {inspection.failed.reason}: {inspection.failed.message}"
            if attempts >= MAX_ATTEMPTS:
                verdict = Verdict(False, "ValidationFailed", f"the adapter could not be validated: {why}")
                conditions = set_condition(status.get("conditions"), "Validated", False, verdict.reason,
                                           verdict.message, generation, now)
                await _set_phase(runtime, {**body, "status": {**status, "conditions": conditions}}, "Failed",
                                 verdict, {"validationAttempts": attempts})
                return None
            verdict = Verdict(False, "ValidationRetrying", f"the validation pod failed ({why}); retrying")
            await _set_phase(runtime, body, "Validating", verdict, {"validationAttempts": attempts})
            return Requeue(backoff=True)
        if inspection.report is None:
            waiting = inspection.waiting or PENDING
            conditions = set_condition(status.get("conditions"), "Validated", "Unknown", waiting.reason,
                                       waiting.message, generation, now)
            await _set_phase(runtime, {**body, "status": {**status, "conditions": conditions}}, "Validating",
                             waiting)
            # The pod's events queue the next pass; a pod stuck without events is looked at again at its bound.
            return Requeue(after=inspection.recheck_after) if inspection.recheck_after is not None else None
        report = inspection.report
    verdict = check_report(ftm, report)
    adapter = {k: report[k] for k in ("rank", "alpha", "targetModules", "baseModel", "sha256", "sizeBytes", "files")
               if report.get(k) is not None}
    if ftm.spec.adapter.pvc is not None:
        await forget_validation_pod_of(client, ftm)
    conditions = set_condition(status.get("conditions"), "Validated", verdict.ok, verdict.reason, verdict.message,
                               generation, now)
    if not verdict.ok:
        await _set_phase(runtime, {**body, "status": {**status, "conditions": conditions}}, "Failed", verdict,
                         {"adapter": adapter} if adapter else None)
        return None
    written = await _write(runtime, body, {"adapter": adapter, "conditions": conditions})
    # The rest of the pass writes on top of this: carry its resourceVersion and conditions forward.
    body["metadata"]["resourceVersion"] = written["metadata"]["resourceVersion"]
    body["status"] = {**status, "conditions": conditions, "adapter": adapter}
    return adapter
