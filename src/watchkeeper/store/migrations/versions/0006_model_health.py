"""Model-health summary (issue 9): one row per model with what the overview shows, maintained on record.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

* new table ``model_health``: the latest window and its status, run id and rows, the latest window with
  performance results, the open alert keys and
  the key metric (value, status, baseline, its last 30 windows for the sparkline) of every model -- the
  store rewrites a model's row in each transaction that records its results, runs or alerts;
* backfilled here from the existing history with the store's own computation
  (:func:`watchkeeper.store.health_repo.rebuild_health`), so pages are complete right after the upgrade. It
  reads named columns only (never whole rows), so later columns added to the history tables do not break it;
  a later migration adding a NOT NULL column to ``model_health`` must give it a server default. Cost: a few
  indexed queries per model (200 models x 365 daily windows: about 3 s on SQLite, 6-10 s on a busy
  PostgreSQL, most of it listing the models of the history once).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types (migrations must not change when the models do).
_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Create model_health and fill it from the stored history."""
    op.create_table(
        "model_health",
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("window_start", _TS, nullable=True),
        sa.Column("window_end", _TS, nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("n_rows", sa.Integer(), nullable=True),
        sa.Column("perf_window_start", _TS, nullable=True),
        sa.Column("perf_window_end", _TS, nullable=True),
        sa.Column("open_alerts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("key_check", sa.String(), nullable=True),
        sa.Column("key_metric", sa.String(), nullable=True),
        sa.Column("key_label", sa.String(), nullable=True),
        sa.Column("key_value", sa.Float(), nullable=True),
        sa.Column("key_status", sa.String(length=16), nullable=True),
        sa.Column("key_baseline", sa.Float(), nullable=True),
        sa.Column("spark", _JSON, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("model", name=op.f("pk_model_health")),
    )
    if op.get_context().as_sql:  # offline SQL script: there is no history to read
        return
    from watchkeeper.store.health_repo import rebuild_health

    rebuild_health(op.get_bind())


def downgrade() -> None:
    """Drop model_health (the history it summarizes is untouched)."""
    op.drop_table("model_health")
