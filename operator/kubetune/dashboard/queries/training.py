"""Training runs: the list with its filters, one run with everything its page shows, and its curves."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from ...store.tables import FineTunedModelRow, TrainingJobRow, TrainingMetricRow
from ..downsample import MAX_POINTS, Point, min_max_buckets
from .rows import ACTIVE_TRAINING, Json, mapping, session_on, utc

LIST_LIMIT = 500
SERIES = ("loss", "eval_loss", "learning_rate", "tokens_per_second")
# The operator's message for a dataset refused by the trainer: "... First errors: line 3: ...; line 9: ..."
_FIRST_ERRORS = re.compile(r"First errors:\s*(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Run:
    uid: str
    namespace: str
    name: str
    phase: str | None
    reason: str | None
    message: str | None
    base_model: str | None
    model_name: str | None
    registered_model: str | None
    progress: Json
    dataset_stats: Json
    metrics: Json
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    deleted_at: datetime | None

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE_TRAINING and self.deleted_at is None

    @property
    def percent(self) -> float | None:
        if self.phase == "Succeeded":
            return 100.0
        value = self.progress.get("percent")
        return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class RunDetail:
    run: Run
    spec: Json
    status: Json
    conditions: list[Json]
    model_uid: str | None
    """The FineTunedModel it registered, when the mirror has it."""
    rejected_lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Filters:
    namespaces: list[str]
    phases: list[str]
    models: list[str]


def _run(row: TrainingJobRow) -> Run:
    status = mapping(row.status)
    return Run(uid=row.uid, namespace=row.namespace, name=row.name, phase=row.phase, reason=row.reason,
               message=row.message, base_model=row.base_model, model_name=row.model_name,
               registered_model=row.registered_model, progress=mapping(status.get("progress")),
               dataset_stats=mapping(row.dataset_stats), metrics=mapping(row.metrics),
               created_at=utc(row.created_at), started_at=utc(row.started_at), completed_at=utc(row.completed_at),
               deleted_at=utc(row.deleted_at))


def list_runs(connection: Connection, namespace: str | None = None, phase: str | None = None,
              model: str | None = None, limit: int = LIST_LIMIT) -> list[Run]:
    query = select(TrainingJobRow)
    if namespace:
        query = query.where(TrainingJobRow.namespace == namespace)
    if phase:
        query = query.where(TrainingJobRow.phase == phase)
    if model:
        query = query.where((TrainingJobRow.model_name == model) | (TrainingJobRow.base_model == model))
    query = query.order_by(TrainingJobRow.created_at.desc(), TrainingJobRow.name).limit(limit)
    with session_on(connection) as session:
        return [_run(row) for row in session.scalars(query)]


def filters(connection: Connection) -> Filters:
    def distinct(column: Any) -> list[str]:
        return sorted(str(v) for v in connection.execute(select(column).distinct()).scalars() if v)

    models = set(distinct(TrainingJobRow.model_name)) | set(distinct(TrainingJobRow.base_model))
    return Filters(namespaces=distinct(TrainingJobRow.namespace), phases=distinct(TrainingJobRow.phase),
                   models=sorted(models))


def get_run(connection: Connection, uid: str) -> RunDetail | None:
    with session_on(connection) as session:
        row = session.get(TrainingJobRow, uid)
        if row is None:
            return None
        run = _run(row)
        model_uid = None
        if row.registered_model:
            model_uid = session.scalars(
                select(FineTunedModelRow.uid)
                .where(FineTunedModelRow.namespace == row.namespace, FineTunedModelRow.name == row.registered_model)
                .order_by(FineTunedModelRow.created_at.desc())).first()
        status = mapping(row.status)
        return RunDetail(run=run, spec=mapping(row.spec), status=status,
                         conditions=list(status.get("conditions") or []), model_uid=model_uid,
                         rejected_lines=rejected_lines(status))


def rejected_lines(status: Json) -> list[str]:
    """The first dataset errors the trainer reported ("line N: field: problem"), as the operator put them in the
    message of a refused dataset (status or its Ready condition)."""
    texts = [str(status.get("message") or "")]
    texts += [str(c.get("message") or "") for c in status.get("conditions") or [] if isinstance(c, dict)]
    for text in texts:
        match = _FIRST_ERRORS.search(text)
        if match:
            return [line.strip() for line in match.group(1).split("; ") if line.strip()]
    return []


@dataclass(frozen=True)
class Curves:
    """Each series as [[step, value], ...], down-sampled to at most ``MAX_POINTS`` points."""

    series: dict[str, list[list[float]]]
    logged_steps: int
    last_step: int | None
    downsampled: bool


def curves(connection: Connection, uid: str, max_points: int = MAX_POINTS) -> Curves:
    rows = connection.execute(
        select(TrainingMetricRow.step, TrainingMetricRow.loss, TrainingMetricRow.eval_loss,
               TrainingMetricRow.learning_rate, TrainingMetricRow.tokens_per_second)
        .where(TrainingMetricRow.job_uid == uid).order_by(TrainingMetricRow.step)).all()
    series: dict[str, list[list[float]]] = {}
    downsampled = False
    for position, name in enumerate(SERIES, start=1):
        points = [Point(int(r[0]), float(value)) for r in rows if (value := r[position]) is not None]
        kept = min_max_buckets(points, max_points)
        downsampled = downsampled or len(kept) < len(points)
        series[name] = [[p.step, p.value] for p in kept]
    return Curves(series=series, logged_steps=len(rows), last_step=int(rows[-1][0]) if rows else None,
                  downsampled=downsampled)


def counts_by_phase(connection: Connection) -> dict[str, int]:
    query = (select(TrainingJobRow.phase, func.count()).where(TrainingJobRow.deleted_at.is_(None))
             .group_by(TrainingJobRow.phase))
    return {str(phase or "Unknown"): int(n) for phase, n in connection.execute(query)}


def active_runs(connection: Connection, limit: int = 20) -> list[Run]:
    query = (select(TrainingJobRow).where(TrainingJobRow.phase.in_(ACTIVE_TRAINING),
                                          TrainingJobRow.deleted_at.is_(None))
             .order_by(TrainingJobRow.created_at.desc()).limit(limit))
    with session_on(connection) as session:
        return [_run(row) for row in session.scalars(query)]


