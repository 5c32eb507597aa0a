"""Initial metric store: runs, metrics, baselines, alerts.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types (migrations must not change when the models do).
_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create the four tables."""
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("window_start", _TS, nullable=False),
        sa.Column("window_end", _TS, nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=False),
        sa.Column("summary", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("model", "window_start", "window_end", name="uq_runs_model_window"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("window_start", _TS, nullable=False),
        sa.Column("window_end", _TS, nullable=False),
        sa.Column("check", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), server_default="", nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("run_fk", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["run_fk"], ["runs.id"], name=op.f("fk_metrics_run_fk_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics")),
        sa.UniqueConstraint(
            "model", "window_start", "window_end", "check", "metric", "subject", name="uq_metrics_model_window_key"
        ),
    )
    op.create_index("ix_metrics_model_metric_window_start", "metrics", ["model", "metric", "window_start"])
    op.create_index(op.f("ix_metrics_run_fk"), "metrics", ["run_fk"])
    op.create_table(
        "baselines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baselines")),
        sa.UniqueConstraint("model", "content_hash", name="uq_baselines_model_content_hash"),
    )
    op.create_index(
        "uq_baselines_model_current",
        "baselines",
        ["model"],
        unique=True,
        postgresql_where=sa.text("is_current"),
        sqlite_where=sa.text("is_current"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("window_start", _TS, nullable=False),
        sa.Column("window_end", _TS, nullable=False),
        sa.Column("check", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), server_default="", nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint(
            "model", "window_start", "window_end", "check", "metric", "subject", name="uq_alerts_model_window_key"
        ),
    )


def downgrade() -> None:
    """Drop the four tables."""
    op.drop_table("alerts")
    op.drop_index("uq_baselines_model_current", table_name="baselines")
    op.drop_table("baselines")
    op.drop_index(op.f("ix_metrics_run_fk"), table_name="metrics")
    op.drop_index("ix_metrics_model_metric_window_start", table_name="metrics")
    op.drop_table("metrics")
    op.drop_table("runs")
