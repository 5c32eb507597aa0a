"""The window profile computed inside SQLite equals the streamed profile and the file path's, case by case."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from pushdown_support import (
    DAY,
    QUERY,
    assert_profiles_equal,
    family_results,
    load_table,
    profiles,
    window_rows,
    write_config,
)
from watchkeeper.drift.counts import NumericalCounts
from watchkeeper.profile.scan import build_profile
from watchkeeper.sources.sql_aggregate import AggregatePlan, build_statement, parameter_count


def sqlite(tmp_path: Path, df: pd.DataFrame) -> str:
    """The rows in a SQLite table, timestamps as naive UTC text (how pandas writes them)."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    load_table(url, df.assign(ts=df["ts"].dt.tz_convert("UTC").dt.tz_localize(None)))
    return url


def test_pushed_down_profile_equals_the_streamed_and_the_file_profile(
    tmp_path: Path, ref: pd.DataFrame, baseline: dict
) -> None:
    df = window_rows(baseline)
    pushed, streamed, file, base, configs = profiles(tmp_path, sqlite(tmp_path, df), df, ref)
    assert pushed.scan["pushdown"] is True and "pushdown" not in streamed.scan
    assert_profiles_equal(streamed, file)
    assert_profiles_equal(pushed, file)
    # the awkward rows were there and were counted as the file path counts them
    amount = pushed.features["amount"]
    assert isinstance(amount, NumericalCounts)
    assert min(amount.pos_inf, amount.neg_inf, amount.null_count, amount.below, amount.above) > 0
    assert int(amount.counts[1::2].sum()) > 200  # values equal to grid points
    assert pushed.features["country"].unseen and pushed.id_summary and pushed.id_summary["duplicates"] >= 20
    inside = df[(df["ts"] >= DAY.start) & (df["ts"] < DAY.end)]
    assert pushed.rows == len(inside) and pushed.newest == inside["ts"].max().to_pydatetime()
    assert family_results(configs["pushed"], pushed, base) == family_results(configs["file"], file, base)


def test_window_bounds_are_half_open_to_the_millisecond(tmp_path: Path, ref: pd.DataFrame, baseline: dict) -> None:
    df = window_rows(baseline, n=400)
    edge = [DAY.start - timedelta(milliseconds=1), DAY.start, DAY.end - timedelta(milliseconds=1), DAY.end]
    df = df.iloc[:4].assign(ts=pd.to_datetime(edge)).reset_index(drop=True)
    pushed, _, file, _, _ = profiles(tmp_path, sqlite(tmp_path, df), df, ref)
    assert pushed.rows == file.rows == 2
    assert pushed.newest == file.newest == DAY.end - timedelta(milliseconds=1)


def test_an_empty_window_is_an_empty_profile(tmp_path: Path, ref: pd.DataFrame, baseline: dict) -> None:
    df = window_rows(baseline, n=400)
    df = df[df["ts"] < DAY.start].reset_index(drop=True)
    pushed, _, file, _, _ = profiles(tmp_path, sqlite(tmp_path, df), df, ref)
    assert pushed.scan["pushdown"] is True and pushed.rows == 0 and pushed.newest is None
    assert_profiles_equal(pushed, file)


def test_a_missing_feature_column_is_reported_like_the_file_path(
    tmp_path: Path, ref: pd.DataFrame, baseline: dict
) -> None:
    df = window_rows(baseline, n=500).drop(columns=["age", "status"])
    pushed, _, file, base, configs = profiles(tmp_path, sqlite(tmp_path, df), df, ref)
    assert pushed.scan["missing_columns"] == file.scan["missing_columns"] == ["age", "status"]
    assert "age" not in pushed.features and pushed.status is not None and pushed.status.rows == 0
    assert_profiles_equal(pushed, file)
    assert family_results(configs["pushed"], pushed, base) == family_results(configs["file"], file, base)


def test_text_in_a_numerical_column_falls_back_to_streaming(tmp_path: Path, ref: pd.DataFrame, baseline: dict) -> None:
    df = window_rows(baseline, n=500)
    url = sqlite(tmp_path, df)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # SQLite keeps text that does not read as a number in a REAL column
        conn.execute(sa.text("UPDATE wk_log SET amount = 'n/a' WHERE rowid = 200"))
    engine.dispose()
    cfg = write_config(tmp_path, "m", {"kind": "sql", "url": url, "query": QUERY})
    streamed_cfg = write_config(tmp_path, "s", {"kind": "sql", "url": url, "query": QUERY, "pushdown": False})
    got = build_profile(cfg, DAY, baseline)
    want = build_profile(streamed_cfg, DAY, baseline)
    assert got.scan["pushdown"] is False
    assert got.scan["pushdown_reason"] == "column 'amount' holds values that are not numbers (text)"
    assert got.mistyped == want.mistyped == {"amount": "object"}
    assert_profiles_equal(got, want)


def test_a_log_zone_other_than_utc_streams_on_sqlite(tmp_path: Path, ref: pd.DataFrame, baseline: dict) -> None:
    df = window_rows(baseline, n=400)
    url = sqlite(tmp_path, df)
    cfg = write_config(tmp_path, "m", {"kind": "sql", "url": url, "query": QUERY}, timezone="Europe/Paris")
    got = build_profile(cfg, DAY, baseline)
    assert got.scan["pushdown"] is False and "Europe/Paris is not UTC" in got.scan["pushdown_reason"]
    assert got.rows > 0


def test_the_statement_is_one_union_and_binds_every_grid_point(baseline: dict) -> None:
    grid = np.asarray(sorted(set(baseline["features"]["amount"]["quantiles"])), dtype=np.float64)
    plan = AggregatePlan("ts", "pid", [("amount", grid)], ["country"], ("score", True))
    rows = sa.table("wk_w", sa.column("ts"), sa.column("pid"), sa.column("amount"), sa.column("country"),
                    sa.column("score")).alias("wk_w")  # fmt: skip
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    compiled = build_statement("sqlite", plan, rows.select().subquery("wk_w")).compile(dialect=sqlite_dialect.dialect())
    text = str(compiled)
    assert text.count("UNION ALL") == 4  # header, totals, one numerical, one categorical, confidence
    bound = [v for v in compiled.params.values() if isinstance(v, float)]
    assert set(grid.tolist()) <= set(bound)  # grid points are bound, never written as decimals
    assert parameter_count(plan) >= len(bound)
