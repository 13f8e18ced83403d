"""The mirror's first schema: current-state tables for the three kinds, and the history tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The types as this version defines them (a later version changes them in its own migration, not here).
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
SORT_KEY = sa.String(length=66).with_variant(sa.String(length=66, collation="C"), "postgresql")
UID = sa.String(length=64)
NAME = sa.String(length=253)
TIME = sa.DateTime(timezone=True)
CURRENT_STATE_TABLES = ("training_jobs", "fine_tuned_models", "model_comparisons")


def identity_columns() -> list[sa.Column]:
    return [
        sa.Column("uid", UID, nullable=False),
        sa.Column("namespace", NAME, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("phase", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=128), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("labels", JSON, nullable=True),
        sa.Column("spec", JSON, nullable=True),
        sa.Column("status", JSON, nullable=True),
        sa.Column("created_at", TIME, nullable=True),
    ]


def bookkeeping_columns() -> list[sa.Column]:
    return [
        sa.Column("resource_version", sa.String(length=64), nullable=False),
        sa.Column("resource_version_key", SORT_KEY, nullable=True),
        sa.Column("observed_at", TIME, nullable=False),
        sa.Column("deleted_at", TIME, nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "training_jobs",
        *identity_columns(),
        sa.Column("base_model", sa.String(length=256), nullable=True),
        sa.Column("model_name", sa.String(length=63), nullable=True),
        sa.Column("dataset_stats", JSON, nullable=True),
        sa.Column("dataset_sha256", sa.String(length=64), nullable=True),
        sa.Column("metrics", JSON, nullable=True),
        sa.Column("registered_model", NAME, nullable=True),
        sa.Column("started_at", TIME, nullable=True),
        sa.Column("completed_at", TIME, nullable=True),
        *bookkeeping_columns(),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_training_jobs")),
    )
    op.create_table(
        "fine_tuned_models",
        *identity_columns(),
        sa.Column("served_name", sa.String(length=128), nullable=True),
        sa.Column("base_model", sa.String(length=256), nullable=True),
        sa.Column("adapter", JSON, nullable=True),
        sa.Column("adapter_sha256", sa.String(length=64), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("origin_job", NAME, nullable=True),
        sa.Column("dataset_sha256", sa.String(length=64), nullable=True),
        sa.Column("loaded", JSON, nullable=True),
        *bookkeeping_columns(),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_fine_tuned_models")),
    )
    op.create_index(op.f("ix_fine_tuned_models_served_name"), "fine_tuned_models", ["served_name"])
    op.create_table(
        "model_comparisons",
        *identity_columns(),
        sa.Column("baseline", sa.String(length=256), nullable=True),
        sa.Column("candidate", sa.String(length=256), nullable=True),
        sa.Column("verdict", sa.String(length=32), nullable=True),
        sa.Column("win_rate", sa.Float(), nullable=True),
        sa.Column("results", JSON, nullable=True),
        sa.Column("started_at", TIME, nullable=True),
        sa.Column("completed_at", TIME, nullable=True),
        *bookkeeping_columns(),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_model_comparisons")),
    )
    for table in CURRENT_STATE_TABLES:
        op.create_index(op.f(f"ix_{table}_namespace_name"), table, ["namespace", "name"])

    op.create_table(
        "training_metrics",
        sa.Column("job_uid", UID, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Float(), nullable=True),
        sa.Column("loss", sa.Float(), nullable=True),
        sa.Column("eval_loss", sa.Float(), nullable=True),
        sa.Column("learning_rate", sa.Float(), nullable=True),
        sa.Column("tokens_per_second", sa.Float(), nullable=True),
        sa.Column("logged_at", TIME, nullable=True),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("job_uid", "step", name=op.f("pk_training_metrics")),
    )
    op.create_table(
        "deployment_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_uid", UID, nullable=False),
        sa.Column("namespace", NAME, nullable=False),
        sa.Column("model", NAME, nullable=False),
        sa.Column("served_name", sa.String(length=128), nullable=True),
        sa.Column("target", NAME, nullable=False),
        sa.Column("pod", NAME, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("occurred_at", TIME, nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_history")),
        sa.UniqueConstraint("model_uid", "pod", "action", "occurred_at",
                            name=op.f("uq_deployment_history_model_uid_pod_action_occurred_at")),
    )
    op.create_index(op.f("ix_deployment_history_namespace_model"), "deployment_history", ["namespace", "model"])
    op.create_table(
        "comparison_samples",
        sa.Column("comparison_uid", UID, nullable=False),
        sa.Column("sample_index", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("baseline_answer", sa.Text(), nullable=True),
        sa.Column("candidate_answer", sa.Text(), nullable=True),
        sa.Column("judge", JSON, nullable=True),
        sa.Column("metrics", JSON, nullable=True),
        sa.Column("latencies", JSON, nullable=True),
        sa.Column("data", JSON, nullable=True),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("comparison_uid", "sample_index", name=op.f("pk_comparison_samples")),
    )


def downgrade() -> None:
    for table in ("comparison_samples", "deployment_history", "training_metrics", *CURRENT_STATE_TABLES):
        op.drop_table(table)
