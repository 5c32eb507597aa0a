"""Reserved, empty (issue 9): the model-health summary came in revision 0006 (``0006_model_health.py``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

This revision was released as a no-op and may already be applied in deployed databases, so it stays
empty: the table and its backfill live in 0006, which every database at 0005 still receives.
"""

from __future__ import annotations

from collections.abc import Sequence

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing: see 0006."""


def downgrade() -> None:
    """Nothing: see 0006."""
