"""Whole-column GX expectations on windows fed in chunks: the same results as GX on the whole window,
with state that does not grow with the window's rows."""

from __future__ import annotations

import gc
import json
import math
import tracemalloc
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from support import TinyModel
from watchkeeper.gx_columns import OrderStatistics, ValueCounts, value_hashes
from watchkeeper.gx_runner import GxRunner, Handling
from watchkeeper.gx_suite import gx_results
from watchkeeper.profile.sketch import DuplicateCounter
from watchkeeper.results import CheckResult, Status


def _exp(kind: str, **kwargs: object) -> dict:
    return {"type": kind, "kwargs": kwargs}


QUANTILES = {"quantiles": [0.0, 0.1, 0.25, 0.5, 0.77, 1.0], "value_ranges": [[-50, 50]] * 6}

#: Every converted whole-column expectation, on columns with nulls, duplicates, ties and unsorted values.
WHOLE_SUITE = [
    _exp("expect_column_values_to_be_unique", column="pid"),
    _exp("expect_column_values_to_be_unique", column="pid", mostly=0.97),
    _exp("expect_column_values_to_be_unique", column="x"),
    _exp("expect_column_values_to_be_unique", column="k"),
    _exp("expect_column_values_to_be_unique", column="clean_id"),
    _exp("expect_compound_columns_to_be_unique", column_list=["k", "c"]),
    _exp("expect_compound_columns_to_be_unique", column_list=["k", "c"], ignore_row_if="any_value_is_missing"),
    _exp("expect_compound_columns_to_be_unique", column_list=["k", "c"], ignore_row_if="never", mostly=0.5),
    _exp("expect_compound_columns_to_be_unique", column_list=["clean_id", "c"]),
    _exp("expect_column_values_to_be_increasing", column="ts"),
    _exp("expect_column_values_to_be_increasing", column="ts", strictly=True),
    _exp("expect_column_values_to_be_increasing", column="steps", mostly=0.6),
    _exp("expect_column_values_to_be_decreasing", column="steps"),
    _exp("expect_column_values_to_be_decreasing", column="down", strictly=True),
    _exp("expect_column_values_to_be_increasing", column="c"),  # text: GX cannot take differences
    _exp("expect_column_distinct_values_to_be_in_set", column="c", value_set=["FR", "DE", "US", "br"]),
    _exp("expect_column_distinct_values_to_be_in_set", column="c", value_set=["FR", "DE"]),
    _exp("expect_column_distinct_values_to_contain_set", column="c", value_set=["FR", "IT"]),
    _exp("expect_column_distinct_values_to_contain_set", column="k", value_set=[1, 2]),
    _exp("expect_column_distinct_values_to_equal_set", column="c", value_set=["FR", "DE", "US", "br"]),
    _exp("expect_column_distinct_values_to_equal_set", column="k", value_set=list(range(12))),
    _exp("expect_column_most_common_value_to_be_in_set", column="c", value_set=["FR"]),
    _exp("expect_column_most_common_value_to_be_in_set", column="k", value_set=[3], ties_okay=True),
    _exp("expect_column_most_common_value_to_be_in_set", column="tie", value_set=["a"]),
    _exp("expect_column_unique_value_count_to_be_between", column="c", min_value=2, max_value=4),
    _exp("expect_column_unique_value_count_to_be_between", column="pid", min_value=100),
    _exp("expect_column_proportion_of_unique_values_to_be_between", column="pid", min_value=0.99),
    _exp("expect_column_proportion_of_unique_values_to_be_between", column="k", max_value=0.1),
    _exp("expect_column_value_z_scores_to_be_less_than", column="x", threshold=1.5, double_sided=True, mostly=0.9),
    _exp("expect_column_value_z_scores_to_be_less_than", column="k", threshold=1, double_sided=False),
    _exp("expect_column_value_z_scores_to_be_less_than", column="steps", threshold=-0.5, double_sided=True),
    _exp("expect_column_value_z_scores_to_be_less_than", column="empty", threshold=2, double_sided=True),
    _exp("expect_column_median_to_be_between", column="x", min_value=-0.1, max_value=0.1),
    _exp("expect_column_median_to_be_between", column="k", min_value=5, max_value=6),
    _exp("expect_column_median_to_be_between", column="empty", min_value=0),
    _exp("expect_column_quantile_values_to_be_between", column="x", quantile_ranges=QUANTILES),
    _exp("expect_column_quantile_values_to_be_between", column="k", quantile_ranges=QUANTILES),
    _exp(
        "expect_column_quantile_values_to_be_between",
        column="x",
        quantile_ranges=QUANTILES,
        allow_relative_error="linear",
    ),
    _exp(
        "expect_column_quantile_values_to_be_between",
        column="k",
        quantile_ranges=QUANTILES,
        allow_relative_error="midpoint",
    ),
]


def _window(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 3_000, n)), unit="s")
    df = pd.DataFrame(
        {
            "ts": ts,  # sorted, with ties (strictly fails)
            "pid": [f"p{i}" for i in rng.integers(0, n * 20, n)],
            "clean_id": np.arange(n),
            "x": rng.normal(0.0, 1.0, n).round(2),  # ties
            "k": rng.integers(0, 12, n).astype("float64"),
            "c": rng.choice(["FR", "DE", "US", "br", None], n, p=[0.4, 0.3, 0.2, 0.05, 0.05]),
            "tie": ["a", "b"] * (n // 2) + ["a"] * (n % 2),
            "steps": np.where(rng.random(n) < 0.7, np.arange(n), rng.integers(0, n, n)).astype("float64"),
            "down": -np.arange(n, dtype="float64"),
            "empty": np.full(n, np.nan),
        }
    )
    for column, share in (("pid", 0.02), ("x", 0.05), ("k", 0.1), ("steps", 0.05), ("down", 0.03)):
        df.loc[rng.random(n) < share, column] = None
    df.loc[rng.random(n) < 0.2, "down"] = df["down"].shift(1)  # equal neighbours: strictly decreasing fails
    return df


def _suite(tiny: TinyModel, expectations: list[dict]) -> None:
    (tiny.root / "expectations" / "tiny.json").write_text(json.dumps({"name": "tiny", "expectations": expectations}))


def _chunked(tiny: TinyModel, df: pd.DataFrame, chunk_rows: int, memory_values: int, seed: int) -> GxRunner:
    runner = GxRunner(tiny.config(), {}, chunk_rows=chunk_rows, memory_values=memory_values)
    rng = np.random.default_rng(seed)
    start = 0
    while start < len(df):
        size = int(rng.integers(0, chunk_rows * 2))
        runner.add_batch(df.iloc[start : start + size])
        start += size
    return runner


def _same(a: CheckResult, b: CheckResult) -> None:
    assert (b.metric, b.subject, b.status, b.threshold, b.message) == (
        a.metric,
        a.subject,
        a.status,
        a.threshold,
        a.message,
    )
    assert (a.value is None) == (b.value is None)
    if a.value is not None:
        assert b.value == pytest.approx(a.value, rel=1e-12)
    for key in ("element_count", "unexpected_count", "missing_count", "observed_value", "kwargs"):
        assert b.details.get(key) == a.details.get(key), (a.metric, a.subject, key)


@pytest.mark.parametrize("seed", [1, 2])
def test_whole_column_expectations_in_chunks_equal_one_validation(tiny: TinyModel, seed: int) -> None:
    """Many small chunks and tiny in-memory buffers (hashes and values spill to disk) give GX's results."""
    df = _window(1500, seed)
    _suite(tiny, WHOLE_SUITE)
    one = gx_results(tiny.config(), df, {})
    runner = _chunked(tiny, df, chunk_rows=97, memory_values=64, seed=seed)
    many = runner.results()
    assert runner.n_chunks >= 5
    assert Handling.COLUMNS not in {h for h, _ in runner.handling}
    assert runner._buffers == []  # nothing accumulated
    assert len(many) == len(one) == len(WHOLE_SUITE)
    for a, b in zip(one, many, strict=True):
        _same(a, b)
    statuses = {(r.metric, r.subject, json.dumps(r.details["kwargs"], sort_keys=True)): r.status for r in one}
    assert Status.OK in statuses.values() and Status.WARNING in statuses.values()  # both outcomes exercised
    by = {(r.metric, r.subject): r for r in many}
    assert by[("gx.expect_column_values_to_be_unique", "clean_id")].status is Status.OK
    assert by[("gx.expect_column_values_to_be_increasing", "c")].status is Status.WARNING  # text: metric error
    assert "could not be evaluated" in by[("gx.expect_column_values_to_be_increasing", "c")].message
    zscores = by[("gx.expect_column_value_z_scores_to_be_less_than", "x")]
    assert zscores.details["unexpected_count"] > 0 and zscores.details["missing_count"] > 0


def test_z_scores_of_a_text_column_fail_with_gx_reason(tiny: TinyModel) -> None:
    """GX fails on the mean or the deviation of text (which first is up to GX's metric order)."""
    _suite(tiny, [_exp("expect_column_value_z_scores_to_be_less_than", column="c", threshold=2, double_sided=True)])
    runner = _chunked(tiny, _window(600, 4), chunk_rows=97, memory_values=64, seed=4)
    (result,) = runner.results()
    assert result.status is Status.WARNING and "could not be evaluated: Cannot perform reduction" in result.message


def test_uniqueness_across_chunks_nulls_and_mostly(tiny: TinyModel) -> None:
    """A value repeated only across chunks is unexpected in every row it occupies; nulls are left out."""
    _suite(
        tiny,
        [
            _exp("expect_column_values_to_be_unique", column="id"),
            _exp("expect_column_values_to_be_unique", column="id", mostly=0.5),
            _exp("expect_column_values_to_be_increasing", column="id", strictly=True),
        ],
    )
    first = pd.DataFrame({"id": [1.0, 2.0, None, 3.0]})
    second = pd.DataFrame({"id": [4, 5, 2, 6]})  # int in this chunk, float in the first: 2 repeats 2.0
    runner = GxRunner(tiny.config(), {}, chunk_rows=4, memory_values=16)
    runner.add_batch(first)
    runner.add_batch(second)
    unique, mostly, increasing = runner.results()
    assert unique.details["unexpected_count"] == 2 and unique.details["missing_count"] == 1
    assert unique.value == pytest.approx(2 / 7) and unique.status is Status.WARNING
    assert mostly.status is Status.OK
    assert increasing.details["unexpected_count"] == 1  # 2 after 5, in the second chunk
    whole = gx_results(tiny.config(), pd.concat([first, second], ignore_index=True), {})
    for a, b in zip(whole, [unique, mostly, increasing], strict=True):
        _same(a, b)


def test_sequence_breaks_at_a_chunk_boundary(tiny: TinyModel) -> None:
    """The first value of a chunk is compared with the previous chunk's last non-null value."""
    _suite(tiny, [_exp("expect_column_values_to_be_increasing", column="v")])
    chunks = [pd.DataFrame({"v": [1.0, 5.0]}), pd.DataFrame({"v": [None, None]}), pd.DataFrame({"v": [4.0, 6.0]})]
    runner = GxRunner(tiny.config(), {}, chunk_rows=2)
    for chunk in chunks:
        runner.add_batch(chunk)
    (chunked,) = runner.results()
    (whole,) = gx_results(tiny.config(), pd.concat(chunks, ignore_index=True), {})
    assert chunked.details["unexpected_count"] == 1 and chunked.details["element_count"] == 6
    _same(whole, chunked)


def test_order_statistics_equal_pandas_on_spilled_values() -> None:
    """Median and quantiles (every interpolation GX offers) from spilled values equal pandas' bit for bit."""
    rng = np.random.default_rng(7)
    for trial in range(60):
        n = int(rng.integers(1, 2500))
        values = [rng.normal(0, 1, n), rng.integers(-5, 5, n).astype(float), rng.lognormal(0, 4, n)][trial % 3]
        series = pd.Series(values)
        if trial % 2:
            series[rng.random(n) < 0.1] = np.nan
        if trial % 5 == 0:
            series.iloc[0], series.iloc[-1] = np.inf, -np.inf
        order = OrderStatistics(buffer_values=int(rng.integers(16, 300)))
        for part in np.array_split(np.arange(n), int(rng.integers(1, 9))):
            order.add(series.iloc[part])
        present = series.dropna()
        qs = [0.0, 0.1, 0.5, 0.9, 1.0, *rng.random(3).tolist()]
        with np.errstate(all="ignore"):
            for method in ("linear", "lower", "higher", "midpoint", "nearest"):
                want = present.quantile(qs, interpolation=method).tolist()
                got = order.quantiles(qs, method)
                assert [type(v) for v in got] == [type(v) for v in want]
                assert all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(want, got, strict=True))
            median = order.median()
        assert median == present.median() or (math.isnan(median) and math.isnan(present.median()))
        order.close()


def test_value_hashes_match_pandas_equality_across_dtypes() -> None:
    """A value hashes the same whether its chunk held it as int, float or object text."""
    ints = value_hashes(pd.Series([1, 2, 3]))
    floats = value_hashes(pd.Series([1.0, 2.0, 3.5]))
    assert list(ints[:2]) == list(floats[:2]) and ints[2] != floats[2]
    assert list(value_hashes(pd.Series(["a", None], dtype=object))) == list(value_hashes(pd.Series(["a", None])))
    assert value_hashes(pd.Series([0.0]))[0] == value_hashes(pd.Series([-0.0]))[0]


def test_value_counts_frame_keeps_distinct_values_and_modes() -> None:
    counts = ValueCounts()
    counts.add(pd.Series(["a", "b", None]))
    counts.add(pd.Series(["b", "c", None]))
    frame = counts.frame("v")
    assert sorted(frame["v"].dropna().unique()) == ["a", "b", "c"] and frame["v"].isna().sum() == 1
    assert frame["v"].mode().tolist() == ["b"]


def test_duplicate_counter_group_counts_spilled_and_in_memory() -> None:
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 5000, 20_000).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    _, counts = np.unique(ids, return_counts=True)
    want = (int(counts.size), int(counts[counts > 1].sum()))
    for buffer in (100, 10**6):
        counter = DuplicateCounter(buffer)
        for part in np.array_split(ids, 13):
            counter.add_hashes(part)
        assert counter.group_counts() == want
        assert counter.duplicates() == len(ids) - want[0]  # unchanged behaviour
        counter.close()


MEMORY_SUITE = [
    _exp("expect_column_values_to_be_unique", column="id"),
    _exp("expect_compound_columns_to_be_unique", column_list=["id", "g"]),
    _exp("expect_column_values_to_be_increasing", column="id"),
    _exp("expect_column_unique_value_count_to_be_between", column="id", min_value=1),
    _exp("expect_column_proportion_of_unique_values_to_be_between", column="id", min_value=0.5),
    _exp("expect_column_distinct_values_to_be_in_set", column="g", value_set=list(range(10))),
    _exp("expect_column_most_common_value_to_be_in_set", column="g", value_set=list(range(10))),
    _exp("expect_column_median_to_be_between", column="x", min_value=-1, max_value=1),
    _exp("expect_column_quantile_values_to_be_between", column="x", quantile_ranges=QUANTILES),
    _exp("expect_column_value_z_scores_to_be_less_than", column="x", threshold=5, double_sided=True),
]


def _held_after(tiny: TinyModel, rows: int, chunk_rows: int) -> tuple[int, int, list[Status]]:
    """(bytes held by the runner after the window was fed, peak while feeding, statuses)."""

    def batches() -> Iterator[pd.DataFrame]:
        rng = np.random.default_rng(rows)
        for start in range(0, rows, chunk_rows):
            n = min(chunk_rows, rows - start)
            yield pd.DataFrame(
                {"id": np.arange(start, start + n), "g": rng.integers(0, 10, n), "x": rng.normal(0, 1, n)}
            )

    runner = GxRunner(tiny.config(), {}, chunk_rows=chunk_rows, memory_values=20_000)
    runner.add_batch(next(batches()))  # GX loaded and its caches warm before measuring
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i, batch in enumerate(batches()):
        if i:
            runner.add_batch(batch)
    del batch
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert runner._buffers == [] and runner._pending == []
    state = runner._window_columns
    assert state is not None and all(c._buffered <= 20_000 for c in state.counters.values())
    statuses = [r.status for r in runner.results()]
    return held - base, peak - base, statuses


def test_memory_held_does_not_grow_with_the_window(tiny: TinyModel) -> None:
    """A window 8 times longer holds about the same memory: hashes and values go to disk past the buffer.

    Measured: about 2.3 MB held after 100,000 and after 800,000 rows (chunks of 50,000); keeping the
    three columns, as before, would hold 19 MB of values at 800,000 rows.
    """
    _suite(tiny, MEMORY_SUITE)
    small_held, small_peak, small_statuses = _held_after(tiny, 100_000, 50_000)
    big_held, big_peak, big_statuses = _held_after(tiny, 800_000, 50_000)
    assert small_statuses == big_statuses and Status.ERROR not in big_statuses
    ids_in_memory = 800_000 * 8  # what keeping the id column alone would cost
    assert big_held < ids_in_memory / 2, (small_held, big_held)
    assert big_held < 1.5 * small_held + 500_000, (small_held, big_held)
    assert big_peak < 1.5 * small_peak + 1_000_000, (small_peak, big_peak)


EDGE_KINDS = [
    ("expect_column_values_to_be_unique", {}),
    ("expect_column_values_to_be_increasing", {}),
    ("expect_column_distinct_values_to_be_in_set", {"value_set": [1, 2]}),
    ("expect_column_most_common_value_to_be_in_set", {"value_set": [1]}),
    ("expect_column_unique_value_count_to_be_between", {"min_value": 1}),
    ("expect_column_proportion_of_unique_values_to_be_between", {"min_value": 0.5}),
    ("expect_column_median_to_be_between", {"min_value": 0}),
    (
        "expect_column_quantile_values_to_be_between",
        {"quantile_ranges": {"quantiles": [0.5], "value_ranges": [[0, 1]]}},
    ),
]


def test_missing_empty_and_non_numeric_columns_end_as_one_validation(tiny: TinyModel) -> None:
    """A column missing from the window, all null, boolean, datetime, integer or text: GX's answer or its reason;
    only the median and quantiles of a boolean column are skipped (with the reason)."""
    n = 300
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "nul": np.full(n, np.nan),
            "b": rng.random(n) < 0.5,
            "d": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 50, n), unit="D"),
            "i": rng.integers(0, 1000, n),
            "s": rng.choice(["x", "y"], n),
        }
    )
    _suite(tiny, [_exp(k, column=c, **kw) for c in ("nope", "nul", "b", "d", "i", "s") for k, kw in EDGE_KINDS])
    one = gx_results(tiny.config(), df, {})
    runner = GxRunner(tiny.config(), {}, chunk_rows=50, memory_values=20)
    for start in range(0, n, 37):
        runner.add_batch(df.iloc[start : start + 37])
    many = runner.results()
    order_kinds = ("gx.expect_column_median_to_be_between", "gx.expect_column_quantile_values_to_be_between")
    for a, b in zip(one, many, strict=True):
        if a.subject == "b" and a.metric in order_kinds:
            assert b.status is Status.SKIPPED and "order statistics of a bool column" in b.message
        else:
            _same(a, b)
    statuses = {r.status for r in one}
    assert {Status.OK, Status.WARNING, Status.ERROR} <= statuses  # passes, failures and GX errors all compared
