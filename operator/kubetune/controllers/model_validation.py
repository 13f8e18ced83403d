"""Validate a FineTunedModel's adapter: run the inspection pod, read its report, and check it against the targets
(rank against --max-lora-rank, base model against the served base). Nothing is loaded unless every check passes.

The pod is bounded: one that cannot pull its image, is never scheduled, or fails without a report is retried a few
times with the reason shown in status, then the model fails ``ValidationFailed`` with that reason.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..api import FineTunedModel
from ..builders.adapter_validation import build_validation_pod, validation_pod_name
from ..kube import Conflict, KubeClient
from ..kube.client import PODS
from ..serving.targets import TargetFacts
from ..settings import OperatorSettings
from .ownership import owned_by

Json = dict[str, Any]
MAX_ATTEMPTS = 3
# Waiting reasons that do not clear on their own while the pod exists.
STUCK = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
         "CreateContainerError", "ErrImageNeverPull")


@dataclass(frozen=True)
class Verdict:
    """The result of a check: ``ok``, or a CamelCase reason and a message the user can act on."""

    ok: bool
    reason: str = ""
    message: str = ""


PENDING = Verdict(False, "Validating", "the adapter validation pod is running")


@dataclass(frozen=True)
class Inspection:
    """Where validation stands: a ``report``, still ``waiting`` (with why), or this ``attempt`` ``failed``."""

    report: Json | None = None
    waiting: Verdict | None = None
    failed: Verdict | None = None
    recheck_after: float | None = None  # while waiting: when the pod will have outlived its bound


def _report_from(pod: Json) -> Json | None:
    for status in pod.get("status", {}).get("containerStatuses") or []:
        terminated = (status.get("state") or {}).get("terminated")
        if terminated:
            try:
                return dict(json.loads(terminated.get("message") or ""))
            except ValueError:
                return {"problems": [{"reason": "ValidationFailed", "message": (terminated.get("message") or
                                      f"the validation pod exited with {terminated.get('exitCode')}")[-500:]}]}
    return None


def _age(pod: Json, now: datetime) -> float:
    created = pod["metadata"].get("creationTimestamp")
    if not created:
        return 0.0
    return (now - datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)).total_seconds()


def read_pod(pod: Json, deadline: float, now: datetime) -> Inspection:
    """What the validation pod says. Pure."""
    status = pod.get("status") or {}
    phase = status.get("phase")
    if phase in ("Succeeded", "Failed"):
        report = _report_from(pod)
        if report is not None:
            return Inspection(report=report)
        # Failed without a container ever terminating: an activeDeadlineSeconds, an eviction, a node gone.
        why = status.get("message") or status.get("reason") or "the pod failed before the inspection ran"
        return Inspection(failed=Verdict(False, status.get("reason") or "PodFailed", why))
    age = _age(pod, now)
    # A started pod is stopped by its own activeDeadlineSeconds; give the kubelet's verdict a moment to arrive.
    # activeDeadlineSeconds counts only from the pod's start: the operator bounds the time before it.
    bound = deadline + max(10.0, deadline * 0.2) if phase == "Running" else deadline
    waiting = PENDING
    for container in status.get("containerStatuses") or []:
        state = (container.get("state") or {}).get("waiting") or {}
        if state.get("reason") in STUCK:
            waiting = Verdict(False, state["reason"], f"the validation pod cannot start: {state['reason']}: "
                              f"{state.get('message', '')}".rstrip(": "))
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            waiting = Verdict(False, condition.get("reason") or "Unschedulable",
                              f"the validation pod is not scheduled: {condition.get('message', '')}")
    if age > bound:
        if waiting is PENDING:
            waiting = Verdict(False, "DeadlineExceeded", f"the validation pod did not report within {int(bound)}s")
        return Inspection(failed=waiting)
    return Inspection(waiting=waiting, recheck_after=bound - age + 1)


async def inspect_adapter(client: KubeClient, ftm: FineTunedModel, settings: OperatorSettings) -> Inspection:
    """Run (or read) the validation pod; its events trigger the next reconcile."""
    ns = ftm.metadata.namespace or ""
    name = validation_pod_name(ftm)
    pod = await client.get_or_none(PODS, name, ns)
    if pod is not None and not owned_by(pod, ftm.metadata.uid):
        # An earlier FineTunedModel of the same name left it: its report is about another adapter.
        await forget_validation_pod(client, pod)
        return Inspection(waiting=Verdict(False, "RemovingLeftover", f"removing pod {name}, left by an earlier "
                                          "FineTunedModel of the same name"))
    if pod is None:
        with contextlib.suppress(Conflict):
            await client.create(PODS, build_validation_pod(ftm, settings), ns)
        return Inspection(waiting=PENDING)
    inspection = read_pod(pod, settings.validation_deadline, datetime.now(UTC))
    if inspection.failed is not None:
        await forget_validation_pod(client, pod)
    return inspection


async def forget_validation_pod(client: KubeClient, pod: Json) -> None:
    meta = pod["metadata"]
    with contextlib.suppress(Conflict):
        await client.delete(PODS, meta["name"], meta["namespace"], grace_seconds=0, uid=meta["uid"])


async def forget_validation_pod_of(client: KubeClient, ftm: FineTunedModel) -> None:
    pod = await client.get_or_none(PODS, validation_pod_name(ftm), ftm.metadata.namespace or "")
    if pod is not None and owned_by(pod, ftm.metadata.uid):
        await forget_validation_pod(client, pod)


def check_report(ftm: FineTunedModel, report: Json) -> Verdict:
    """Problems the pod found, and the adapter's base model against the one the spec names."""
    problems = report.get("problems") or []
    if problems:
        return Verdict(False, problems[0]["reason"], "; ".join(p["message"] for p in problems))
    base = report.get("baseModel")
    if base and base != ftm.spec.base_model.name:
        return Verdict(False, "BaseModelMismatch", f"the adapter was trained on {base} (base_model_name_or_path in "
                       f"adapter_config.json) but spec.baseModel.name is {ftm.spec.base_model.name}")
    return Verdict(True, "AdapterValid", f"rank {report.get('rank')}, {report.get('sizeBytes', 0)} bytes, "
                   f"sha256 {str(report.get('sha256', ''))[:12]}")


def check_target(ftm: FineTunedModel, rank: int | None, deployment: str, facts: TargetFacts) -> Verdict:
    """The adapter against one serving target's configuration (``rank`` None: the target will be prepared for it)."""
    if rank is not None and rank > facts.max_lora_rank:
        return Verdict(False, "RankTooHigh", f"adapter rank {rank} exceeds --max-lora-rank {facts.max_lora_rank} of "
                       f"Deployment {deployment}; raise --max-lora-rank there or train with a lower spec.lora.r")
    if facts.served_names and ftm.spec.base_model.name not in facts.served_names:
        return Verdict(False, "BaseModelMismatch", f"Deployment {deployment} serves {', '.join(facts.served_names)}, "
                       f"not the adapter's base model {ftm.spec.base_model.name}")
    return Verdict(True)
