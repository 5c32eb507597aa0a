"""read_window and the readers: csv, parquet and sql windows, time zones, missing columns, fingerprints."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from watchkeeper.exceptions import DataError, SourceError, UnknownNameError
from watchkeeper.results import Window
from watchkeeper.sources import read_reference, read_window, reader_for, reference_fingerprint, to_utc

from .helpers import config

WINDOW = Window(datetime(2026, 10, 2, tzinfo=UTC), datetime(2026, 10, 3, tzinfo=UTC))


def frame(naive: bool = False) -> pd.DataFrame:
    ts = pd.date_range("2026-10-01 12:00", periods=6, freq="12h", tz=None if naive else "UTC")
    return pd.DataFrame(
        {
            "ts": ts,
            "id": [f"p{i}" for i in range(6)],
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "country": ["FR", "DE", "FR", "US", "FR", "DE"],
            "label": [0, 1, 0, 0, 1, 0],
            "score": [0.1, 0.9, 0.2, 0.3, 0.8, 0.1],
            "extra": 1,
        }
    )


def test_parquet_glob_window_is_half_open_and_utc(tmp_path: Path) -> None:
    df = frame()
    df.iloc[:3].to_parquet(tmp_path / "a.parquet")
    df.iloc[3:].to_parquet(tmp_path / "b.parquet")
    got = read_window(config(tmp_path, {"kind": "parquet", "path": "*.parquet"}), WINDOW)
    # rows at 10-02 00:00 and 12:00 are in; 10-03 00:00 is the exclusive end
    assert got.df["id"].tolist() == ["p1", "p2"]
    assert str(got.df["ts"].dt.tz) == "UTC"
    assert got.missing_columns == []
    assert got.extra_columns == ["extra"]
    assert not got.naive_timestamps


def test_csv_naive_timestamps_are_read_in_configured_zone(tmp_path: Path) -> None:
    frame(naive=True).to_csv(tmp_path / "log.csv", index=False)
    cfg = config(tmp_path, {"kind": "csv", "path": "log.csv"}, timezone="Europe/Paris")
    got = read_window(cfg, WINDOW)
    assert got.naive_timestamps
    # local 10-02 00:00 Paris is 10-01 22:00 UTC (out); local 10-03 00:00 is 10-02 22:00 UTC (in)
    assert got.df["id"].tolist() == ["p2", "p3"]
    assert got.df["ts"].tolist() == [
        pd.Timestamp("2026-10-02 10:00", tz="UTC"),
        pd.Timestamp("2026-10-02 22:00", tz="UTC"),
    ]


def test_unparseable_timestamps_are_counted_not_fatal(tmp_path: Path) -> None:
    df = frame().astype({"ts": str})
    df.loc[2, "ts"] = "not a time"
    df.to_csv(tmp_path / "log.csv", index=False)
    got = read_window(config(tmp_path, {"kind": "csv", "path": "log.csv"}), WINDOW)
    assert got.unparseable_timestamps == 1
    assert got.df["id"].tolist() == ["p1"]


def test_missing_feature_column_is_reported(tmp_path: Path) -> None:
    frame().drop(columns=["country"]).to_parquet(tmp_path / "log.parquet")
    got = read_window(config(tmp_path, {"kind": "parquet", "path": "log.parquet"}), WINDOW)
    assert got.missing_columns == ["country"]


def test_missing_timestamp_column_is_a_clear_error(tmp_path: Path) -> None:
    frame().drop(columns=["ts"]).to_parquet(tmp_path / "log.parquet")
    with pytest.raises(DataError, match=r"predictions.timestamp: column 'ts' is not in the prediction log"):
        read_window(config(tmp_path, {"kind": "parquet", "path": "log.parquet"}), WINDOW)


def test_missing_file_names_the_pattern(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no parquet file matches '.*nothing-\*\.parquet' -- check the path"):
        read_window(config(tmp_path, {"kind": "parquet", "path": "nothing-*.parquet"}), WINDOW)


def test_empty_window(tmp_path: Path) -> None:
    frame().to_parquet(tmp_path / "log.parquet")
    empty = Window(datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC))
    got = read_window(config(tmp_path, {"kind": "parquet", "path": "log.parquet"}), empty)
    assert got.df.empty and "amount" in got.df.columns


def test_sql_source_binds_window_parameters(tmp_path: Path) -> None:
    import sqlalchemy as sa

    db = tmp_path / "log.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    frame(naive=True).to_sql("predictions", engine, index=False)
    engine.dispose()
    src = {
        "kind": "sql",
        "url": f"sqlite:///{db}",
        "query": "SELECT * FROM predictions WHERE ts >= :start AND ts < :end",
    }
    got = read_window(config(tmp_path, src), WINDOW)
    assert got.df["id"].tolist() == ["p1", "p2"]


def test_sql_source_on_postgres_with_bound_parameters(tmp_path: Path, pg_url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    frame().to_sql("wk_src_predictions", engine, index=False, if_exists="replace")
    engine.dispose()
    src = {
        "kind": "sql",
        "url": pg_url,
        "query": "SELECT * FROM wk_src_predictions WHERE ts >= :start AND ts < :end ORDER BY id",
    }
    got = read_window(config(tmp_path, src), WINDOW)
    assert got.df["id"].tolist() == ["p1", "p2"]


def test_sql_error_is_wrapped_without_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WK_TEST_PW", "s3cret-pw")
    src = {
        "kind": "sql",
        "url": "postgresql+psycopg://u:${WK_TEST_PW}@127.0.0.1:1/x?connect_timeout=2",
        "query": "SELECT 1 WHERE :start < :end",
    }
    with pytest.raises(SourceError) as info:
        read_window(config(tmp_path, src), WINDOW)
    assert "s3cret-pw" not in str(info.value)
    assert "check the query and that the database is up" in str(info.value)


def test_unknown_kind_lists_available() -> None:
    with pytest.raises(
        UnknownNameError, match="No source kind named 'xlsx'. Available source kinds: csv, parquet, sql"
    ):
        reader_for("xlsx")


def test_reference_and_fingerprint_follow_content(tmp_path: Path) -> None:
    frame().to_parquet(tmp_path / "log.parquet")
    cfg = config(tmp_path, {"kind": "parquet", "path": "log.parquet"})
    assert len(read_reference(cfg)) == 6
    before = reference_fingerprint(cfg)
    assert reference_fingerprint(cfg) == before
    frame().iloc[:5].to_parquet(tmp_path / "log.parquet")
    assert reference_fingerprint(cfg) != before


def test_to_utc_mixed_offsets() -> None:
    series = pd.Series(["2026-10-02T00:00:00+02:00", "2026-10-02T00:00:00Z", None])
    out, naive, bad = to_utc(series, "UTC")
    assert not naive and bad == 0
    assert out.iloc[0] == pd.Timestamp("2026-10-01 22:00", tz="UTC")
