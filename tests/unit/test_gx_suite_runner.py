"""GX on windows fed in batches: the same results as one validation of the whole window; severities."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from support import TinyModel
from watchkeeper.config import load_config
from watchkeeper.gx_runner import GxRunner, Handling, handling_of
from watchkeeper.gx_suite import gx_results
from watchkeeper.results import CheckResult, Status

ROOT = Path(__file__).resolve().parents[2]

#: Every kind of handling, with nulls, mostly, parameters and a severity of each kind.
BIG_SUITE = {
    "name": "tiny",
    "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "age", "mostly": 0.9}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "pid"}, "severity": "critical"},
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "amount", "min_value": 0, "max_value": {"$PARAMETER": "amount_q99"}, "mostly": 0.985},
            "severity": "warning",
        },
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "age", "min_value": 5, "max_value": 90}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "country", "value_set": ["FR", "DE", "US"]}},
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "country", "regex": "^[A-Z]{2}$"}},
        {
            "type": "expect_column_pair_values_a_to_be_greater_than_b",
            "kwargs": {"column_A": "amount", "column_B": "age"},
        },
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "pid"}, "severity": "critical"},
        {"type": "expect_column_values_to_be_of_type", "kwargs": {"column": "amount", "type_": "float64"}},
        {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "amount", "min_value": 0, "max_value": 25}},
        {"type": "expect_column_max_to_be_between", "kwargs": {"column": "amount", "max_value": 1000}},
        {"type": "expect_column_stdev_to_be_between", "kwargs": {"column": "age", "min_value": 1, "max_value": 20}},
        {"type": "expect_column_median_to_be_between", "kwargs": {"column": "age", "min_value": 40, "max_value": 60}},
        {
            "type": "expect_column_quantile_values_to_be_between",
            "kwargs": {
                "column": "amount",
                "quantile_ranges": {"quantiles": [0.1, 0.5, 0.9], "value_ranges": [[0, 15], [15, 25], [25, 60]]},
            },
        },
        {"type": "expect_column_unique_value_count_to_be_between", "kwargs": {"column": "country", "max_value": 4}},
        {"type": "expect_column_distinct_values_to_be_in_set", "kwargs": {"column": "country", "value_set": ["FR"]}},
        {
            "type": "expect_column_proportion_of_unique_values_to_be_between",
            "kwargs": {"column": "pid", "min_value": 1},
        },
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 900, "max_value": 1100}},
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["ts", "pid"], "exact_match": False}},
        {"type": "expect_column_to_exist", "kwargs": {"column": "nope"}, "severity": "info"},
        {"type": "expect_column_values_to_be_increasing", "kwargs": {"column": "ts"}},
    ],
    "meta": {},
}


def _suite(tiny: TinyModel, suite: dict) -> None:
    (tiny.root / "expectations" / "tiny.json").write_text(json.dumps(suite))


def _baseline(df: pd.DataFrame) -> dict:
    if "amount" not in df.columns:
        return {}
    amount = df["amount"]
    return {"features": {"amount": {"kind": "numerical", "q99": float(amount.quantile(0.99)), "max": 50.0}}}


def _messy(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "ts": pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 86_400, n)), unit="s"),
            "pid": [f"p{i}" for i in rng.integers(0, n * 3, n)],  # some duplicates, across batches too
            "amount": rng.lognormal(3.0, 0.5, n),
            "age": rng.integers(0, 100, n).astype("float64"),
            "country": rng.choice(["FR", "DE", "US", "br", None], n, p=[0.4, 0.3, 0.2, 0.05, 0.05]),
        }
    )
    df.loc[rng.random(n) < 0.08, "age"] = np.nan
    df.loc[rng.random(n) < 0.01, "pid"] = None
    return df


def _in_batches(tiny: TinyModel, df: pd.DataFrame, sizes: list[int], chunk_rows: int) -> tuple[GxRunner, list]:
    runner = GxRunner(tiny.config(), _baseline(df), chunk_rows=chunk_rows)
    start = 0
    for size in sizes:
        runner.add_batch(df.iloc[start : start + size])
        start += size
    runner.add_batch(df.iloc[start:])
    return runner, runner.results()


def _comparable(results: list[CheckResult]) -> list[tuple]:
    return [(r.metric, r.subject, r.status, r.value, r.threshold, r.message) for r in results]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batches_give_the_one_shot_results(tiny: TinyModel, seed: int) -> None:
    _suite(tiny, BIG_SUITE)
    df = _messy(1000, seed)
    one = gx_results(tiny.config(), df, _baseline(df))
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(0, 180, 8)]  # uneven batches, some empty
    runner, many = _in_batches(tiny, df, sizes, chunk_rows=150)
    assert runner.n_chunks >= 3  # really validated in pieces
    assert runner._buffers == []  # no expectation of the suite keeps its columns across chunks
    skipped = [r for r in many if r.status is Status.SKIPPED]
    assert [r.metric for r in skipped] == []  # every expectation of the suite has an exact method
    assert _comparable(many) == _comparable(one)
    by = {(r.metric, r.subject): r for r in one}
    unique = by[("gx.expect_column_values_to_be_unique", "pid")]
    assert unique.status is Status.CRITICAL and unique.value and unique.value > 0  # duplicates span batches


def test_merged_counts_and_mostly_on_totals(tiny: TinyModel) -> None:
    """mostly is applied to the window's totals: each batch alone would pass or fail differently."""
    _suite(
        tiny,
        {
            "name": "tiny",
            "expectations": [
                {
                    "type": "expect_column_values_to_be_between",
                    "kwargs": {"column": "age", "max_value": 50, "mostly": 0.9},
                }
            ],
        },
    )
    good = pd.DataFrame({"age": [1.0] * 95 + [None] * 5})  # 0 of 95 non-null unexpected
    bad = pd.DataFrame({"age": [99.0] * 15 + [1.0] * 85})  # 15 % unexpected: fails alone
    runner = GxRunner(tiny.config(), {}, chunk_rows=50)
    runner.add_batch(good)
    runner.add_batch(bad)
    (result,) = runner.results()
    assert result.value == pytest.approx(15 / 195)  # nulls are left out, as GX does
    assert result.status is Status.OK  # 92.3 % >= 90 % on the window
    assert result.details["element_count"] == 200 and result.details["missing_count"] == 5


def test_unsupported_expectation_is_skipped_with_the_reason_only_when_chunked(tiny: TinyModel) -> None:
    suite = {
        "name": "tiny",
        "expectations": [
            {
                "type": "expect_column_mean_to_be_between",
                "kwargs": {
                    "column": "age",
                    "min_value": 0,
                    "row_condition": 'country=="FR"',
                    "condition_parser": "pandas",
                },
            }
        ],
    }
    _suite(tiny, suite)
    df = _messy(400, 5)
    assert handling_of(suite["expectations"][0])[0] is Handling.UNSUPPORTED
    (one,) = gx_results(tiny.config(), df, {})
    assert one.status is Status.OK  # small enough for one validation: GX answers it
    _, (chunked,) = _in_batches(tiny, df, [100, 100, 100], chunk_rows=100)
    assert chunked.status is Status.SKIPPED
    assert (
        "row_condition" in chunked.message and "drop the row_condition or validate smaller windows" in chunked.message
    )


def test_demo_suite_severity_is_read_where_gx_writes_it() -> None:
    """The shipped suite keeps ``severity`` at the top level: a failing critical expectation is CRITICAL."""
    suite = json.loads((ROOT / "expectations" / "demo_fraud.json").read_text())
    assert all("severity" in e and "severity" not in e["meta"] for e in suite["expectations"])
    config = load_config(ROOT / "dags" / "models" / "demo_fraud.yaml")
    n = 2000
    df = pd.DataFrame(
        {
            "ts": pd.date_range("2026-10-05", periods=n, freq="40s", tz="UTC"),
            "prediction_id": [f"id{i}" for i in range(n)],
            "amount": 10.0,
            "merchant_category": "grocery",
            "country": "FR",
            "hour": 3,
            "account_age_days": 100.0,
            "txn_count_24h": 1,
            "device_type": ["smartwatch"] * 355 + ["mobile"] * (n - 355),
            "fraud_score": 0.1,
            "predicted_label": 0,
            "latency_ms": 100.0,
            "status": "ok",
        }
    )
    results = {(r.metric, r.subject): r for r in gx_results(config, df, {})}
    device = results[("gx.expect_column_values_to_be_in_set", "device_type")]
    assert device.value == pytest.approx(0.1775)
    assert device.status is Status.CRITICAL and device.details["severity"] == "critical"
    assert all(r.status is Status.OK for key, r in results.items() if key[1] != "device_type")


def test_severity_top_level_wins_meta_is_read_for_old_suites_default_warning(tiny: TinyModel) -> None:
    failing = {"column": "age", "max_value": -1}
    _suite(
        tiny,
        {
            "name": "tiny",
            "expectations": [
                {"type": "expect_column_values_to_be_between", "kwargs": failing, "severity": "critical"},
                {"type": "expect_column_max_to_be_between", "kwargs": failing, "meta": {"severity": "critical"}},
                {"type": "expect_column_min_to_be_between", "kwargs": failing},
                {"type": "expect_column_mean_to_be_between", "kwargs": failing, "severity": "info"},
            ],
        },
    )
    statuses = [r.status for r in gx_results(tiny.config(), _messy(100, 1), {})]
    assert statuses == [Status.CRITICAL, Status.CRITICAL, Status.WARNING, Status.OK]


AGGREGATES = [
    {"type": f"expect_column_{stat}_to_be_between", "kwargs": {"column": column, "min_value": low, "max_value": high}}
    for column in ("x", "n", "s", "empty")
    for stat, low, high in (("mean", 0.1, 0.2), ("min", -1, 0), ("max", 0, 3), ("sum", 0, 10), ("stdev", 0.5, 2))
] + [
    {"type": "expect_column_proportion_of_non_null_values_to_be_between", "kwargs": {"column": c, "min_value": 0.95}}
    for c in ("x", "empty")
]


@pytest.mark.parametrize("seed", [11, 12])
def test_aggregates_from_merged_statistics_equal_one_validation(tiny: TinyModel, seed: int) -> None:
    """Mean, min, max, sum, stdev and non-null share from merged statistics; GX judges them; strings and
    all-null columns end as one validation ends (a failure saying why, or the same observed value)."""
    rng = np.random.default_rng(seed)
    n = 900
    df = pd.DataFrame(
        {
            "x": rng.normal(0.15, 1.0, n),
            "n": rng.integers(-3, 4, n),
            "s": rng.choice(["a", "b", "c"], n),
            "empty": np.full(n, np.nan),
        }
    )
    df.loc[rng.random(n) < 0.06, "x"] = np.nan
    _suite(tiny, {"name": "tiny", "expectations": AGGREGATES})
    one = gx_results(tiny.config(), df, {})
    runner, many = _in_batches(tiny, df, [300, 300], chunk_rows=250)
    assert runner.n_chunks == 3
    assert {h for h, _ in runner.handling} == {Handling.STATS}
    skipped = {(r.metric, r.subject) for r in many if r.status is Status.SKIPPED}
    assert skipped == {("gx.expect_column_sum_to_be_between", "s")}  # pandas concatenates text: not merged
    sum_s = next(r for r in many if (r.metric, r.subject) in skipped)
    assert "the sum of a str column is not merged across chunks" in sum_s.message
    one = [r for r in one if (r.metric, r.subject) not in skipped]
    many = [r for r in many if (r.metric, r.subject) not in skipped]
    assert [(r.metric, r.subject, r.status) for r in many] == [(r.metric, r.subject, r.status) for r in one]
    for a, b in zip(one, many, strict=True):
        if isinstance(a.details.get("observed_value"), float):
            assert b.details["observed_value"] == pytest.approx(a.details["observed_value"], rel=1e-12)
        else:
            assert b.details.get("observed_value") == a.details.get("observed_value")
    by = {(r.metric, r.subject): r for r in many}
    mean_s = by[("gx.expect_column_mean_to_be_between", "s")]
    assert mean_s.status is Status.WARNING and "Cannot perform reduction 'mean'" in mean_s.message
    assert by[("gx.expect_column_max_to_be_between", "n")].status is Status.OK
    assert by[("gx.expect_column_proportion_of_non_null_values_to_be_between", "x")].status is Status.WARNING
