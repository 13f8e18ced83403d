"""The side effects of a TrainingJob: check what it references, create its ConfigMap, its Job and (for a multi-node
job) the headless Service its pods meet through, keep the Job's suspension in step, and register the FineTunedModel on
success. Every step is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from ..api import TrainingJob
from ..api.trainer import TrainerResult
from ..builders.finetunedmodel import build_finetuned_model, parse_version
from ..builders.naming import SUSPEND_REQUESTED, TRAININGJOB, TRAININGJOB_UID
from ..builders.training import (
    build_rendezvous_service,
    build_trainer_configmap,
    build_training_job,
    is_gang,
    rendezvous_service_name,
    trainer_name,
)
from ..kube import Conflict, KubeClient, NotFound
from ..kube.client import CONFIGMAPS, DEPLOYMENTS, JOBS, PODS, PVCS, SECRETS
from ..kube.resources import resource_for
from ..settings import OperatorSettings
from .ownership import ensure_child, ensure_configmap, owned_by
from .resources import FINETUNEDMODELS
from .sightings import Sightings

log = logging.getLogger(__name__)

SPEC_HASH = "kubetune.dev/spec-hash"
SERVICES = resource_for("Service")
Json = dict[str, Any]
# Access modes that let a claim be mounted on several nodes at once, by how the pods mount it.
SHARED_MODES = {True: ("ReadWriteMany", "ReadOnlyMany"), False: ("ReadWriteMany",)}


@dataclass(frozen=True)
class MissingReference:
    """A referenced object that does not exist (yet)."""

    reason: str
    message: str


def _claim_not_shared(tj: TrainingJob, claim: Json, field: str, read_only: bool) -> MissingReference | None:
    """A claim the pods of a multi-node job cannot all mount: they may run on different nodes."""
    modes = (claim.get("status") or {}).get("accessModes") or (claim.get("spec") or {}).get("accessModes") or []
    if not is_gang(tj) or any(m in modes for m in SHARED_MODES[read_only]):
        return None
    meta = claim["metadata"]
    wanted = " or ".join(SHARED_MODES[read_only])
    return MissingReference("PersistentVolumeClaimNotShared", f"{field}: PersistentVolumeClaim {meta['namespace']}/"
                            f"{meta['name']} is {', '.join(modes) or 'without access modes'}, but the "
                            f"{tj.spec.resources.nodes} pods of this job may run on different nodes and all mount it: "
                            f"use a {wanted} claim")


async def missing_references(client: KubeClient, tj: TrainingJob, sightings: Sightings) -> list[MissingReference]:
    """Secrets, ConfigMaps, PVCs and serving Deployments the spec names but the namespace lacks; and for a multi-node
    job, claims that cannot be mounted on several nodes. An object seen a moment ago (by any job) is not read again."""
    ns = tj.metadata.namespace or ""
    spec = tj.spec
    wanted: list[tuple[Any, str, str, str]] = []  # resource, name, reason, field
    read_only_claims = {"spec.baseModel.source.pvc.claimName", "spec.dataset.source.pvc"}
    if spec.base_model.source.pvc:
        wanted.append((PVCS, spec.base_model.source.pvc.claim_name, "PersistentVolumeClaimNotFound",
                       "spec.baseModel.source.pvc.claimName"))
    if spec.base_model.source.token_secret_ref:
        wanted.append((SECRETS, spec.base_model.source.token_secret_ref.name, "SecretNotFound",
                       "spec.baseModel.source.tokenSecretRef"))
    source = spec.dataset.source
    if source.pvc:
        wanted.append((PVCS, source.pvc.claim_name, "PersistentVolumeClaimNotFound", "spec.dataset.source.pvc"))
    if source.config_map:
        wanted.append((CONFIGMAPS, source.config_map.name, "ConfigMapNotFound", "spec.dataset.source.configMap"))
    if source.postgres:
        wanted.append((SECRETS, source.postgres.secret_ref.name, "SecretNotFound",
                       "spec.dataset.source.postgres.secretRef"))
    wanted.append((PVCS, spec.output.storage.pvc.claim_name, "PersistentVolumeClaimNotFound",
                   "spec.output.storage.pvc.claimName"))
    for i, target in enumerate(spec.serving.targets if spec.serving else []):
        wanted.append((DEPLOYMENTS, target.deployment, "DeploymentNotFound", f"spec.serving.targets[{i}].deployment"))
        if target.api_key_secret_ref:
            wanted.append((SECRETS, target.api_key_secret_ref.name, "SecretNotFound",
                           f"spec.serving.targets[{i}].apiKeySecretRef"))
    found = await asyncio.gather(*(sightings.get_or_none(client, resource, name, ns)
                                   for resource, name, _, _ in wanted))
    missing = []
    for (resource, name, reason, field), obj in zip(wanted, found, strict=True):
        if obj is None:
            kind = reason.removesuffix("NotFound")
            missing.append(MissingReference(reason, f"{field}: {kind} {ns}/{name} does not exist"))
        elif resource is PVCS and (unshared := _claim_not_shared(tj, obj, field, field in read_only_claims)):
            missing.append(unshared)
    if source.config_map and not missing:
        cm = await client.get(CONFIGMAPS, source.config_map.name, ns)
        if source.config_map.key not in (cm.get("data") or {}):
            missing.append(MissingReference("ConfigMapKeyNotFound", f"spec.dataset.source.configMap: ConfigMap "
                                            f"{ns}/{source.config_map.name} has no key {source.config_map.key!r}"))
    return missing


def _spec_hash(job: Json, configmap: Json) -> str:
    material = json.dumps([job["spec"]["template"], configmap["data"]], sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _render(tj: TrainingJob, settings: OperatorSettings) -> tuple[Json, Json, str]:
    """The ConfigMap, the Job (annotated with the hash of what it was rendered from) and that hash."""
    configmap = build_trainer_configmap(tj, settings)
    job = build_training_job(tj, settings)
    digest = _spec_hash(job, configmap)
    job["metadata"].setdefault("annotations", {})[SPEC_HASH] = digest
    return configmap, job, digest


def _replaceable(current: Json, digest: str) -> bool:
    """Rendered from another spec (the CRD freezes the spec once training starts, so the pod never ran)."""
    return (current["metadata"].get("annotations", {}).get(SPEC_HASH) != digest
            and not current["metadata"].get("deletionTimestamp"))


async def replace_stale_job(client: KubeClient, tj: TrainingJob, settings: OperatorSettings, current: Json,
                            started: bool) -> None:
    """Delete an existing Job whose spec changed before training started; the next reconcile creates the new one."""
    if started or current["metadata"].get("deletionTimestamp"):
        return  # decided without rendering: most reconciles of a running job end here
    _, _, digest = _render(tj, settings)
    if _replaceable(current, digest):
        log.info("spec of %s/%s changed before training started: replacing its Job", tj.metadata.namespace,
                 tj.metadata.name)
        await client.delete(JOBS, current["metadata"]["name"], tj.metadata.namespace or "", propagation="Foreground",
                            uid=current["metadata"]["uid"])


async def ensure_rendezvous_service(client: KubeClient, tj: TrainingJob, settings: OperatorSettings,
                                    look_first: bool = False) -> None:
    """The headless Service of a multi-node job (nothing for one pod). ``look_first``: read before creating, for the
    passes that only check it is still there."""
    if not is_gang(tj):
        return
    if look_first and await client.get_or_none(SERVICES, rendezvous_service_name(tj), tj.metadata.namespace or ""):
        return
    service = build_rendezvous_service(tj, settings)
    await ensure_child(client, SERVICES, service, tj.metadata.uid, "TrainingJob")


async def ensure_job(client: KubeClient, tj: TrainingJob, settings: OperatorSettings) -> tuple[Json, bool]:
    """Create the ConfigMap and the Job when they do not exist; return the Job and whether this call created it.

    A Job that already exists is returned as it is, or replaced when its spec changed before it started.
    """
    ns = tj.metadata.namespace or ""
    configmap, job, digest = _render(tj, settings)

    async def create_job() -> Json | None:
        try:
            return await client.create(JOBS, job, ns)
        except Conflict:
            return None

    # The Service first (a multi-node job's pods look for each other through it); the ConfigMap and the Job in one
    # round trip. A Job whose ConfigMap could not be made (a quota, a name taken) is deleted again before the error
    # is raised: no pod waits forever for a ConfigMap, and the next pass starts over.
    await ensure_rendezvous_service(client, tj, settings)
    made, created = await asyncio.gather(ensure_configmap(client, configmap, tj.metadata.uid, "TrainingJob"),
                                         create_job(), return_exceptions=True)
    if isinstance(created, BaseException):
        raise created
    if isinstance(made, BaseException):
        if created is not None:
            with contextlib.suppress(NotFound, Conflict):
                await client.delete(JOBS, job["metadata"]["name"], ns, propagation="Background",
                                    uid=created["metadata"]["uid"])
        raise made
    if created is not None:
        log.info("created Job %s/%s for TrainingJob %s", ns, job["metadata"]["name"], tj.metadata.name)
        return created, True
    current = await client.get(JOBS, job["metadata"]["name"], ns)
    if not owned_by(current, tj.metadata.uid):
        return current, False  # the caller sees it is not ours and removes it
    if _replaceable(current, digest):
        log.info("spec of %s/%s changed before training started: replacing its Job", ns, tj.metadata.name)
        await client.delete(JOBS, job["metadata"]["name"], ns, propagation="Foreground")
    return current, False


def suspend_requested(job: Json) -> bool:
    """The spec.suspend the operator last applied to this Job (its own spec.suspend may be a queue's doing)."""
    applied = (job["metadata"].get("annotations") or {}).get(SUSPEND_REQUESTED)
    if applied is None:
        return bool(job.get("spec", {}).get("suspend"))
    return applied == "true"


async def sync_suspend(client: KubeClient, tj: TrainingJob) -> None:
    """Make the Job's suspension follow spec.suspend (the Job controller then stops or starts the pod)."""
    ns = tj.metadata.namespace or ""
    value = tj.spec.suspend
    patch = {"metadata": {"annotations": {SUSPEND_REQUESTED: str(value).lower()}}, "spec": {"suspend": value}}
    with contextlib.suppress(NotFound):
        await client.patch(JOBS, trainer_name(tj), patch, ns)


async def job_and_pods(client: KubeClient, tj: TrainingJob) -> tuple[Json | None, list[Json]]:
    ns = tj.metadata.namespace or ""
    # Read together: one round trip less on every reconcile.
    job, pods = await asyncio.gather(client.get_or_none(JOBS, trainer_name(tj), ns),
                                     client.list(PODS, ns, label_selector=f"{TRAININGJOB_UID}={tj.metadata.uid}"))
    return job, (pods if job is not None else [])


async def ensure_model(client: KubeClient, tj: TrainingJob, result: TrainerResult | None) -> str:
    """Create this job's FineTunedModel once, as the next free version ``<modelName>-v<N>``; return its name.

    The trainingjob-uid label makes it idempotent across operator restarts.
    """
    ns = tj.metadata.namespace or ""
    mine = await client.list(FINETUNEDMODELS, ns, label_selector=f"{TRAININGJOB_UID}={tj.metadata.uid}")
    if mine:
        return str(mine[0]["metadata"]["name"])
    model_name = tj.spec.output.model_name
    names = [m["metadata"]["name"] for m in await client.list(FINETUNEDMODELS, ns)]
    version = max((v for v in (parse_version(model_name, n) for n in names) if v is not None), default=0) + 1
    while True:
        body = build_finetuned_model(tj, version, result)
        try:
            await client.create(FINETUNEDMODELS, body, ns)
            return str(body["metadata"]["name"])
        except Conflict:
            version += 1  # another job of the same modelName took this version first


__all__ = ["TRAININGJOB", "MissingReference", "ensure_job", "ensure_model", "ensure_rendezvous_service",
           "job_and_pods", "missing_references", "replace_stale_job", "sync_suspend"]
