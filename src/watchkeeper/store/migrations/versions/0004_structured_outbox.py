"""Structured notifications in the outbox (issue 11): sink-agnostic payloads rendered at send time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Reserved revision: its owner fills in the schema change (a no-op until then keeps the chain linear).
"""

from __future__ import annotations

from collections.abc import Sequence

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
