"""A FineTunedModel's phase and target status from what its reconcile found. Pure: no I/O, the clock is passed in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .model_targets import TargetState

Json = dict[str, Any]
# Failures that depend on a serving target, not on the adapter: checked again whenever the target changes.
TARGET_FAILURES = ("RankTooHigh", "BaseModelMismatch")


def _format(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def target_status(state: TargetState, previous: Json | None, now: datetime) -> Json:
    """status.targets[] for one target; a pod keeps the loadedAt it was first seen loaded at."""
    loaded_before = {p["name"]: p.get("loadedAt") for p in (previous or {}).get("pods") or [] if p.get("loaded")}
    pods = []
    for outcome in state.outcomes:
        entry: Json = {"name": outcome.pod.name, "ip": outcome.pod.ip, "loaded": outcome.loaded}
        if outcome.loaded:
            entry["loadedAt"] = loaded_before.get(outcome.pod.name) or _format(outcome.loaded_at or now)
        if outcome.message:
            entry["message"] = outcome.message
        pods.append(entry)
    target = state.target
    status: Json = {"deployment": target.deployment, "port": target.port, "readyReplicas": len(state.pods),
                    "loadedReplicas": sum(1 for o in state.outcomes if o.loaded), "pods": pods}
    if target.api_key_secret_ref is not None:
        # The reference, never the key: an unload after the target is removed from the spec needs it.
        status["apiKeySecretRef"] = target.api_key_secret_ref.model_dump(by_alias=True)
    if state.lora_ready is not None:
        status["loraReady"] = state.lora_ready
    failed = [o for o in state.outcomes if not o.loaded]
    if not state.verdict.ok:
        status["message"] = state.verdict.message
    elif state.problem:
        status["message"] = state.problem
    elif failed:
        status["message"] = f"{len(failed)} pod(s) without the adapter: {failed[0].pod.name}: {failed[0].message}"
    elif not state.pods:
        status["message"] = "no ready pods yet; the adapter is loaded on each pod as it turns Ready"
    return status


def phase(states: list[TargetState]) -> tuple[str, str, str]:
    """Phase, reason and message for the Ready condition."""
    if not states:
        return "Ready", "Registered", "the adapter is valid; no serving targets are set"
    for state in states:
        if not state.verdict.ok:
            return "Failed", state.verdict.reason, state.verdict.message
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
