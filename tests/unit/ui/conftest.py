"""Fixtures of the ui tests (defined in tests/health_seed.py)."""

from health_seed import seeded

__all__ = ["seeded"]
