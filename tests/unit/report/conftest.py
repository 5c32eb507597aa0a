"""Fixtures of the report tests (defined in report_seed.py, shared by name with the other UI test folder)."""

from report_seed import seeded

__all__ = ["seeded"]
