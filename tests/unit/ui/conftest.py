"""Fixtures of the ui tests (defined in ui_seed.py, shared by name with the other UI test folder)."""

from ui_seed import seeded

__all__ = ["seeded"]
