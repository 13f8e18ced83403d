"""The SQL the mirror runs, on a connection in a transaction the caller holds. Synchronous: the Mirror runs it on its
own thread; ``kubetune db resync`` runs it directly.

Every statement is idempotent, so a batch whose commit was lost in an outage can be written again:

- snapshots are upserted by uid with a staleness guard in the statement itself (an older snapshot never overwrites a
  newer one, whoever writes it: the operator, a resync, a second replica), and ``deleted_at`` once set stays set;
- history rows are inserted on their natural key: deployments and samples do nothing on conflict; a training step
  seen again fills only the fields still empty (a training log, then the evaluation at the same step).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from ..kube.namespaces import namespace_matches
from .records import Deployment, HistoryRecord, MetricPoint, Sample
from .snapshots import Snapshot, snapshot_row
from .tables import CURRENT_STATE, ComparisonSampleRow, DeploymentRow, ObjectRow, TrainingMetricRow

Json = dict[str, Any]


def _insert(connection: Connection, table: Any) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _newer(stored: Any, incoming: Any) -> ColumnElement[bool]:
    """The staleness guard: the incoming snapshot is newer than the stored one (by the KEP-5504 sort keys when both are
    well-formed, else by inequality), or it is the deletion of a row not yet marked deleted."""
    ordered = and_(stored.resource_version_key.is_not(None), incoming.resource_version_key.is_not(None),
                   stored.resource_version_key < incoming.resource_version_key)
    unordered = and_(or_(stored.resource_version_key.is_(None), incoming.resource_version_key.is_(None)),
                     stored.resource_version != incoming.resource_version)
    deletion = and_(incoming.deleted_at.is_not(None), stored.deleted_at.is_(None))
    return or_(ordered, unordered, deletion)


def upsert_snapshots(connection: Connection, snapshots: Sequence[Snapshot], now: datetime) -> int:
    """Upsert each snapshot's row (one per uid in ``snapshots``); return how many were given."""
    by_kind: dict[str, list[Json]] = {}
    for snapshot in snapshots:
        by_kind.setdefault(snapshot.kind, []).append(snapshot_row(snapshot, now))
    for kind, rows in by_kind.items():
        model = CURRENT_STATE[kind]
        table = model.__table__  # type: ignore[attr-defined]
        statement = _insert(connection, table)
        incoming = statement.excluded
        values = {c.name: incoming[c.name] for c in table.columns if c.name != "uid"}
        # Once deleted, always deleted: a late snapshot of a deleted object does not bring its row back.
        values["deleted_at"] = func.coalesce(table.c.deleted_at, incoming.deleted_at)
        statement = statement.on_conflict_do_update(index_elements=["uid"], set_=values,
                                                    where=_newer(table.c, incoming))
        connection.execute(statement, rows)
    return len(snapshots)


def insert_history(connection: Connection, records: Iterable[HistoryRecord], now: datetime) -> dict[str, int]:
    """Insert history records idempotently; return the rows given per table."""
    points: dict[tuple[str, int], MetricPoint] = {}
    deployments: dict[tuple[Any, ...], Json] = {}
    samples: dict[tuple[str, int], Json] = {}
    for record in records:
        if isinstance(record, MetricPoint):
            # One statement cannot update a row twice (Postgres refuses): merge a step seen twice first.
            seen = points.get(record.key)
            points[record.key] = seen.merged(record) if seen else record
        elif isinstance(record, Deployment):
            deployments.setdefault(record.key, record.row(now))
        elif isinstance(record, Sample):
            samples.setdefault(record.key, record.row(now))
    if points:
        table = TrainingMetricRow.__table__
        statement = _insert(connection, table)
        fill = ("epoch", "loss", "eval_loss", "learning_rate", "tokens_per_second", "logged_at")
        statement = statement.on_conflict_do_update(
            index_elements=["job_uid", "step"],
            set_={name: func.coalesce(table.c[name], statement.excluded[name]) for name in fill},
            where=or_(*(and_(table.c[name].is_(None), statement.excluded[name].is_not(None)) for name in fill)),
        )
        connection.execute(statement, [p.row(now) for p in points.values()])
    if deployments:
        statement = _insert(connection, DeploymentRow.__table__).on_conflict_do_nothing(
            index_elements=["model_uid", "pod", "action", "occurred_at"])
        connection.execute(statement, list(deployments.values()))
    if samples:
        statement = _insert(connection, ComparisonSampleRow.__table__).on_conflict_do_nothing(
            index_elements=["comparison_uid", "sample_index"])
        connection.execute(statement, list(samples.values()))
    return {"training_metrics": len(points), "deployment_history": len(deployments),
            "comparison_samples": len(samples)}


def in_scope(namespace: str, patterns: Sequence[str]) -> bool:
    """Whether ``namespace`` is one the operator watches (kube.namespaces: kopf's syntax; no patterns means all)."""
    return namespace_matches(namespace, patterns)


def tombstone_missing(connection: Connection, kind: str, present: set[str], listed_since: datetime,
                      now: datetime, namespaces: Sequence[str] = ()) -> int:
    """Mark deleted the rows of ``kind`` whose objects a relist did not find; return how many.

    Only rows written before the list was requested (``listed_since``) are candidates: an object created after the
    list began is missing from it but alive, and its row was written after."""
    model: type[ObjectRow] = CURRENT_STATE[kind]
    table = model.__table__  # type: ignore[attr-defined]
    rows = connection.execute(
        select(table.c.uid, table.c.namespace)
        .where(table.c.deleted_at.is_(None), table.c.observed_at < listed_since)).all()
    gone = [uid for uid, namespace in rows if uid not in present and in_scope(namespace, namespaces)]
    for start in range(0, len(gone), 500):
        connection.execute(update(table).where(table.c.uid.in_(gone[start:start + 500]), table.c.deleted_at.is_(None))
                           .values(deleted_at=now))
    return len(gone)


def last_step(connection: Connection, job_uid: str) -> int | None:
    """The newest step of a job's loss curve in the database."""
    table = TrainingMetricRow.__table__
    value = connection.execute(select(func.max(table.c.step)).where(table.c.job_uid == job_uid)).scalar()
    return int(value) if value is not None else None
