"""The mirror's tables, as SQLAlchemy 2 typed models. The migrations in ``migrations/versions`` create exactly this
schema (a test compares them).

Two families:

- current state, one row per object, keyed by its uid, upserted from watch events and relists: ``training_jobs``,
  ``fine_tuned_models``, ``model_comparisons``. A row outlives its object: deletion sets ``deleted_at``.
- history, append-only, each with a natural key so a replay adds nothing twice: ``training_metrics`` (job uid, step),
  ``deployment_history`` (model uid, pod, action, time), ``comparison_samples`` (comparison uid, sample index).

No foreign keys: history rows may be written before the snapshot of their object (they come from other sources), and
a mirror must accept what it is given in any order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# JSONB on Postgres (indexable, compact), JSON text elsewhere; None is SQL NULL, not the JSON text null.
Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
# Names for every constraint and index, so migrations (and SQLite's batch mode, which recreates tables) can refer to
# them.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
UID = String(64)
NAME = String(253)
# Sort keys are compared byte-wise (see resource_versions.sort_key); a locale collation could order digits otherwise.
SORT_KEY = String(66).with_variant(String(66, collation="C"), "postgresql")
Timestamp = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: Json, datetime: Timestamp}


class ObjectRow:
    """What every current-state row has: identity, the object's spec and status as JSON, and the mirror's own
    bookkeeping (the resourceVersion guard, when the row was last written, when its object was deleted)."""

    # sort_order: the identity and state columns come first in the table, before each kind's own.
    uid: Mapped[str] = mapped_column(UID, primary_key=True, sort_order=-1)
    namespace: Mapped[str] = mapped_column(NAME, sort_order=-1)
    name: Mapped[str] = mapped_column(NAME, sort_order=-1)
    phase: Mapped[str | None] = mapped_column(String(32), sort_order=-1)
    reason: Mapped[str | None] = mapped_column(String(128), sort_order=-1)
    message: Mapped[str | None] = mapped_column(Text, sort_order=-1)
    labels: Mapped[dict[str, Any] | None] = mapped_column(sort_order=-1)
    spec: Mapped[dict[str, Any] | None] = mapped_column(sort_order=-1)
    status: Mapped[dict[str, Any] | None] = mapped_column(sort_order=-1)
    created_at: Mapped[datetime | None] = mapped_column(sort_order=-1)
    # sort_order 1: the mirror's bookkeeping comes last.
    resource_version: Mapped[str] = mapped_column(String(64), sort_order=1)
    resource_version_key: Mapped[str | None] = mapped_column(SORT_KEY, sort_order=1)
    observed_at: Mapped[datetime] = mapped_column(sort_order=1)
    """When the mirror last wrote the row (its clock): a relist marks only rows written before it listed."""
    deleted_at: Mapped[datetime | None] = mapped_column(sort_order=1)


class TrainingJobRow(ObjectRow, Base):
    __tablename__ = "training_jobs"
    __table_args__ = (Index(None, "namespace", "name"),)

    base_model: Mapped[str | None] = mapped_column(String(256))
    model_name: Mapped[str | None] = mapped_column(String(63))
    """spec.output.modelName: versions of it are registered as FineTunedModels."""
    dataset_stats: Mapped[dict[str, Any] | None]
    dataset_sha256: Mapped[str | None] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any] | None]
    """Final training metrics (status.metrics)."""
    registered_model: Mapped[str | None] = mapped_column(NAME)
    """The FineTunedModel it registered (status.modelRef.name)."""
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class FineTunedModelRow(ObjectRow, Base):
    __tablename__ = "fine_tuned_models"
    __table_args__ = (Index(None, "namespace", "name"), Index(None, "served_name"))

    served_name: Mapped[str | None] = mapped_column(String(128))
    base_model: Mapped[str | None] = mapped_column(String(256))
    adapter: Mapped[dict[str, Any] | None]
    """Where the adapter is (spec.adapter: a PVC and path, or a URI)."""
    adapter_sha256: Mapped[str | None] = mapped_column(String(64))
    rank: Mapped[int | None] = mapped_column(Integer)
    origin_job: Mapped[str | None] = mapped_column(NAME)
    """The TrainingJob that trained it (spec.origin.trainingJob)."""
    dataset_sha256: Mapped[str | None] = mapped_column(String(64))
    loaded: Mapped[dict[str, Any] | None]
    """Per serving target: {deployment: {loaded: n, ready: m}}."""


class ModelComparisonRow(ObjectRow, Base):
    __tablename__ = "model_comparisons"
    __table_args__ = (Index(None, "namespace", "name"),)

    baseline: Mapped[str | None] = mapped_column(String(256))
    """The baseline's servedName, or fineTunedModelRef.name."""
    candidate: Mapped[str | None] = mapped_column(String(256))
    verdict: Mapped[str | None] = mapped_column(String(32))
    win_rate: Mapped[float | None] = mapped_column(Float)
    results: Mapped[dict[str, Any] | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class TrainingMetricRow(Base):
    """One logged step of a job's loss curve."""

    __tablename__ = "training_metrics"

    job_uid: Mapped[str] = mapped_column(UID, primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[float | None] = mapped_column(Float)
    loss: Mapped[float | None] = mapped_column(Float)
    eval_loss: Mapped[float | None] = mapped_column(Float)
    learning_rate: Mapped[float | None] = mapped_column(Float)
    tokens_per_second: Mapped[float | None] = mapped_column(Float)
    logged_at: Mapped[datetime | None]
    """When the trainer logged the step (null for steps a resumed pod restored from its checkpoint)."""
    recorded_at: Mapped[datetime]


class DeploymentRow(Base):
    """One load, unload or failed load of a model on one pod: the audit trail."""

    __tablename__ = "deployment_history"
    __table_args__ = (
        UniqueConstraint("model_uid", "pod", "action", "occurred_at"),
        Index(None, "namespace", "model"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_uid: Mapped[str] = mapped_column(UID)
    namespace: Mapped[str] = mapped_column(NAME)
    model: Mapped[str] = mapped_column(NAME)
    """The FineTunedModel's name."""
    served_name: Mapped[str | None] = mapped_column(String(128))
    target: Mapped[str] = mapped_column(NAME)
    """The serving Deployment."""
    pod: Mapped[str] = mapped_column(NAME)
    action: Mapped[str] = mapped_column(String(16))
    """load or unload."""
    outcome: Mapped[str] = mapped_column(String(16))
    """succeeded or failed."""
    message: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]


class ComparisonSampleRow(Base):
    """One prompt of a ModelComparison: both answers, the judge's verdicts, per-sample metrics and latencies.

    The named columns are what every comparison has; ``judge``, ``metrics`` and ``latencies`` are maps (by side or by
    metric name) so new metrics need no migration, and ``data`` keeps the whole sample as the evaluator wrote it."""

    __tablename__ = "comparison_samples"

    comparison_uid: Mapped[str] = mapped_column(UID, primary_key=True)
    sample_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    """The sample's index in the comparison's prompts (``index`` is a reserved word in SQL)."""
    prompt: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    baseline_answer: Mapped[str | None] = mapped_column(Text)
    candidate_answer: Mapped[str | None] = mapped_column(Text)
    judge: Mapped[dict[str, Any] | None]
    metrics: Mapped[dict[str, Any] | None]
    latencies: Mapped[dict[str, Any] | None]
    data: Mapped[dict[str, Any] | None]
    recorded_at: Mapped[datetime]


CURRENT_STATE: dict[str, type[ObjectRow]] = {
    "TrainingJob": TrainingJobRow,
    "FineTunedModel": FineTunedModelRow,
    "ModelComparison": ModelComparisonRow,
}
"""The mirrored kinds and their tables."""
