"""Alerting: alert lifecycle state, the notification outbox, and the retraining audit trail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types (migrations must not change when the models do).
_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create alert_state, outbox and retrain_triggers."""
    op.create_table(
        "alert_state",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("check", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), server_default="", nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("findings", _JSON, nullable=False),
        sa.Column("opened_at", _TS, nullable=False),
        sa.Column("window_start", _TS, nullable=False),
        sa.Column("window_end", _TS, nullable=False),
        sa.Column("notified_at", _TS, nullable=True),
        sa.Column("notified_severity", sa.String(length=16), nullable=True),
        sa.Column("thread_key", sa.String(length=96), nullable=True),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.Column("previous", _JSON, nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_state")),
        sa.UniqueConstraint("model", "check", "subject", name="uq_alert_state_model_key"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=96), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("window_start", _TS, nullable=True),
        sa.Column("window_end", _TS, nullable=True),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("parent_key", sa.String(length=96), nullable=True),
        sa.Column("alert_keys", _JSON, nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=True),
        sa.Column("sink", sa.String(length=32), nullable=True),
        sa.Column("ts", sa.String(length=64), nullable=True),
        sa.Column("delivered_channel", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_model_status", "outbox", ["model", "status", "id"])
    op.create_table(
        "retrain_triggers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("dag_id", sa.String(), nullable=False),
        sa.Column("triggered_at", _TS, nullable=False),
        sa.Column("window_start", _TS, nullable=False),
        sa.Column("window_end", _TS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("failing_metrics", _JSON, nullable=False),
        sa.Column("conf", _JSON, nullable=False),
        sa.Column("run_url", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retrain_triggers")),
    )
    op.create_index("ix_retrain_triggers_model_triggered_at", "retrain_triggers", ["model", "triggered_at"])


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_index("ix_retrain_triggers_model_triggered_at", table_name="retrain_triggers")
    op.drop_table("retrain_triggers")
    op.drop_index("ix_outbox_model_status", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("alert_state")
