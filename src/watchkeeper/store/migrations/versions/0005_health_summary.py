"""Model-health summary (issue 9): the latest status and key metrics per model, maintained on record.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Reserved revision: its owner fills in the schema change (a no-op until then keeps the chain linear).
"""

from __future__ import annotations

from collections.abc import Sequence

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
