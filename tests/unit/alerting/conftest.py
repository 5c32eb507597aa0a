"""Fixtures of the alerting tests: a model config factory, a migrated SQLite store, no Slack."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from watchkeeper.config import LoadedConfig
from watchkeeper.store import MetricStore

from .helpers import make_config


@pytest.fixture
def config_factory(tmp_path: Path) -> Callable[..., LoadedConfig]:
    """``config_factory(**alerts)`` builds a config with that alerts section."""
    return lambda **alerts: make_config(tmp_path, **alerts)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetricStore]:
    """A migrated SQLite store."""
    with MetricStore(f"sqlite:///{tmp_path / 'wk.db'}") as metric_store:
        metric_store.migrate()
        yield metric_store


@pytest.fixture(autouse=True)
def _no_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    """Alerting unit tests use the log sink unless they configure Slack themselves."""
    for name in (
        "WATCHKEEPER_SLACK_TOKEN",
        "WATCHKEEPER_SLACK_WEBHOOK_URL",
        "WATCHKEEPER_SLACK_CHANNEL",
        "WATCHKEEPER_ALERT_SINK",
        "WATCHKEEPER_SLACK_API_URL",
        "AIRFLOW_CONN_SLACK_API_DEFAULT",
    ):
        monkeypatch.delenv(name, raising=False)
