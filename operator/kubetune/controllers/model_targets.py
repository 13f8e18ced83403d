"""What one serving target of a FineTunedModel looks like right now: its Deployment, what it can serve, the adapter's
path inside its pods, its API key, and its Ready pods. Checks come before any change: a target the adapter does not
fit is reported, never patched (``prepare: true`` rolls the Deployment's pods, so it waits for the checks).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from typing import Any

from ..api import FineTunedModel, ServingTarget
from ..kube import KubeClient
from ..kube.client import DEPLOYMENTS, PODS, SECRETS
from ..serving.rollout import PodEndpoint, PodOutcome
from ..serving.targets import (
    AdapterNotMounted,
    TargetFacts,
    adapter_path_in_pod,
    is_ready,
    pod_selector,
    prepare_patch,
    target_facts,
)
from .model_validation import Verdict, check_target
from .model_watches import TargetWatches

log = logging.getLogger(__name__)
Json = dict[str, Any]
PREPARED = "kubetune.dev/prepared-for-lora"
# Only Secrets carrying this label are ever sent to a vLLM pod: the operator may read every Secret in the namespace,
# and without the mark anyone who may create a FineTunedModel could have it send any Secret to a Deployment of their
# choosing.
API_KEY_LABEL = "kubetune.dev/api-key"


@dataclass
class TargetState:
    """One target, as this reconcile found it."""

    target: ServingTarget
    deployment: Json | None = None
    facts: TargetFacts | None = None
    verdict: Verdict = field(default_factory=lambda: Verdict(True))  # the adapter against this target
    problem: str | None = None
    problem_reason: str = ""
    lora_ready: bool | None = None
    pods: list[PodEndpoint] = field(default_factory=list)
    lora_path: str | None = None
    api_key: str | None = None
    outcomes: list[PodOutcome] = field(default_factory=list)

    def blocked(self, reason: str, message: str) -> TargetState:
        self.problem_reason, self.problem = reason, message
        return self


class SecretNotUsable(Exception):
    """The referenced Secret cannot be used as an API key; the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


async def read_api_key(client: KubeClient, namespace: str, name: str, key: str, field_path: str) -> str:
    """The value of an API key Secret that is marked for this use (``kubetune.dev/api-key: "true"``)."""
    secret = await client.get_or_none(SECRETS, name, namespace)
    if secret is None:
        raise SecretNotUsable("SecretNotFound", f"{field_path}: Secret {namespace}/{name} does not exist")
    if (secret["metadata"].get("labels") or {}).get(API_KEY_LABEL) != "true":
        raise SecretNotUsable("SecretNotMarked", f"{field_path}: Secret {namespace}/{name} is not labelled "
                              f'{API_KEY_LABEL}: "true"; kubetune sends only Secrets marked for this use to servers')
    data = secret.get("data") or {}
    if key not in data:
        raise SecretNotUsable("SecretKeyNotFound", f"{field_path}: Secret {namespace}/{name} has no key {key}")
    return base64.b64decode(data[key]).decode().strip()


async def ready_endpoints(client: KubeClient, deployment: Json, port: int,
                          watches: TargetWatches | None = None) -> list[PodEndpoint]:
    """The Deployment's Ready pods: from the shared watch when it has them, else listed."""
    meta = deployment["metadata"]
    if watches is not None:
        known = watches.ready_pods(meta["namespace"], meta["name"], port)
        if known is not None:
            return known
    pods = await client.list(PODS, meta["namespace"], label_selector=pod_selector(deployment))
    return sorted((PodEndpoint(p["metadata"]["name"], p["status"]["podIP"], port) for p in pods if is_ready(p)),
                  key=lambda e: e.name)


async def inspect_target(client: KubeClient, ftm: FineTunedModel, target: ServingTarget, rank: int | None,
                         watches: TargetWatches | None, index: int) -> TargetState:
    ns = ftm.metadata.namespace or ""
    state = TargetState(target)
    state.deployment = await client.get_or_none(DEPLOYMENTS, target.deployment, ns)
    if state.deployment is None:
        return state.blocked("DeploymentNotFound", f"Deployment {ns}/{target.deployment} not found")
    facts = state.facts = target_facts(state.deployment, target.port)
    state.lora_ready = facts.lora_ready
    # Checked before anything changes: preparing would raise --max-lora-rank to the adapter's rank, nothing else.
    state.verdict = check_target(ftm, None if target.prepare else rank, target.deployment, facts)
    if not state.verdict.ok:
        return state
    claim = ftm.spec.adapter.pvc.claim_name if ftm.spec.adapter.pvc else None
    if target.prepare:
        patch = prepare_patch(state.deployment, target.port, claim, int(rank or 0))
        if patch is not None:
            patch.setdefault("metadata", {})["annotations"] = {PREPARED: ftm.metadata.name}
            state.deployment = await client.patch(DEPLOYMENTS, target.deployment, patch, ns, patch_type="strategic")
            state.facts = target_facts(state.deployment, target.port)
            state.lora_ready = True
            return state.blocked("PreparingTarget", f"prepared Deployment {target.deployment} for runtime LoRA "
                                 "loading; its pods roll once and get the adapter as they turn Ready")
    if not facts.lora_ready:
        return state.blocked("TargetNotLoraReady", f"Deployment {target.deployment} is not LoRA-ready: add "
                             f"{' and '.join(facts.missing)} to its vLLM container, or set prepare: true on this "
                             "target")
    if ftm.spec.adapter.pvc is not None:
        try:
            state.lora_path = adapter_path_in_pod(state.deployment, target.port, ftm.spec.adapter.pvc.claim_name,
                                                  ftm.spec.adapter.pvc.path)
        except AdapterNotMounted as e:
            return state.blocked("AdapterNotMounted", str(e))
    else:
        state.lora_path = (ftm.spec.adapter.uri or "").removeprefix("hf://")
    if target.api_key_secret_ref:
        ref = target.api_key_secret_ref
        try:
            state.api_key = await read_api_key(client, ns, ref.name, ref.key,
                                               f"spec.serving.targets[{index}].apiKeySecretRef")
        except SecretNotUsable as e:
            return state.blocked(e.reason, e.message)
    state.pods = await ready_endpoints(client, state.deployment, target.port, watches)
    return state
