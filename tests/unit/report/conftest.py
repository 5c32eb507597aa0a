"""Fixtures of the report tests (defined in tests/health_seed.py)."""

from health_seed import seeded

__all__ = ["seeded"]
