"""Fixtures shared by the integration tests (a test module's own fixture of the same name wins)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from watchkeeper.store import MetricStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetricStore]:
    """A migrated SQLite metric store in the test's tmp dir."""
    with MetricStore(f"sqlite:///{tmp_path / 'wk.db'}") as metric_store:
        metric_store.migrate()
        yield metric_store
