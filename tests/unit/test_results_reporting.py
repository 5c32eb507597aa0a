"""Result types and reporting: windows, statuses, JSONL alerts, text summary."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchkeeper.reporting import alert_record, read_alerts, render_text, write_alert
from watchkeeper.results import CheckResult, Status, Window, worst
from watchkeeper.settings import mask_url

W1 = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
W2 = Window(datetime(2026, 10, 2, tzinfo=UTC), datetime(2026, 10, 3, tzinfo=UTC))
CRIT = CheckResult("drift", "psi", "amount", 0.4, 0.1, Status.CRITICAL, "amount drifted")
WARN = CheckResult("service", "latency_p95_ms", "", 300.0, 200.0, Status.WARNING, "slow")
OK = CheckResult("quality", "row_count", "", 1000.0, None, Status.OK)


def test_window_requires_time_zone_and_order() -> None:
    with pytest.raises(ValueError, match="has no time zone -- pass an aware datetime"):
        Window(datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="is not after start"):
        Window(W1.end, W1.start)
    assert Window.parse("2026-10-01", "2026-10-02") == W1
    paris = Window.parse("2026-10-01T02:00:00+02:00", "2026-10-02T02:00:00+02:00")
    assert paris == W1 and paris.hours == 24


def test_status_order_and_nonfinite_values() -> None:
    assert worst([Status.OK, Status.WARNING, Status.SKIPPED]) is Status.WARNING
    assert worst([Status.CRITICAL, Status.ERROR]) is Status.ERROR
    assert worst([]) is Status.OK
    assert [s.is_finding for s in Status] == [False, False, True, True, True]
    r = CheckResult("drift", "psi", "x", math.nan, 0.1, Status.OK)
    assert r.value is None and r.details["raw_value"] == "nan"
    assert json.dumps(CheckResult("d", "m", "", math.inf, None, Status.OK).as_dict())


def test_alert_file_replaces_the_windows_line(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_text("not json\n")
    write_alert(alert_record("m", W1, [CRIT, OK], run_id="r1"), path)
    write_alert(alert_record("m", W2, [WARN], run_id="r2"), path)
    write_alert(alert_record("m", W1, [CRIT, WARN], run_id="r3"), path)  # re-run of W1
    lines = path.read_text().splitlines()
    assert lines[0] == "not json"  # nothing is lost, even what we cannot read
    records = [json.loads(x) for x in lines[1:]]
    assert [(r["window"]["start"][:10], r["run_id"]) for r in records] == [("2026-10-02", "r2"), ("2026-10-01", "r3")]
    assert [f["metric"] for f in records[1]["findings"]] == ["psi", "latency_p95_ms"]  # most severe first
    write_alert(alert_record("m", W2, [OK], run_id="r4"), path)  # healthy re-run: the alert disappears
    assert [json.loads(x)["run_id"] for x in path.read_text().splitlines()[1:]] == ["r3"]


def test_read_alerts_of_missing_file(tmp_path: Path) -> None:
    assert read_alerts(tmp_path / "none.jsonl") == []


def test_render_text() -> None:
    text = render_text("m", W1, [OK, WARN, CRIT], n_rows=1000)
    lines = text.splitlines()
    assert lines[0] == "m  2026-10-01 00:00 .. 2026-10-02 00:00 UTC  status: CRITICAL"
    assert lines[2] == "rows in window: 1000; checks run: 3; findings: 2"
    assert lines[3] == "  CRIT drift.psi[amount]: amount drifted"
    assert lines[4] == "  WARN service.latency_p95_ms: slow"
    assert "no findings" in render_text("m", W1, [OK])
    assert W2.start - W1.start == timedelta(days=1)


def test_mask_url() -> None:
    assert mask_url("postgresql+psycopg://u:s3cret@h:5432/db") == "postgresql+psycopg://u:***@h:5432/db"
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert mask_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
