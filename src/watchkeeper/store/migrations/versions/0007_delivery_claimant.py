"""Who holds a delivery's claim (issue 9): a retry of the same Airflow task instance takes it over.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

* new nullable column ``outbox_delivery.claimed_by``: the sender holding the 5-minute claim on a pending
  delivery -- an Airflow task instance (``dag_id/run_id/task_id/map_index``), or NULL outside Airflow.
  Airflow starts a task's next try only once the previous try is failed (its worker gone, as far as the
  scheduler can tell), so that next try may send a delivery its predecessor claimed and died holding,
  instead of leaving it pending until a later run of the model. Existing rows start unclaimed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_delivery") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_delivery") as batch:
        batch.drop_column("claimed_by")
