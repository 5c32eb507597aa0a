"""Trend detection standardised from the reference's window-sized chunks: a monthly model gets trend alerts in
its first year, a stationary one stays quiet, and too little reference falls back to the history and says so."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from watchkeeper.performance.trend import ChunkStats, Point, reference_chunk_stats, trend_result, window_period
from watchkeeper.results import Status


@pytest.mark.parametrize(
    ("schedule", "period"),
    [
        ("@hourly", timedelta(hours=1)),
        ("@daily", timedelta(days=1)),
        ("@weekly", timedelta(weeks=1)),
        ("@monthly", timedelta(days=31)),
        ("0 9 * * 1-5", timedelta(days=1)),
        ("@once", None),
    ],
)
def test_window_period_of_each_schedule(schedule: str, period: timedelta | None) -> None:
    assert window_period(schedule) == period


def binary_reference(n: int, rng: np.random.Generator, *, months: int | None = None) -> pd.DataFrame:
    score = rng.beta(2, 5, n)
    df = pd.DataFrame(
        {"score": score, "pred": (score >= 0.5).astype(int), "label": (rng.random(n) < score).astype(int)}
    )
    if months:
        df["ts"] = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.linspace(0, months * 30.4, n), unit="D")
    return df


def test_chunks_follow_the_timestamps_when_they_span_enough_windows() -> None:
    ref = binary_reference(12_000, np.random.default_rng(0), months=12)
    stats = reference_chunk_stats(
        "binary_classification",
        ref["label"],
        ref["pred"],
        ref["score"],
        timestamps=ref["ts"],
        period=timedelta(days=31),
    )
    assert stats["by"] == "time" and stats["n_chunks"] == 12 and stats["period_hours"] == 744
    acc = stats["metrics"]["accuracy"]
    assert acc["chunks"] == 12 and acc["n"] == pytest.approx(1000, rel=0.05)
    expected = np.sqrt(acc["mean"] * (1 - acc["mean"]) / acc["n"])  # binomial noise of a 1,000-row chunk
    assert 0.5 * expected < acc["std"] < 1.6 * expected
    per_chunk = [
        float((g["pred"] == g["label"]).mean())
        for _, g in ref.groupby((ref["ts"] - ref["ts"].min()) // pd.Timedelta(days=31))
    ]
    assert acc["mean"] == pytest.approx(np.mean(per_chunk)) and acc["std"] == pytest.approx(np.std(per_chunk, ddof=1))


def test_chunks_by_count_without_timestamps_or_with_too_short_a_span() -> None:
    ref = binary_reference(4000, np.random.default_rng(1), months=1)  # one month of data, monthly windows
    stats = reference_chunk_stats(
        "binary_classification",
        ref["label"],
        ref["pred"],
        ref["score"],
        timestamps=ref["ts"],
        period=timedelta(days=31),
    )
    assert stats["by"] == "count" and stats["chunk_rows"] == 200 and stats["n_chunks"] == 20
    sized = reference_chunk_stats("binary_classification", ref["label"], ref["pred"], target_rows=100)
    assert sized["chunk_rows"] == 100 and sized["n_chunks"] == 40


def test_noise_scales_with_the_window_size() -> None:
    stats = ChunkStats(mean=0.9, std=0.02, n=400, chunks=10)
    assert stats.noise_at(1600) == pytest.approx(0.01)
    assert stats.noise_at(None) == 0.02


def monthly_accuracy(rng: np.random.Generator, months: int, decline: float, rows: int = 1500) -> list[Point]:
    level = 0.90 - np.clip(np.arange(months) - 3, 0, None) * decline  # flat for 4 months, then declining
    return [Point(float(rng.binomial(rows, p) / rows), rows) for p in level]


REFERENCE = {"mean": 0.90, "std": float(np.sqrt(0.9 * 0.1 / 1000)), "n": 1000.0, "chunks": 12}


@pytest.mark.parametrize(("method", "decline"), [("page_hinkley", 0.008), ("cusum", 0.006)])
def test_declining_monthly_model_alarms_within_its_first_year(method: str, decline: float) -> None:
    """Flat for 4 months, then accuracy falls by 0.6-0.8 points a month (0.90 -> 0.85 or 0.84 by month 12,
    never 10 % below the reference): most such models get a trend alert in their first year."""
    alarms = []
    for seed in range(50):
        series = monthly_accuracy(np.random.default_rng(seed), 12, decline=decline)
        result = trend_result("accuracy", series, higher_is_better=True, reference=REFERENCE, method=method)
        assert result.details["standardised_from"] == "reference"
        alarms.append(result.details["alarm_index"] if result.status is Status.WARNING else None)
    first = [a for a in alarms if a is not None]
    assert len(first) >= 48  # at least 96 % of declining models alarm within 12 months
    assert min(first) >= 4 and np.median(first) <= 10  # never before the decline starts
    # the old behaviour: standardised from 20 windows of history, nothing can be said in year one
    series = monthly_accuracy(np.random.default_rng(0), 12, decline)
    history = trend_result("accuracy", series, higher_is_better=True, method=method)
    assert history.status is Status.SKIPPED and "more than 20 needed" in history.message
    assert "performance.trend.standardise_from: reference" in history.message


@pytest.mark.parametrize("method", ["page_hinkley", "cusum"])
def test_stationary_monthly_models_stay_quiet(method: str) -> None:
    alarms = 0
    for seed in range(200):
        series = monthly_accuracy(np.random.default_rng(1000 + seed), 12, decline=0.0)
        result = trend_result("accuracy", series, higher_is_better=True, reference=REFERENCE, method=method)
        alarms += result.status is Status.WARNING
    assert alarms <= 4  # <= 2 % of stationary models ever alarm in their first year


def test_lower_is_better_metric_alarms_on_a_rise() -> None:
    ref = {"mean": 10.0, "std": 0.5, "n": 500.0, "chunks": 20}
    rising = [Point(10.0 + 0.4 * max(0, i - 2), 500) for i in range(12)]
    result = trend_result("mae", rising, higher_is_better=False, reference=ref, method="cusum")
    assert result.status is Status.WARNING and "sustained increase" in result.message
    falling = [Point(10.0 - 0.4 * i, 500) for i in range(12)]
    assert trend_result("mae", falling, higher_is_better=False, reference=ref).status is Status.OK


def test_too_few_reference_chunks_fall_back_to_the_history_and_say_so() -> None:
    few = {**REFERENCE, "chunks": 3}
    series = monthly_accuracy(np.random.default_rng(3), 12, decline=0.006)
    result = trend_result("accuracy", series, higher_is_better=True, reference=few, standardise_from="reference")
    assert result.status is Status.SKIPPED and result.details["standardised_from"] == "history"
    assert "the reference gave 3 window-sized chunk(s) with accuracy defined (8 needed)" in result.message
    assert "lower trend.min_chunks" in result.details["note"]
    ok = trend_result("accuracy", series, higher_is_better=True, reference=few, min_chunks=3)
    assert ok.details["standardised_from"] == "reference"


def test_configurable_warmup_holds_alarms_back() -> None:
    crash = [Point(0.9, 1000), Point(0.5, 1000), Point(0.5, 1000), Point(0.5, 1000)]
    assert trend_result("accuracy", crash, higher_is_better=True, reference=REFERENCE).details["alarm_index"] == 1
    late = trend_result("accuracy", crash, higher_is_better=True, reference=REFERENCE, warmup=2)
    assert late.details["alarm_index"] == 2 and late.details["warmup"] == 2
    short = trend_result("accuracy", crash[:2], higher_is_better=True, reference=REFERENCE, warmup=2)
    assert short.status is Status.SKIPPED and "2 window(s), more than 2 needed" in short.message
