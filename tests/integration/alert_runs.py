"""What the alert-delivery integration tests share (test_sinks.py, test_slack.py): the model ``fraud``,
daily windows from 2026-10-01 and one ``dispatch`` per window (the ``store`` fixture is in conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from support import minimal_config
from watchkeeper.alerting import dispatch
from watchkeeper.config import LoadedConfig, parse_config
from watchkeeper.results import CheckResult, Window
from watchkeeper.store import MetricStore

W0 = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))


def window(day: int) -> Window:
    """The daily window ``day`` days after :data:`W0`."""
    return Window(W0.start + timedelta(days=day), W0.end + timedelta(days=day))


def at(day: int) -> datetime:
    """When the run of window ``day`` happens: five minutes after it ends."""
    return window(day).end + timedelta(minutes=5)


def fraud_config(tmp: Path, alerts: dict[str, Any]) -> LoadedConfig:
    """The regression model ``fraud`` with this ``alerts`` section, written to ``tmp/fraud.yaml`` and parsed."""
    reference = {"source": {"kind": "csv", "path": "reference.csv"}}
    data = minimal_config(owner="risk-team", reference=reference, alerts=alerts)
    text = yaml.safe_dump(data)
    (tmp / "fraud.yaml").write_text(text)
    return parse_config(tmp / "fraud.yaml", text)


def run(config: LoadedConfig, store: MetricStore, day: int, results: list[CheckResult], **kw: Any) -> dict[str, Any]:
    """``dispatch`` of the scheduled run of window ``day`` (at :func:`at` unless ``now`` is given)."""
    kw.setdefault("now", at(day))
    return dispatch(
        config,
        window(day),
        results,
        run_id=f"scheduled__{day}",
        dag_id="monitor__fraud",
        store=store,
        run_url=f"http://airflow.example/dags/monitor__fraud/runs/scheduled__{day}",
        **kw,
    )


def strings_in(value: Any) -> list[str]:
    """Every string in a JSON-like value, at any depth (top-level text, block texts, context elements...)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []
