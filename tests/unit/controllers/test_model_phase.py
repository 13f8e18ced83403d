"""model_phase: a FineTunedModel's phase and per-target status from what its reconcile found."""

from __future__ import annotations

from datetime import UTC, datetime

from kubetune.api import SecretKeyRef, ServingTarget
from kubetune.controllers.model_phase import phase, target_status
from kubetune.controllers.model_targets import TargetState
from kubetune.controllers.model_validation import Verdict
from kubetune.serving.rollout import PodEndpoint, PodOutcome

NOW = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
EARLIER = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)


def state(deployment: str = "vllm", pods: int = 2, loaded: int = 2, **kwargs: object) -> TargetState:
    endpoints = [PodEndpoint(f"{deployment}-{i}", f"127.0.0.{i + 2}", 8000) for i in range(pods)]
    found = TargetState(ServingTarget(deployment=deployment), pods=endpoints, **kwargs)  # type: ignore[arg-type]
    found.outcomes = [PodOutcome(p, i < loaded, NOW if i < loaded else None, None if i < loaded else "refused")
                      for i, p in enumerate(endpoints)]
    return found


def test_no_targets_is_ready() -> None:
    assert phase([])[0] == "Ready"


def test_every_ready_pod_loaded_is_serving() -> None:
    assert phase([state(), state("other", pods=1, loaded=1)]) == (
        "Serving", "Loaded", "served by 3 pod(s) across 2 Deployment(s)")


def test_a_target_check_failure_is_failed_and_names_the_target() -> None:
    bad = state(pods=0, loaded=0)
    bad.verdict = Verdict(False, "RankTooHigh", "adapter rank 32 exceeds --max-lora-rank 16 of Deployment vllm")
    assert phase([state("ok"), bad])[:2] == ("Failed", "RankTooHigh")


def test_problems_and_refusals_are_degraded() -> None:
    assert phase([state().blocked("TargetNotLoraReady", "add --enable-lora")])[:2] == ("Degraded",
                                                                                        "TargetNotLoraReady")
    assert phase([state(loaded=1)])[:2] == ("Degraded", "LoadFailed")


def test_no_ready_pods_is_deploying() -> None:
    assert phase([state(pods=0, loaded=0)])[:2] == ("Deploying", "WaitingForPods")


def test_target_status_keeps_first_load_times_and_never_the_key() -> None:
    found = state()
    found.target = ServingTarget(deployment="vllm", port=8001,
                                 api_key_secret_ref=SecretKeyRef(name="vllm-key", key="token"))
    previous = {"pods": [{"name": "vllm-0", "loaded": True, "loadedAt": "2026-03-01T09:00:00Z"}]}
    status = target_status(found, previous, NOW)
    assert [p["loadedAt"] for p in status["pods"]] == ["2026-03-01T09:00:00Z", "2026-03-01T10:00:00Z"]
    assert (status["port"], status["loadedReplicas"], status["readyReplicas"]) == (8001, 2, 2)
    assert status["apiKeySecretRef"] == {"name": "vllm-key", "key": "token"}
    assert target_status(found, previous, NOW) == status, "the same facts render the same status: no rewrite"
