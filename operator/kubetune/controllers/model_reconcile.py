"""Reconcile one FineTunedModel: validate its adapter once, check every serving target, and hot-load the adapter
into every ready vLLM pod. Idempotent: /v1/models decides what is already loaded, so any trigger may call it.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..api import FineTunedModel, InvalidResource, ServingTarget, parse_resource, set_condition
from ..api.finetunedmodel import READY
from ..kube import KubeClient
from ..kube.client import DEPLOYMENTS, PODS, SECRETS
from ..serving.rollout import PodEndpoint, PodOutcome, RolloutPolicy, load_everywhere, unload_everywhere
from ..serving.targets import (
    AdapterNotMounted,
    TargetFacts,
    adapter_path_in_pod,
    is_ready,
    pod_selector,
    prepare_patch,
    target_facts,
)
from ..serving.vllm import VLLMClient
from .events import post_event
from .metrics import ADAPTER_LOADS, RECONCILES, ROLLOUT_SECONDS, TRANSITIONS
from .model_validation import PENDING, Verdict, check_report, check_target, forget_validation_pod, inspect_adapter
from .resources import FINETUNEDMODELS
from .runtime import Runtime

log = logging.getLogger(__name__)
Json = dict[str, Any]
PREPARED = "kubetune.dev/prepared-for-lora"


@dataclass
class TargetState:
    """One target, as this reconcile found it."""

    target: ServingTarget
    deployment: Json | None = None
    facts: TargetFacts | None = None
    problem: str | None = None
    problem_reason: str = ""
    lora_ready: bool | None = None
    pods: list[PodEndpoint] = field(default_factory=list)
    lora_path: str | None = None
    api_key: str | None = None
    outcomes: list[PodOutcome] = field(default_factory=list)


def _format(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def read_secret_key(client: KubeClient, namespace: str, name: str, key: str) -> str | None:
    secret = await client.get_or_none(SECRETS, name, namespace)
    data = (secret or {}).get("data") or {}
    return base64.b64decode(data[key]).decode().strip() if key in data else None


async def ready_endpoints(client: KubeClient, deployment: Json, port: int) -> list[PodEndpoint]:
    pods = await client.list(PODS, deployment["metadata"]["namespace"], label_selector=pod_selector(deployment))
    return sorted((PodEndpoint(p["metadata"]["name"], p["status"]["podIP"], port) for p in pods if is_ready(p)),
                  key=lambda e: e.name)


def vllm_client(runtime: Runtime) -> VLLMClient:
    return VLLMClient(runtime.http, timeout=runtime.settings.adapter_load_timeout)


def rollout_policy(runtime: Runtime) -> RolloutPolicy:
    return RolloutPolicy(concurrency=runtime.settings.adapter_load_concurrency,
                         retries=runtime.settings.adapter_load_retries)


async def _inspect_target(runtime: Runtime, ftm: FineTunedModel, target: ServingTarget, rank: int) -> TargetState:
    client = runtime.client
    ns = ftm.metadata.namespace or ""
    state = TargetState(target)
    state.deployment = await client.get_or_none(DEPLOYMENTS, target.deployment, ns)
    if state.deployment is None:
        state.problem_reason = "DeploymentNotFound"
        state.problem = f"Deployment {ns}/{target.deployment} not found"
        return state
    facts = state.facts = target_facts(state.deployment, target.port)
    state.lora_ready = facts.lora_ready
    claim = ftm.spec.adapter.pvc.claim_name if ftm.spec.adapter.pvc else None
    if target.prepare:
        patch = prepare_patch(state.deployment, target.port, claim, rank)
        if patch is not None:
            patch.setdefault("metadata", {})["annotations"] = {PREPARED: ftm.metadata.name}
            # Checks below read the Deployment as patched (prepare may have raised --max-lora-rank).
            state.deployment = await client.patch(DEPLOYMENTS, target.deployment, patch, ns, patch_type="strategic")
            state.facts = target_facts(state.deployment, target.port)
            state.problem_reason = "PreparingTarget"
            state.problem = (f"prepared Deployment {target.deployment} for runtime LoRA loading; its pods roll once "
                             "and get the adapter as they turn Ready")
            state.lora_ready = True
            return state
    if not facts.lora_ready:
        state.problem_reason = "TargetNotLoraReady"
        state.problem = (f"Deployment {target.deployment} is not LoRA-ready: add {' and '.join(facts.missing)} to "
                         "its vLLM container, or set prepare: true on this target")
        return state
    if ftm.spec.adapter.pvc is not None:
        try:
            state.lora_path = adapter_path_in_pod(state.deployment, target.port, ftm.spec.adapter.pvc.claim_name,
                                                  ftm.spec.adapter.pvc.path)
        except AdapterNotMounted as e:
            state.problem_reason = "AdapterNotMounted"
            state.problem = str(e)
            return state
    else:
        state.lora_path = (ftm.spec.adapter.uri or "").removeprefix("hf://")
    if target.api_key_secret_ref:
        ref = target.api_key_secret_ref
        state.api_key = await read_secret_key(client, ns, ref.name, ref.key)
        if state.api_key is None:
            state.problem_reason = "SecretKeyNotFound"
            state.problem = f"Secret {ns}/{ref.name} has no key {ref.key} (spec.serving.targets apiKeySecretRef)"
            return state
    state.pods = await ready_endpoints(client, state.deployment, target.port)
    return state


def _target_status(state: TargetState, previous: Json | None) -> Json:
    loaded_before = {p["name"]: p.get("loadedAt") for p in (previous or {}).get("pods") or [] if p.get("loaded")}
    pods = []
    for outcome in state.outcomes:
        entry: Json = {"name": outcome.pod.name, "ip": outcome.pod.ip, "loaded": outcome.loaded}
        if outcome.loaded:
            entry["loadedAt"] = loaded_before.get(outcome.pod.name) or _format(outcome.loaded_at or datetime.now(UTC))
        if outcome.message:
            entry["message"] = outcome.message
        pods.append(entry)
    status: Json = {"deployment": state.target.deployment, "readyReplicas": len(state.pods),
                    "loadedReplicas": sum(1 for o in state.outcomes if o.loaded), "pods": pods}
    if state.lora_ready is not None:
        status["loraReady"] = state.lora_ready
    failed = [o for o in state.outcomes if not o.loaded]
    if state.problem:
        status["message"] = state.problem
    elif failed:
        status["message"] = f"{len(failed)} pod(s) without the adapter: {failed[0].pod.name}: {failed[0].message}"
    elif not state.pods:
        status["message"] = "no ready pods yet; the adapter is loaded on each pod as it turns Ready"
    return status


def _phase(states: list[TargetState]) -> tuple[str, str, str]:
    """Phase, reason and message for the Ready condition."""
    if not states:
        return "Ready", "Registered", "the adapter is valid; no serving targets are set"
    for state in states:
        if state.problem:
            return "Degraded", state.problem_reason, state.problem
        failed = [o for o in state.outcomes if not o.loaded]
        if failed:
            return "Degraded", "LoadFailed", f"{len(failed)} pod(s) of {state.target.deployment} without the " \
                f"adapter; {failed[0].pod.name}: {failed[0].message}"
    if any(not s.pods for s in states):
        return "Deploying", "WaitingForPods", "waiting for ready vLLM pods"
    loaded = sum(len(s.outcomes) for s in states)
    return "Serving", "Loaded", f"served by {loaded} pod(s) across {len(states)} Deployment(s)"


async def _patch(client: KubeClient, ns: str, name: str, status: Json) -> None:
    await client.patch(FINETUNEDMODELS, name, {"status": status}, ns, subresource="status")


async def _emit(runtime: Runtime, body: Json, old: str | None, new: str, reason: str, message: str) -> None:
    if old != new:
        TRANSITIONS.labels("FineTunedModel", new).inc()
        kind = "Warning" if new in ("Failed", "Degraded") else "Normal"
        await post_event(runtime.client, body, kind, reason, f"{old or 'New'} -> {new}: {message}"[:1000])


async def _fail(runtime: Runtime, body: Json, verdict: Verdict, extra: Json | None = None) -> None:
    client = runtime.client
    meta = body["metadata"]
    status = body.get("status") or {}
    now = datetime.now(UTC)
    conditions = set_condition(status.get("conditions"), READY, False, verdict.reason, verdict.message,
                               meta.get("generation"), now)
    await _patch(client, meta["namespace"], meta["name"], {
        "phase": "Failed", "reason": verdict.reason, "message": verdict.message, "conditions": conditions,
        "observedGeneration": meta.get("generation"), **(extra or {})})
    await _emit(runtime, body, status.get("phase"), "Failed", verdict.reason, verdict.message)


async def reconcile_finetunedmodel(runtime: Runtime, namespace: str, name: str) -> None:
    async with runtime.lock("FineTunedModel", namespace, name):
        body = await runtime.client.get_or_none(FINETUNEDMODELS, name, namespace)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return
        try:
            await _reconcile(runtime, body)
        except Exception:
            RECONCILES.labels("FineTunedModel", "error").inc()
            raise
        RECONCILES.labels("FineTunedModel", "ok").inc()


async def _validated(runtime: Runtime, body: Json, ftm: FineTunedModel) -> Json | None:
    """The adapter report (cached in status once valid); None while validating or after failing."""
    client = runtime.client
    status = body.get("status") or {}
    meta = body["metadata"]
    if status.get("adapter") and any(c["type"] == "Validated" and c["status"] == "True"
                                     for c in status.get("conditions") or []):
        return dict(status["adapter"])
    if ftm.spec.adapter.pvc is None:
        report: Json | None = {"baseModel": None}  # remote adapters are checked by vLLM when it loads them
    else:
        report = await inspect_adapter(client, ftm, runtime.settings)
    now = datetime.now(UTC)
    if report is None:
        conditions = set_condition(status.get("conditions"), "Validated", "Unknown", PENDING.reason,
                                   PENDING.message, meta.get("generation"), now)
        await _patch(client, meta["namespace"], meta["name"], {"phase": "Validating", "reason": PENDING.reason,
                                                               "message": PENDING.message, "conditions": conditions})
        await _emit(runtime, body, status.get("phase"), "Validating", PENDING.reason, PENDING.message)
        return None
    verdict = check_report(ftm, report)
    adapter = {k: report[k] for k in ("rank", "alpha", "targetModules", "baseModel", "sha256", "sizeBytes", "files")
               if report.get(k) is not None}
    if ftm.spec.adapter.pvc is not None:
        await forget_validation_pod(client, ftm)
    conditions = set_condition(status.get("conditions"), "Validated", verdict.ok, verdict.reason, verdict.message,
                               meta.get("generation"), now)
    if not verdict.ok:
        await _fail(runtime, {**body, "status": {**status, "conditions": conditions}}, verdict,
                    {"adapter": adapter} if adapter else None)
        return None
    await _patch(client, meta["namespace"], meta["name"], {"adapter": adapter, "conditions": conditions})
    body.setdefault("status", {})["conditions"] = conditions
    return adapter


async def _reconcile(runtime: Runtime, body: Json) -> None:
    client = runtime.client
    meta = body["metadata"]
    ns, name, generation = meta["namespace"], meta["name"], meta.get("generation")
    status: Json = body.get("status") or {}
    if status.get("phase") == "Failed" and status.get("observedGeneration") == generation:
        return  # a failed check does not heal without a new spec
    try:
        ftm = parse_resource(body)
    except InvalidResource as e:
        await _fail(runtime, body, Verdict(False, "InvalidSpec", str(e)))
        return
    assert isinstance(ftm, FineTunedModel)
    adapter = await _validated(runtime, body, ftm)
    if adapter is None:
        return
    rank = adapter.get("rank")
    targets = ftm.spec.serving.targets if ftm.spec.serving else []
    states = [await _inspect_target(runtime, ftm, t, int(rank or 0)) for t in targets]
    # Every target's checks pass before anything is loaded anywhere.
    for state in states:
        if state.facts is None:
            continue
        verdict = check_target(ftm, rank, state.target.deployment, state.facts)
        if not verdict.ok:
            await _fail(runtime, body, verdict)
            return
    vllm = vllm_client(runtime)
    for state in states:
        if state.problem is None and state.pods and state.lora_path:
            with ROLLOUT_SECONDS.time():
                state.outcomes = await load_everywhere(vllm, state.pods, ftm.spec.served_name, state.lora_path,
                                                       state.api_key, rollout_policy(runtime))
            for outcome in state.outcomes:
                ADAPTER_LOADS.labels("failed" if not outcome.loaded else
                                     "loaded" if outcome.attempted else "present").inc()
    previous = {t["deployment"]: t for t in status.get("targets") or []}
    target_status = [_target_status(s, previous.get(s.target.deployment)) for s in states]
    phase, reason, message = _phase(states)
    ready_pods = sum(len(s.pods) for s in states)
    loaded_pods = sum(1 for s in states for o in s.outcomes if o.loaded)
    conditions = set_condition(status.get("conditions"), READY, phase in ("Serving", "Ready"), reason, message,
                               generation, datetime.now(UTC))
    await _patch(client, ns, name, {
        "phase": phase, "reason": reason, "message": message, "targets": target_status, "conditions": conditions,
        "servedReplicas": loaded_pods, "loaded": f"{loaded_pods}/{ready_pods}", "observedGeneration": generation})
    await _emit(runtime, body, status.get("phase"), phase, reason, message)


async def unload_targets(runtime: Runtime, ftm: FineTunedModel, targets: list[ServingTarget]) -> dict[str, str]:
    """Unload the adapter from every pod of these targets, within the operator's unload deadline."""
    ns = ftm.metadata.namespace or ""
    failures: dict[str, str] = {}
    for target in targets:
        deployment = await runtime.client.get_or_none(DEPLOYMENTS, target.deployment, ns)
        if deployment is None:
            continue
        pods = await ready_endpoints(runtime.client, deployment, target.port)
        api_key = None
        if target.api_key_secret_ref:
            api_key = await read_secret_key(runtime.client, ns, target.api_key_secret_ref.name,
                                            target.api_key_secret_ref.key)
        failures.update(await unload_everywhere(vllm_client(runtime), pods, ftm.spec.served_name, api_key,
                                                rollout_policy(runtime), runtime.settings.unload_deadline))
    return failures
