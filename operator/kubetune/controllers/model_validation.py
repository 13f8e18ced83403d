"""Validate a FineTunedModel's adapter: run the inspection pod, read its report, and check it against the targets
(rank against --max-lora-rank, base model against the served base). Nothing is loaded unless every check passes.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from ..api import FineTunedModel
from ..builders.adapter_validation import build_validation_pod, validation_pod_name
from ..kube import Conflict, KubeClient
from ..kube.client import PODS
from ..serving.targets import TargetFacts
from ..settings import OperatorSettings

Json = dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    """The result of a check: ``ok``, or a CamelCase reason and a message the user can act on."""

    ok: bool
    reason: str = ""
    message: str = ""


PENDING = Verdict(False, "Validating", "the adapter validation pod is running")


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


async def inspect_adapter(client: KubeClient, ftm: FineTunedModel, settings: OperatorSettings) -> Json | None:
    """The inspection report, or None while the validation pod runs (its events trigger the next reconcile)."""
    ns = ftm.metadata.namespace or ""
    name = validation_pod_name(ftm)
    pod = await client.get_or_none(PODS, name, ns)
    if pod is None:
        with contextlib.suppress(Conflict):
            await client.create(PODS, build_validation_pod(ftm, settings), ns)
        return None
    if pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
        return None
    return _report_from(pod)


async def forget_validation_pod(client: KubeClient, ftm: FineTunedModel) -> None:
    await client.delete(PODS, validation_pod_name(ftm), ftm.metadata.namespace or "", grace_seconds=0)


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
    """The adapter against one serving target's configuration."""
    if rank is not None and rank > facts.max_lora_rank:
        return Verdict(False, "RankTooHigh", f"adapter rank {rank} exceeds --max-lora-rank {facts.max_lora_rank} of "
                       f"Deployment {deployment}; raise --max-lora-rank there or train with a lower spec.lora.r")
    if facts.served_names and ftm.spec.base_model.name not in facts.served_names:
        return Verdict(False, "BaseModelMismatch", f"Deployment {deployment} serves {', '.join(facts.served_names)}, "
                       f"not the adapter's base model {ftm.spec.base_model.name}")
    return Verdict(True)
