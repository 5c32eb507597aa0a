"""Airflow passes pendulum DateTimes as the data interval: scans accept them like stdlib datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pendulum
import pytest

from watchkeeper.results import Window
from watchkeeper.sources.base import ScanRequest

from .helpers import DAY, config, oracle, rows, scan_all


def pendulum_day() -> Window:
    return Window(pendulum.datetime(2026, 10, 5, tz="UTC"), pendulum.datetime(2026, 10, 6, tz="UTC"))


@pytest.mark.parametrize(
    ("zone", "low", "high"),
    [
        ("UTC", datetime(2026, 10, 5), datetime(2026, 10, 6)),
        ("Europe/Berlin", datetime(2026, 10, 5, 2), datetime(2026, 10, 6, 2)),
        ("America/New_York", datetime(2026, 10, 4, 20), datetime(2026, 10, 5, 20)),
    ],
)
def test_naive_bounds_of_a_pendulum_window_match_the_stdlib_window(
    tmp_path: Path, zone: str, low: datetime, high: datetime
) -> None:
    source = config(tmp_path, {"kind": "parquet", "path": "log.parquet"}).model.predictions.source
    window = pendulum_day()
    assert isinstance(window.start, pendulum.DateTime)
    got = ScanRequest(source=source, base=tmp_path, window=window, timezone=zone).naive_bounds()
    plain = Window(datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 6, tzinfo=UTC))
    assert got == ScanRequest(source=source, base=tmp_path, window=plain, timezone=zone).naive_bounds()
    assert got == (low, high)
    assert got is not None and all(type(v) is datetime for v in got)


@pytest.mark.parametrize("tz", ["UTC", None])
def test_a_parquet_window_scan_with_a_pendulum_window_reads_the_same_rows(tmp_path: Path, tz: str | None) -> None:
    df = rows("2026-10-02", 24 * 7, 24 * 7 * 100, tz=tz)
    df.to_parquet(tmp_path / "log.parquet", row_group_size=100)
    cfg = config(tmp_path, {"kind": "parquet", "path": "log.parquet"}, timezone="Europe/Berlin")
    got, scan, _ = scan_all(cfg, pendulum_day())
    expected = oracle([df], DAY, "Europe/Berlin")
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, expected[got.columns.tolist()])
    assert scan.row_groups_read < scan.row_groups_total
