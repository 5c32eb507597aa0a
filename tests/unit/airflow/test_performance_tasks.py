"""Which windows a performance run scores: asset events that name windows, else the delay offset."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watchkeeper.airflow.performance_tasks import windows_for_run
from watchkeeper.config import load_config
from watchkeeper.results import Window

DEMO = Path(__file__).resolve().parents[3] / "dags" / "models" / "demo_fraud.yaml"


@dataclass
class Event:
    extra: dict = field(default_factory=dict)


def test_scheduled_run_scores_the_window_one_label_delay_back() -> None:
    ctx = {
        "data_interval_start": datetime(2026, 10, 30, tzinfo=UTC),
        "data_interval_end": datetime(2026, 10, 31, tzinfo=UTC),
    }
    assert windows_for_run(load_config(DEMO), ctx) == [Window.parse("2026-10-27", "2026-10-28")]


def test_asset_events_name_the_windows() -> None:
    events = {
        "labels": [
            Event({"start": "2026-10-05T00:00:00+00:00", "end": "2026-10-06T00:00:00+00:00"}),
            Event({"start": "2026-10-04T00:00:00+00:00", "end": "2026-10-05T00:00:00+00:00"}),
            Event({"start": "2026-10-05T00:00:00+00:00", "end": "2026-10-06T00:00:00+00:00"}),
        ]
    }
    ctx = {"triggering_asset_events": events, "data_interval_start": None, "data_interval_end": None}
    assert windows_for_run(load_config(DEMO), ctx) == [
        Window.parse("2026-10-04", "2026-10-05"),
        Window.parse("2026-10-05", "2026-10-06"),
    ]


def test_event_without_window_and_no_interval_is_a_clear_error() -> None:
    ctx = {"triggering_asset_events": {"labels": [Event()]}, "data_interval_start": None, "data_interval_end": None}
    with pytest.raises(ValueError, match="no usable data interval .* and no asset event names a window"):
        windows_for_run(load_config(DEMO), ctx)
