"""SQL scans: bound window, streamed in chunks, naive timestamps on both backends, masked errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from watchkeeper.exceptions import SourceError
from watchkeeper.sources import read_window

from .helpers import DAY, config, oracle, rows, scan_all

QUERY = "SELECT * FROM wk_log WHERE ts >= :start AND ts < :end ORDER BY ts"


def load(url: str, df: pd.DataFrame) -> None:
    engine = sa.create_engine(url)
    df.to_sql("wk_log", engine, index=False, if_exists="replace")
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'log.db'}"


def test_sqlite_streams_the_window_in_chunks(tmp_path: Path, sqlite_url: str) -> None:
    df = rows("2026-10-04", 72, 7200, tz=None)
    load(sqlite_url, df)
    cfg = config(tmp_path, {"kind": "sql", "url": sqlite_url, "query": QUERY})
    got, scan, batches = scan_all(cfg, DAY, batch_rows=1000)
    assert batches == 3 and scan.rows_read == 2400
    assert scan.rows_scanned <= 2401  # the database sent the window (plus at most the second of slack)
    assert scan.all_columns == list(df.columns) and scan.files_read == []
    pd.testing.assert_frame_equal(got, oracle([df], DAY)[got.columns.tolist()], check_dtype=False)


def test_sqlite_naive_text_timestamps_are_bound_in_the_log_zone(tmp_path: Path, sqlite_url: str) -> None:
    df = rows("2026-10-04", 72, 72 * 4, tz=None)
    load(sqlite_url, df)
    cfg = config(tmp_path, {"kind": "sql", "url": sqlite_url, "query": QUERY}, timezone="Asia/Tokyo")
    got, _, _ = scan_all(cfg, DAY)
    expected = oracle([df], DAY, "Asia/Tokyo")
    assert got["id"].tolist() == expected["id"].tolist() and len(got) == 96


def test_postgres_streams_with_a_server_side_cursor(tmp_path: Path, pg_url: str) -> None:
    df = rows("2026-10-04", 72, 7200)
    load(pg_url, df)
    cfg = config(tmp_path, {"kind": "sql", "url": pg_url, "query": QUERY})
    got, scan, batches = scan_all(cfg, DAY, batch_rows=1000)
    assert batches == 3 and scan.rows_scanned == 2400
    pd.testing.assert_frame_equal(got, oracle([df], DAY)[got.columns.tolist()], check_dtype=False)


def test_postgres_naive_timestamp_column_compares_in_the_log_zone(tmp_path: Path, pg_url: str) -> None:
    df = rows("2026-10-04", 72, 72 * 4, tz=None)  # a `timestamp without time zone` column
    load(pg_url, df)
    cfg = config(tmp_path, {"kind": "sql", "url": pg_url, "query": QUERY}, timezone="America/Los_Angeles")
    got, scan, _ = scan_all(cfg, DAY)
    expected = oracle([df], DAY, "America/Los_Angeles")
    assert got["id"].tolist() == expected["id"].tolist() and len(got) == 96
    assert scan.rows_scanned == 96 and scan.naive_timestamps


def test_read_window_on_sql_keeps_every_column(tmp_path: Path, sqlite_url: str) -> None:
    df = rows("2026-10-04", 72, 72)
    load(sqlite_url, df)
    frame = read_window(config(tmp_path, {"kind": "sql", "url": sqlite_url, "query": QUERY}), DAY)
    assert frame.all_columns == list(df.columns) and frame.extra_columns == ["extra"] and len(frame.df) == 24


def test_empty_sql_window_knows_its_columns(tmp_path: Path, sqlite_url: str) -> None:
    load(sqlite_url, rows("2026-09-01", 24, 24))
    got, scan, batches = scan_all(config(tmp_path, {"kind": "sql", "url": sqlite_url, "query": QUERY}), DAY)
    assert batches == 0 and scan.schema_known and scan.missing_columns == [] and "amount" in scan.columns


def test_a_failing_query_names_the_masked_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WK_PW", "s3cret-pw")
    url = "postgresql+psycopg://u:${WK_PW}@127.0.0.1:1/x?connect_timeout=2&sslpassword=${WK_PW}"
    cfg = config(tmp_path, {"kind": "sql", "url": url, "query": QUERY})
    with pytest.raises(SourceError) as info:
        scan_all(cfg, DAY)
    text = str(info.value)
    assert "s3cret-pw" not in text and "\n" not in text
    assert "postgresql+psycopg://u:***@127.0.0.1:1/x?connect_timeout=2&sslpassword=***" in text
    assert text.endswith("check the query and that the database is up")


def test_an_unknown_dialect_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WK_PW", "s3cret-pw")
    cfg = config(tmp_path, {"kind": "sql", "url": "nosuchdb://u:${WK_PW}@h/db", "query": QUERY})
    with pytest.raises(SourceError, match=r"^SQL source nosuchdb://u:\*\*\*@h/db: not a usable SQLAlchemy URL") as info:
        scan_all(cfg, DAY)
    assert "s3cret-pw" not in str(info.value)
