"""Parquet scans: row groups skipped by statistics, columns projected, bounded batches, time zones, bad files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from watchkeeper.exceptions import DataError, SourceError
from watchkeeper.results import Window
from watchkeeper.sources import read_window

from .helpers import DAY, config, corrupt, oracle, rows, scan_all


def write_week(path: Path, *, tz: str | None = "UTC", row_group_size: int = 1000) -> pd.DataFrame:
    """A week of rows (10-02 .. 10-08, 1,000 an hour) in one file, one row group per hour by default."""
    df = rows("2026-10-02", 24 * 7, 24 * 7 * 1000, tz=tz)
    df.to_parquet(path, row_group_size=row_group_size)
    return df


def test_row_groups_outside_the_window_are_skipped_by_statistics(tmp_path: Path) -> None:
    df = write_week(tmp_path / "log.parquet")
    got, scan, batches = scan_all(config(tmp_path, {"kind": "parquet", "path": "log.parquet"}), DAY, batch_rows=5000)
    assert scan.row_groups_total == 168
    assert scan.row_groups_read == 24  # one day of hourly row groups
    assert scan.rows_scanned == 24_000 and scan.rows_read == 24_000
    assert batches == 5 and max(len(b) for b in [got.iloc[i : i + 5000] for i in range(0, 24_000, 5000)]) <= 5000
    pd.testing.assert_frame_equal(got, oracle([df], DAY)[got.columns.tolist()])


def test_batches_never_exceed_batch_rows_and_only_wanted_columns_come_back(tmp_path: Path) -> None:
    write_week(tmp_path / "log.parquet", row_group_size=7000)
    cfg = config(tmp_path, {"kind": "parquet", "path": "log.parquet"})
    from watchkeeper.sources import scan_window

    scan = scan_window(cfg, DAY, columns=["amount", "nosuch"], batch_rows=3000)
    sizes = [len(b) for b in scan.batches()]
    assert sum(sizes) == 24_000 and max(sizes) <= 3000
    assert scan.columns == ["ts", "amount"]
    assert scan.missing_columns == ["nosuch"]
    assert scan.extra_columns == ["extra"]
    with pytest.raises(RuntimeError, match="single pass"):
        next(scan.batches())


def test_naive_timestamps_are_pushed_down_in_the_log_zone_and_cut_exactly(tmp_path: Path) -> None:
    df = write_week(tmp_path / "log.parquet", tz=None)
    cfg = config(tmp_path, {"kind": "parquet", "path": "log.parquet"}, timezone="America/New_York")
    got, scan, _ = scan_all(cfg, DAY)
    expected = oracle([df], DAY, "America/New_York")
    pd.testing.assert_frame_equal(got, expected[got.columns.tolist()])
    # UTC day 10-05 is 10-04 20:00 .. 10-05 20:00 in New York (EDT): 24 hourly row groups, one hour of slack
    assert 24 <= scan.row_groups_read <= 26
    assert scan.naive_timestamps
    assert got["ts"].min() >= pd.Timestamp("2026-10-05 00:00", tz="UTC") > expected["ts"].min() - pd.Timedelta("4s")


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "Pacific/Kiritimati"])
def test_aware_timestamps_in_any_zone_match_the_window_at_its_edges(tmp_path: Path, zone: str) -> None:
    edge = pd.DatetimeIndex(
        ["2026-10-04 23:59:59.999999", "2026-10-05 00:00", "2026-10-05 23:59:59.999999", "2026-10-06 00:00"], tz="UTC"
    )
    df = pd.DataFrame({"ts": edge.tz_convert(zone), "id": list("abcd"), "label": 0, "score": 0.5, "amount": 1.0})
    df["country"] = "FR"
    df.to_parquet(tmp_path / "log.parquet", row_group_size=1)
    got, scan, _ = scan_all(config(tmp_path, {"kind": "parquet", "path": "log.parquet"}), DAY)
    assert got["id"].tolist() == ["b", "c"]
    assert scan.row_groups_read == 2
    assert str(got["ts"].dt.tz) == "UTC" and not scan.naive_timestamps


def test_string_timestamps_are_parsed_then_filtered(tmp_path: Path) -> None:
    df = rows("2026-10-04", 72, 72)
    df["ts"] = df["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S%z")
    df.loc[3, "ts"] = "not a time"
    df.to_parquet(tmp_path / "log.parquet")
    got, scan, _ = scan_all(config(tmp_path, {"kind": "parquet", "path": "log.parquet"}), DAY)
    assert len(got) == 24 and scan.unparseable_timestamps == 1
    assert scan.row_groups_read == scan.row_groups_total  # no statistics on text


def test_read_window_equals_the_concatenated_scan_and_keeps_every_column(tmp_path: Path) -> None:
    df = write_week(tmp_path / "log.parquet")
    cfg = config(tmp_path, {"kind": "parquet", "path": "log.parquet"})
    frame = read_window(cfg, DAY)
    pd.testing.assert_frame_equal(frame.df, oracle([df], DAY))
    assert frame.extra_columns == ["extra"] and frame.all_columns == list(df.columns)
    got, _, _ = scan_all(cfg, DAY, batch_rows=777)
    pd.testing.assert_frame_equal(got, frame.df[got.columns.tolist()])


def test_a_corrupt_file_in_the_window_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    rows("2026-10-04", 24, 10).to_parquet(tmp_path / "log" / "date=2026-10-04.parquet")
    corrupt(tmp_path / "log" / "date=2026-10-05.parquet")
    cfg = config(tmp_path, {"kind": "parquet", "path": "log/*.parquet"})
    with pytest.raises(SourceError, match=r"cannot read Parquet file .*date=2026-10-05\.parquet: .* -- the file is"):
        scan_all(cfg, DAY)
    # the day before is not affected
    got, _, _ = scan_all(cfg, Window(datetime(2026, 10, 4, tzinfo=UTC), datetime(2026, 10, 5, tzinfo=UTC)))
    assert len(got) == 10


def test_a_truncated_file_in_the_window_names_the_file(tmp_path: Path) -> None:
    rows("2026-10-05", 24, 5000).to_parquet(tmp_path / "log.parquet", row_group_size=500)
    data = (tmp_path / "log.parquet").read_bytes()
    (tmp_path / "log.parquet").write_bytes(data[:100] + b"\x00" * 2000 + data[2100:])  # pages damaged, footer intact
    with pytest.raises(SourceError, match=r"cannot read Parquet file .*log\.parquet"):
        scan_all(config(tmp_path, {"kind": "parquet", "path": "log.parquet"}), DAY)


def test_schema_changes_between_files_are_recorded_and_unified(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    a = rows("2026-10-05 00:00", 8, 8, seed=1)
    b = rows("2026-10-05 08:00", 8, 8, seed=2).drop(columns=["country"]).assign(new=2.5)
    c = rows("2026-10-05 16:00", 8, 8, seed=3)
    c["label"] = c["label"].map({0: "no", 1: "yes"})  # int becoming string
    b["amount"] = b["amount"].round().astype("int32")  # float then int32: widened to float
    for hour, df in ((0, a), (8, b), (16, c)):
        df.to_parquet(tmp_path / "log" / f"hour={hour:02d}_part.parquet")
    cfg = config(tmp_path, {"kind": "parquet", "path": "log/*.parquet"})
    got, scan, _ = scan_all(cfg, DAY, batch_rows=5)
    assert len(got) == 24
    changes = {(Path(c["file"]).name, c["column"], c["change"]) for c in scan.schema_changes}
    assert changes == {
        ("hour=08_part.parquet", "country", "dropped"),
        ("hour=08_part.parquet", "amount", "type"),
        ("hour=08_part.parquet", "new", "added"),
        ("hour=16_part.parquet", "country", "added"),
        ("hour=16_part.parquet", "new", "dropped"),
        ("hour=16_part.parquet", "amount", "type"),
        ("hour=16_part.parquet", "label", "type"),
    }
    label = next(c for c in scan.schema_changes if c["column"] == "label")
    assert (label["from"], label["to"]) == ("int64", "large_string")
    assert (
        got["label"].tolist()[:8] == [str(v) for v in a["label"]] and got["label"].tolist()[16:] == c["label"].tolist()
    )
    assert got["amount"].dtype == "float64"
    assert got["country"].isna().sum() == 8
    assert scan.all_columns == ["ts", "id", "label", "score", "amount", "country", "extra", "new"]


def test_a_window_without_files_is_empty_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    rows("2026-10-04", 24, 10).to_parquet(tmp_path / "log" / "date=2026-10-04.parquet")
    cfg = config(tmp_path, {"kind": "parquet", "path": "log/*.parquet"})
    got, scan, batches = scan_all(cfg, DAY)
    assert batches == 0 and scan.files_read == [] and scan.rows_read == 0
    assert not scan.schema_known and scan.missing_columns == []
    frame = read_window(cfg, DAY)
    assert frame.df.empty and "amount" in frame.df.columns and frame.missing_columns == []


def test_a_file_without_the_timestamp_column_is_named(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    rows("2026-10-05", 12, 10).to_parquet(tmp_path / "log" / "hour=00.parquet")
    rows("2026-10-05 12:00", 12, 10).drop(columns=["ts"]).to_parquet(tmp_path / "log" / "hour=12.parquet")
    with pytest.raises(DataError, match=r"hour=12\.parquet: the timestamp column 'ts' is not in this file"):
        scan_all(config(tmp_path, {"kind": "parquet", "path": "log/*.parquet"}), DAY)


def test_coarse_timestamp_units_push_down_safely(tmp_path: Path) -> None:
    ts = pd.DatetimeIndex(["2026-10-04 23:59:59", "2026-10-05 00:00:00", "2026-10-05 23:59:59", "2026-10-06"])
    table = pa.table({"ts": pa.array(ts.to_pydatetime(), pa.timestamp("s")), "id": list("abcd")})
    pq.write_table(table, tmp_path / "log.parquet", row_group_size=1)
    got, _, _ = scan_all(config(tmp_path, {"kind": "parquet", "path": "log.parquet"}), DAY)
    assert got["id"].tolist() == ["b", "c"]


@pytest.mark.parametrize(
    ("zone", "day"),
    [("Europe/Paris", "2026-10-25"), ("America/New_York", "2026-03-08"), ("Australia/Lord_Howe", "2026-04-05")],
)
def test_naive_timestamps_on_a_dst_change_day(tmp_path: Path, zone: str, day: str) -> None:
    df = rows(pd.Timestamp(day) - pd.Timedelta("1D"), 72, 72 * 60, tz=None)  # a row a minute, local wall clock
    df.to_parquet(tmp_path / "log.parquet", row_group_size=60)
    window = Window.parse(day, (pd.Timestamp(day) + pd.Timedelta("1D")).date().isoformat())
    got, scan, _ = scan_all(config(tmp_path, {"kind": "parquet", "path": "log.parquet"}, timezone=zone), window)
    expected = oracle([df], window, zone)
    pd.testing.assert_frame_equal(got, expected[got.columns.tolist()])
    assert scan.row_groups_read <= 24 + 3  # the UTC day plus at most the clock change and the slack


def test_batches_wholly_inside_the_window_and_null_timestamps(tmp_path: Path) -> None:
    """A daily file of a daily window is passed through unfiltered; a null timestamp in it is still dropped
    (it belongs to no window), and rows at the window's end are still cut."""
    df = rows(DAY.start.strftime("%Y-%m-%d"), 24, 2400)
    df.to_parquet(tmp_path / "day.parquet", row_group_size=600)
    cfg = config(tmp_path, {"kind": "parquet", "path": "day.parquet"})
    got, scan, _ = scan_all(cfg, DAY, batch_rows=500)
    assert scan.rows_scanned == 2400 == len(got)
    pd.testing.assert_frame_equal(got, oracle([df], DAY)[got.columns.tolist()])
    with_null = df.copy()
    with_null.loc[[5, 1700], "ts"] = pd.NaT
    with_null.to_parquet(tmp_path / "day.parquet", row_group_size=600)
    got, scan, _ = scan_all(cfg, DAY, batch_rows=500)
    assert len(got) == 2398 and got["ts"].notna().all()
    pd.testing.assert_frame_equal(got, oracle([with_null], DAY)[got.columns.tolist()])
    late = df.copy()
    late.loc[2399, "ts"] = pd.Timestamp(DAY.end)  # the end is outside [start, end)
    late.to_parquet(tmp_path / "day.parquet", row_group_size=600)
    got, _, _ = scan_all(cfg, DAY, batch_rows=500)
    assert len(got) == 2399 and (got["ts"] < pd.Timestamp(DAY.end)).all()
