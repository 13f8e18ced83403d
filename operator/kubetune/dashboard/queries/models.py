"""Models: FineTunedModel versions grouped by model name, where each is loaded (per target, per pod), its lineage
(the job that trained it, the comparisons that tested it) and its deployment-history timeline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, or_, select

from ...store.tables import DeploymentRow, FineTunedModelRow, ModelComparisonRow, TrainingJobRow
from .rows import SERVING, Json, get, mapping, session_on, utc

MODEL_NAME_LABEL = "kubetune.dev/model-name"  # set by the operator on the versions it registers
TRAININGJOB_UID_LABEL = "kubetune.dev/trainingjob-uid"
_VERSION = re.compile(r"-v(\d+)$")
TIMELINE_LIMIT = 200


@dataclass(frozen=True)
class PodLoad:
    name: str
    ip: str | None
    loaded: bool
    loaded_at: str | None
    message: str | None


@dataclass(frozen=True)
class TargetLoad:
    deployment: str
    ready: int | None
    loaded: int | None
    pods: list[PodLoad]
    message: str | None


@dataclass(frozen=True)
class ModelVersion:
    uid: str
    namespace: str
    name: str
    model_name: str
    version: int | None
    served_name: str | None
    base_model: str | None
    phase: str | None
    reason: str | None
    message: str | None
    rank: int | None
    adapter_sha256: str | None
    origin_job: str | None
    targets: list[TargetLoad]
    spec_targets: list[Json]
    created_at: datetime | None
    deleted_at: datetime | None

    @property
    def serving(self) -> bool:
        return self.phase in SERVING and self.deleted_at is None

    @property
    def loaded_text(self) -> str:
        loaded = sum(t.loaded or 0 for t in self.targets)
        ready = sum(t.ready or 0 for t in self.targets)
        return f"{loaded}/{ready}" if self.targets else "-"


@dataclass(frozen=True)
class ModelGroup:
    namespace: str
    model_name: str
    versions: list[ModelVersion]


@dataclass(frozen=True)
class DeploymentEvent:
    occurred_at: datetime | None
    target: str
    pod: str
    action: str
    outcome: str
    latency_ms: float | None
    message: str | None


@dataclass(frozen=True)
class Lineage:
    job_uid: str | None
    job_name: str | None
    job_phase: str | None
    comparisons: list[tuple[str, str, str | None, str | None]]
    """(uid, name, verdict, role) of the comparisons that name this version."""


@dataclass(frozen=True)
class ModelDetail:
    version: ModelVersion
    lineage: Lineage
    timeline: list[DeploymentEvent]
    status: Json


def _targets(status: Json) -> list[TargetLoad]:
    targets = []
    for target in status.get("targets") or []:
        if not isinstance(target, dict):
            continue
        pods = [PodLoad(name=str(p.get("name")), ip=p.get("ip") or p.get("podIP"), loaded=bool(p.get("loaded")),
                        loaded_at=p.get("loadedAt"), message=p.get("message"))
                for p in target.get("pods") or [] if isinstance(p, dict)]
        targets.append(TargetLoad(deployment=str(target.get("deployment")), ready=target.get("readyReplicas"),
                                  loaded=target.get("loadedReplicas"), pods=pods, message=target.get("message")))
    return targets


def _version(row: FineTunedModelRow) -> ModelVersion:
    labels = mapping(row.labels)
    status = mapping(row.status)
    match = _VERSION.search(row.name)
    model_name = str(labels.get(MODEL_NAME_LABEL) or (row.name[:match.start()] if match else row.name))
    return ModelVersion(
        uid=row.uid, namespace=row.namespace, name=row.name, model_name=model_name,
        version=int(match.group(1)) if match else None, served_name=row.served_name, base_model=row.base_model,
        phase=row.phase, reason=row.reason, message=row.message, rank=row.rank, adapter_sha256=row.adapter_sha256,
        origin_job=row.origin_job, targets=_targets(status),
        spec_targets=[t for t in get(row.spec, "serving", "targets") or [] if isinstance(t, dict)],
        created_at=utc(row.created_at), deleted_at=utc(row.deleted_at))


def list_groups(connection: Connection, namespace: str | None = None) -> list[ModelGroup]:
    query = select(FineTunedModelRow)
    if namespace:
        query = query.where(FineTunedModelRow.namespace == namespace)
    with session_on(connection) as session:
        versions = [_version(row) for row in session.scalars(query)]
    groups: dict[tuple[str, str], list[ModelVersion]] = {}
    for version in versions:
        groups.setdefault((version.namespace, version.model_name), []).append(version)
    return [ModelGroup(ns, name, sorted(vs, key=lambda v: (v.version or 0, v.name), reverse=True))
            for (ns, name), vs in sorted(groups.items())]


def serving_versions(connection: Connection, limit: int = 20) -> list[ModelVersion]:
    query = (select(FineTunedModelRow).where(FineTunedModelRow.phase.in_(SERVING),
                                             FineTunedModelRow.deleted_at.is_(None))
             .order_by(FineTunedModelRow.created_at.desc()).limit(limit))
    with session_on(connection) as session:
        return [_version(row) for row in session.scalars(query)]


def counts_by_phase(connection: Connection) -> dict[str, int]:
    query = (select(FineTunedModelRow.phase, func.count()).where(FineTunedModelRow.deleted_at.is_(None))
             .group_by(FineTunedModelRow.phase))
    return {str(phase or "Unknown"): int(n) for phase, n in connection.execute(query)}


def get_model(connection: Connection, uid: str) -> ModelDetail | None:
    with session_on(connection) as session:
        row = session.get(FineTunedModelRow, uid)
        if row is None:
            return None
        version = _version(row)
        job_uid = mapping(row.labels).get(TRAININGJOB_UID_LABEL)
        job = session.get(TrainingJobRow, job_uid) if job_uid else None
        if job is None and row.origin_job:
            job = session.scalars(select(TrainingJobRow).where(
                TrainingJobRow.namespace == row.namespace, TrainingJobRow.name == row.origin_job)
                .order_by(TrainingJobRow.created_at.desc())).first()
        names = {n for n in (row.name, row.served_name) if n}
        comparisons = session.scalars(
            select(ModelComparisonRow).where(ModelComparisonRow.namespace == row.namespace,
                                             or_(ModelComparisonRow.candidate.in_(names),
                                                 ModelComparisonRow.baseline.in_(names)))
            .order_by(ModelComparisonRow.created_at.desc())).all()
        lineage = Lineage(job_uid=job.uid if job else None, job_name=job.name if job else row.origin_job,
                          job_phase=job.phase if job else None,
                          comparisons=[(c.uid, c.name, c.verdict, "candidate" if c.candidate in names else "baseline")
                                       for c in comparisons])
        timeline = [DeploymentEvent(occurred_at=utc(d.occurred_at), target=d.target, pod=d.pod, action=d.action,
                                    outcome=d.outcome, latency_ms=d.latency_ms, message=d.message)
                    for d in session.scalars(select(DeploymentRow).where(DeploymentRow.model_uid == uid)
                                             .order_by(DeploymentRow.occurred_at.desc()).limit(TIMELINE_LIMIT))]
        return ModelDetail(version=version, lineage=lineage, timeline=timeline, status=mapping(row.status))


def find_version(connection: Connection, namespace: str, name: str) -> ModelVersion | None:
    """The newest row of a FineTunedModel by name (for the deploy action's form)."""
    with session_on(connection) as session:
        row = session.scalars(select(FineTunedModelRow).where(
            FineTunedModelRow.namespace == namespace, FineTunedModelRow.name == name)
            .order_by(FineTunedModelRow.created_at.desc())).first()
        return _version(row) if row else None
