"""Scoring a window on labels: coverage, late labels, bad labels, small and single-class windows, segments."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from support import TinyModel, make_rows
from watchkeeper.baseline import ensure_baseline
from watchkeeper.results import Status, Window
from watchkeeper.scoring import score_window
from watchkeeper.store import MetricStore

DAY = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))


def labelled(df: pd.DataFrame, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    return (rng.random(len(df)) < df["score"]).astype("int64")


@pytest.fixture
def model(tiny: TinyModel) -> TinyModel:
    ref = pd.read_parquet(tiny.root / "reference.parquet")
    ref["label"] = labelled(ref, 1)
    ref.to_parquet(tiny.root / "reference.parquet")
    tiny.edit(
        lambda d: d.update(
            performance={
                "labels": {
                    "source": {"kind": "parquet", "path": "../../labels/*.parquet"},
                    "id": "pid",
                    "label": "label",
                    "min_coverage": 0.8,
                },
                "min_samples": 300,
                "segments": ["country"],
                "segment_metric": "accuracy",
                "rules": {"accuracy": {"relative_drop": 0.05}},
            }
        )
    )
    return tiny


def write_labels(model: TinyModel, labels: pd.DataFrame) -> None:
    (model.root / "labels").mkdir(exist_ok=True)
    labels.to_parquet(model.root / "labels" / "day.parquet")


@pytest.fixture
def store() -> MetricStore:
    s = MetricStore()
    s.migrate()
    return s


def day_log(model: TinyModel) -> pd.DataFrame:
    df = make_rows(1000, "2026-10-01", seed=2)
    model.write_log(df)
    return df


def test_low_coverage_waits_and_late_labels_recompute(model: TinyModel, store: MetricStore) -> None:
    df = day_log(model)
    write_labels(model, pd.DataFrame({"pid": df["pid"][:500], "label": labelled(df)[:500]}))
    first = score_window(model.config(), DAY, store)
    assert not first.scored and first.coverage == 0.5
    assert first.reason.startswith("label coverage 50% is below the minimum 80%: waiting for labels")
    rows = store.metrics("tiny", window=DAY, check="performance")
    assert [(r.metric, r.status) for r in rows] == [("label_coverage", Status.SKIPPED)]
    write_labels(model, pd.DataFrame({"pid": df["pid"], "label": labelled(df)}))  # the rest arrives late
    second = score_window(model.config(), DAY, store)
    assert second.scored and second.coverage == 1.0
    rows = store.metrics("tiny", window=DAY, check="performance")
    metrics = {r.metric: r for r in rows}
    assert metrics["label_coverage"].status is Status.OK
    expected = float((df["pred"] == labelled(df)).mean())
    assert metrics["accuracy"].value == pytest.approx(expected)
    lo, hi = metrics["accuracy"].details["ci"]
    assert lo < expected < hi
    again = score_window(model.config(), DAY, store)  # idempotent: same rows, no duplicates
    assert len(store.metrics("tiny", window=DAY, check="performance")) == len(rows)
    assert again.scored


def test_duplicate_unknown_and_unexpected_labels(model: TinyModel, store: MetricStore) -> None:
    df = day_log(model)
    labels = pd.DataFrame({"pid": df["pid"], "label": labelled(df).astype(str)})
    labels.loc[:9, "label"] = "yes"  # not a class of a binary model
    extra = pd.DataFrame({"pid": ["nobody-1", df["pid"][20], df["pid"][21]], "label": ["1", "0", "1"]})
    write_labels(model, pd.concat([labels, extra], ignore_index=True))
    report = score_window(model.config(), DAY, store)
    by = {r.metric: r for r in report.results}
    assert by["label_coverage"].details["unmatched_labels"] == 1
    assert by["label_coverage"].details["duplicate_label_ids"] == 2
    assert by["unexpected_labels"].value == 10 and by["unexpected_labels"].status is Status.WARNING
    assert by["accuracy"].details["n"] == 990
    assert report.scored


def test_small_window_is_not_judged(model: TinyModel, store: MetricStore) -> None:
    df = make_rows(200, "2026-10-01", seed=3)
    model.write_log(df)
    write_labels(model, pd.DataFrame({"pid": df["pid"], "label": labelled(df)}))
    report = score_window(model.config(), DAY, store)
    assert not report.scored and report.reason == "only 200 usable labelled rows (minimum 300)"
    assert {r.metric for r in report.results} == {"label_coverage", "sample_size"}


def test_single_class_window_leaves_auc_undefined(model: TinyModel, store: MetricStore) -> None:
    df = day_log(model)
    write_labels(model, pd.DataFrame({"pid": df["pid"], "label": 0}))
    by = {r.metric: r for r in score_window(model.config(), DAY, store).results}
    assert by["roc_auc"].status is Status.SKIPPED and "one class" in by["roc_auc"].message
    assert by["accuracy"].value == pytest.approx(float((df["pred"] == 0).mean()))


def test_rule_against_reference_and_bad_segment(model: TinyModel, store: MetricStore) -> None:
    df = day_log(model)
    truth = labelled(df)
    truth[df["country"] == "BR"] = 1 - df.loc[df["country"] == "BR", "pred"]  # every BR prediction wrong
    write_labels(model, pd.DataFrame({"pid": df["pid"], "label": truth}))
    report = score_window(model.config(), DAY, store)
    by = {(r.metric, r.subject): r for r in report.results}
    acc = by[("accuracy", "")]
    assert acc.status is Status.WARNING and acc.details["baseline_kind"] == "reference"
    br = by[("segment_accuracy", "country=BR")]
    assert br.status is Status.WARNING and br.message.startswith("accuracy for country=BR is 0.00 vs")
    assert by[("segment_accuracy", "country=FR")].status is Status.OK


def month_window(m: int) -> Window:
    return Window(datetime(2026, m, 1, tzinfo=UTC), datetime(2026 + (m == 12), m % 12 + 1, 1, tzinfo=UTC))


def test_monthly_model_gets_a_trend_alert_in_its_first_year(model: TinyModel, store: MetricStore) -> None:
    """A monthly model whose accuracy declines slowly from April (about 1 point a month) gets an accuracy trend
    alert within its first year: the noise comes from window-sized chunks of the reference (here by count: the
    4-day reference holds no whole month), scaled to each month's sample size."""
    model.edit(lambda d: (d.update(schedule="@monthly"), d["performance"].update(segments=[], rules={})))
    logs, labels = [], []
    rng = np.random.default_rng(7)
    for m in range(1, 13):
        df = make_rows(1500, f"2026-{m:02d}-01", seed=100 + m, hours=24 * 28)
        truth = labelled(df, seed=m)
        flip = rng.random(len(df)) < 0.012 * max(0, m - 3)  # the concept drifts from April
        truth[flip] = 1 - truth[flip]
        logs.append(df)
        labels.append(pd.DataFrame({"pid": df["pid"], "label": truth}))
    model.write_log(pd.concat(logs, ignore_index=True))
    write_labels(model, pd.concat(labels, ignore_index=True))
    trend = {}
    for m in range(1, 13):
        report = score_window(model.config(), month_window(m), store)
        assert report.scored, report.reason
        trend[m] = next(r for r in report.results if r.metric == "accuracy_trend")
    assert trend[1].details["standardised_from"] == "reference" and trend[1].status is Status.OK
    _, baseline = ensure_baseline(model.config(), store)
    chunks = baseline["performance"]["chunks"]
    assert chunks["by"] == "count" and chunks["n_chunks"] == 20 and chunks["metrics"]["accuracy"]["n"] == 200
    alarmed = [m for m, r in trend.items() if r.status is Status.WARNING]
    assert alarmed and 5 <= alarmed[0] <= 12, {m: r.message for m, r in trend.items()}
    assert alarmed == list(range(alarmed[0], 13))  # once alarmed, it stays until the history restarts
    assert "accuracy is in a sustained decrease from the reference level" in trend[12].message
    # no month's window was scored twice, none overlaps: one trend point per month
    assert trend[12].details["windows"] == 12


def test_trend_from_history_is_skipped_with_the_reason_in_year_one(model: TinyModel, store: MetricStore) -> None:
    model.edit(
        lambda d: (d.update(schedule="@monthly"), d["performance"].update(trend={"standardise_from": "history"}))
    )
    df = make_rows(1000, "2026-03-01", seed=5, hours=24 * 28)
    model.write_log(df)
    write_labels(model, pd.DataFrame({"pid": df["pid"], "label": labelled(df)}))
    by = {r.metric: r for r in score_window(model.config(), month_window(3), store).results}
    assert by["accuracy_trend"].status is Status.SKIPPED
    assert by["accuracy_trend"].message.startswith("accuracy trend not judged yet: 1 window(s), more than 20 needed")
