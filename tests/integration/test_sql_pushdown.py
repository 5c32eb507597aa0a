"""The window profile computed inside PostgreSQL equals the streamed profile and the file path's; a query
that times out or is cancelled fails the run visibly with the masked URL, and nothing is stored.

Uses fresh throw-away databases; fails, never skips, when the server is down.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
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
from support import SUITE
from watchkeeper.cli import main
from watchkeeper.drift.counts import NumericalCounts
from watchkeeper.exceptions import SourceError
from watchkeeper.profile.scan import build_profile
from watchkeeper.store import MetricStore

pytestmark = pytest.mark.postgres

SLOW = "WITH pause AS (SELECT pg_sleep(30)) SELECT wk_log.* FROM wk_log, pause WHERE ts >= :start AND ts < :end"


@pytest.fixture
def database(pg_url: str) -> str:
    """The session's throw-away database (each test replaces the table ``wk_log``)."""
    return pg_url


def test_pushed_down_profile_equals_the_streamed_and_the_file_profile(
    tmp_path: Path, database: str, ref: pd.DataFrame, baseline: dict
) -> None:
    df = window_rows(baseline)
    load_table(database, df)  # timestamptz; NaN and +/-inf kept as float8 NaN and Infinity
    pushed, streamed, file, base, configs = profiles(tmp_path, database, df, ref)
    assert pushed.scan["pushdown"] is True and pushed.scan["streamed_columns"] == ["latency"]
    assert_profiles_equal(streamed, file)
    assert_profiles_equal(pushed, file)
    amount = pushed.features["amount"]
    assert isinstance(amount, NumericalCounts)
    assert min(amount.null_count, amount.pos_inf, amount.neg_inf, amount.below, amount.above) > 0
    assert family_results(configs["pushed"], pushed, base) == family_results(configs["file"], file, base)


def test_naive_timestamps_compare_in_the_log_zone(
    tmp_path: Path, database: str, ref: pd.DataFrame, baseline: dict
) -> None:
    df = window_rows(baseline, n=1500)
    local = df.assign(ts=df["ts"].dt.tz_convert("Europe/Paris").dt.tz_localize(None))  # `timestamp` column
    load_table(database, local)
    pushed, _, file, _, _ = profiles(tmp_path, database, local, ref, timezone="Europe/Paris")
    assert pushed.scan["pushdown"] is True and pushed.scan["naive_timestamps"] is True
    assert pushed.rows == int(((df["ts"] >= DAY.start) & (df["ts"] < DAY.end)).sum())
    assert_profiles_equal(pushed, file)


def test_a_numerical_column_of_text_type_streams(
    tmp_path: Path, database: str, ref: pd.DataFrame, baseline: dict
) -> None:
    df = window_rows(baseline, n=600)
    load_table(database, df.assign(age=df["age"].map(lambda v: None if np.isnan(v) else f"{v:g}")))
    cfg = write_config(tmp_path, "m", {"kind": "sql", "url": database, "query": QUERY})
    got = build_profile(cfg, DAY, baseline)
    assert got.scan["pushdown"] is False
    assert got.scan["pushdown_reason"].startswith("numerical column 'age' does not have a numeric type")
    assert list(got.mistyped) == ["age"] and got.rows > 0


def test_a_timed_out_query_fails_the_run_with_the_masked_url_and_stores_nothing(
    tmp_path: Path, database: str, baseline: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    load_table(database, window_rows(baseline, n=500))
    monkeypatch.setenv("WK_PG_PW", "hunter2-secret")
    url = database.replace("postgres@", "postgres:${WK_PG_PW}@") + "?options=-c%20statement_timeout%3D500"
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("WATCHKEEPER_DATABASE_URL", store_url)
    monkeypatch.setenv("WATCHKEEPER_CONFIG_DIR", str(tmp_path))
    write_config(tmp_path, "slow", {"kind": "sql", "url": url, "query": SLOW})
    started = time.monotonic()
    code = main(["check", "slow", "--start", DAY.start.isoformat(), "--end", DAY.end.isoformat()])
    assert time.monotonic() - started < 25
    err = capsys.readouterr().err
    assert code == 1, err
    assert "hunter2-secret" not in err and "postgres:***@" in err
    assert "statement timeout" in err and "the query was cancelled or timed out" in err
    with MetricStore(store_url) as store:
        assert store.window_profile("slow", DAY) is None
        assert store.metrics("slow") == []


def test_a_cancelled_query_is_a_source_error(tmp_path: Path, database: str, baseline: dict) -> None:
    load_table(database, window_rows(baseline, n=500))
    url = database + "?application_name=wk_pushdown_cancel"
    cfg = write_config(tmp_path, "slow", {"kind": "sql", "url": url, "query": SLOW})
    errors: list[BaseException] = []

    def run() -> None:
        try:
            build_profile(cfg, DAY, baseline)
        except BaseException as exc:  # noqa: BLE001 -- handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    engine = sa.create_engine(database)
    try:
        deadline = time.monotonic() + 15
        pids: list[int] = []
        while not pids and time.monotonic() < deadline:
            with engine.connect() as conn:
                pids = list(
                    conn.execute(
                        sa.text(
                            "SELECT pid FROM pg_stat_activity WHERE application_name = 'wk_pushdown_cancel' "
                            "AND query LIKE '%UNION ALL%'"
                        )
                    ).scalars()
                )
            time.sleep(0.1)
        assert pids, "the aggregation never started"
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_cancel_backend(:pid)"), {"pid": pids[0]})
    finally:
        engine.dispose()
    worker.join(20)
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], SourceError), errors
    assert "canceling statement due to user request" in str(errors[0])
    assert str(errors[0]).startswith(f"SQL source {database}")


def test_an_empty_window_and_rows_only_outside_it(
    tmp_path: Path, database: str, ref: pd.DataFrame, baseline: dict
) -> None:
    df = window_rows(baseline, n=400)
    df = df[(df["ts"] < DAY.start) | (df["ts"] >= DAY.end)].reset_index(drop=True)
    df.loc[0, "ts"] = DAY.end  # exactly at the end: outside
    df.loc[1, "ts"] = DAY.start - timedelta(microseconds=1)
    load_table(database, df)
    pushed, _, file, _, _ = profiles(tmp_path, database, df, ref)
    assert pushed.scan["pushdown"] is True and pushed.rows == file.rows == 0
    assert_profiles_equal(pushed, file)


def test_the_gx_suite_runs_in_the_database_with_the_streamed_results(
    tmp_path: Path, database: str, ref: pd.DataFrame, baseline: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "expectations").mkdir()
    (tmp_path / "expectations" / "tiny.json").write_text(json.dumps(SUITE))
    monkeypatch.setenv("WATCHKEEPER_EXPECTATIONS_DIR", str(tmp_path / "expectations"))
    df = window_rows(baseline, n=800)
    inside = df.index[(df["ts"] >= DAY.start) & (df["ts"] < DAY.end)]
    df.loc[inside[:40], "score"] = 1.5  # fails the critical score expectation
    load_table(database, df)
    quality = {"suite": "tiny", "freshness_max_lag": "2h"}
    pushed, streamed, _, _, _ = profiles(tmp_path, database, df, ref, quality=quality)
    assert pushed.scan["pushdown"] is True and pushed.gx and streamed.gx

    def outcome(gx: list[dict]) -> list[tuple]:
        return sorted((r["metric"], r["subject"], r["value"], r["status"]) for r in gx)

    assert outcome(pushed.gx) == outcome(streamed.gx)
    assert "critical" in {r["status"] for r in pushed.gx}, outcome(pushed.gx)
