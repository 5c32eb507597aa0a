"""``watchkeeper check``: the core publish pipeline, exit codes, --json details, performance in the run summary."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from support import TinyModel, make_rows
from watchkeeper.checks import FAMILIES, CheckContext
from watchkeeper.cli import main
from watchkeeper.reporting import read_alerts
from watchkeeper.results import Window
from watchkeeper.store import MetricStore

DAY = ("--start", "2026-10-01", "--end", "2026-10-02")
WINDOW = Window.parse("2026-10-01", "2026-10-02")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _labelled(df: pd.DataFrame, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    return (rng.random(len(df)) < df["score"] * 3).astype("int64")


@pytest.fixture
def labelled(tiny: TinyModel) -> TinyModel:
    """The tiny model with labels: performance is scored by ``check`` (and its estimates paired)."""
    ref = pd.read_parquet(tiny.root / "reference.parquet")
    ref["label"] = _labelled(ref, 1)
    ref.to_parquet(tiny.root / "reference.parquet")
    performance = {
        "labels": {"source": {"kind": "parquet", "path": "../../labels/*.parquet"}, "id": "pid", "label": "label"},
        "min_samples": 300,
        "rules": {"roc_auc": {"relative_drop": {"warning": 0.05, "critical": 0.10}}},
    }
    tiny.edit(lambda d: d.update(performance=performance))
    df = make_rows(1000, "2026-10-01", seed=2)
    tiny.write_log(df)
    labels = pd.DataFrame({"pid": df["pid"], "label": 1 - _labelled(df, 3)})  # inverted: roc_auc collapses
    (tiny.root / "labels").mkdir()
    labels.to_parquet(tiny.root / "labels" / "day.parquet")
    return tiny


def _crash_drift(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_: CheckContext) -> list:
        raise ZeroDivisionError("bad luck")

    monkeypatch.setitem(FAMILIES, "drift", boom)


def test_a_crashed_family_exits_1_with_the_reason_after_recording_and_writing_the_alert(
    tiny: TinyModel, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _crash_drift(monkeypatch)
    code, out, err = run(capsys, "check", "tiny", *DAY)
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "error: monitoring failed: monitoring failed: the drift checks raised ZeroDivisionError: bad luck"
    )
    assert "ERR  drift.check_failed: monitoring failed" in out
    run_row = MetricStore().run("tiny", WINDOW)
    assert run_row is not None and run_row.status == "error" and run_row.source == "cli"
    (alert,) = [a for a in read_alerts() if "window" in a]
    assert alert["status"] == "error" and alert["findings"][0]["metric"] == "check_failed"
    # an error outranks --fail-on: the run failed, it did not merely find something
    assert run(capsys, "check", "tiny", *DAY, "--fail-on", "warning")[0] == 1
    assert run(capsys, "check", "tiny", *DAY, "--dry-run")[0] == 1


def test_fail_on_keeps_exit_3_and_a_healthy_window_exits_0(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check", "tiny", *DAY, "--fail-on", "warning")[0] == 0
    df = make_rows(1000, "2026-10-01", seed=2)
    df["amount"] = df["amount"] * 3  # drift
    tiny.write_log(df)
    code, out, err = run(capsys, "check", "tiny", *DAY, "--fail-on", "critical")
    assert code == 3 and "CRIT drift." in out and "error:" not in err
    assert run(capsys, "check", "tiny", *DAY)[0] == 0  # findings alone never fail the command


def test_json_carries_details_and_performance_is_in_the_run_summary(
    labelled: TinyModel, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "check", "tiny", *DAY, "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]  # strict JSON: no NaN, no numpy
    assert all(set(r) == {"model", "window", "check", "metric", "subject", "value", "threshold", "status",
                          "message", "details"} for r in rows)  # fmt: skip
    perf = {r["metric"]: r for r in rows if r["check"] == "performance"}
    auc = perf["roc_auc"]
    low, high = auc["details"]["ci"]
    assert low <= auc["value"] <= high and auc["details"]["n"] == 1000
    assert math.isfinite(auc["details"]["estimated"])  # the monitor's estimate for the same window
    assert auc["details"]["estimation_error"] == pytest.approx(auc["details"]["estimated"] - auc["value"])
    assert auc["status"] == "critical" and auc["details"]["rule"]["relative_drop"]["critical"] == 0.10
    assert auc["details"]["baseline"] == pytest.approx(auc["details"]["reference"])
    drift = [r for r in rows if r["check"] == "drift"]
    assert drift and all(isinstance(r["details"], dict) for r in drift)
    run_row = MetricStore().run("tiny", WINDOW)
    assert run_row is not None and run_row.status == "critical"
    assert run_row.summary["counts"]["critical"] >= 1 and run_row.summary["findings"] >= 1
    stored = {r.metric for r in MetricStore().metrics("tiny", window=WINDOW, check="performance")}
    assert {"recall", "label_coverage"} <= stored
    code, _, _ = run(capsys, "check", "tiny", *DAY)  # re-run: replaced, never duplicated
    assert len(MetricStore().metrics("tiny", window=WINDOW, check="performance")) == len(stored)


def test_alert_with_dry_run_is_refused(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "tiny", *DAY, "--alert", "--dry-run")
    assert code == 1 and "--alert keeps the alert state in the metric store -- drop --dry-run" in err
