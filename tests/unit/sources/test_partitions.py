"""Partition pruning: a run opens only the files whose partition meets its window."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from watchkeeper.results import Window
from watchkeeper.sources.partitions import Span, _hive_fields, _span, template_regex

from .helpers import DAY, config, corrupt, oracle, rows, scan_all


def write_hourly_hive(root: Path, days: list[str]) -> dict[Path, pd.DataFrame]:
    written = {}
    for day in days:
        for hour in range(24):
            df = rows(f"{day} {hour:02d}:00", 1, 50, seed=hour)
            path = root / f"date={day}" / f"hour={hour:02d}" / "part-0.parquet"
            path.parent.mkdir(parents=True)
            df.to_parquet(path)
            written[path] = df
    return written


def test_hive_hourly_opens_only_the_day_and_never_touches_corrupt_files_outside(tmp_path: Path) -> None:
    written = write_hourly_hive(tmp_path / "log", ["2026-10-04", "2026-10-05", "2026-10-06"])
    for path in written:
        if "2026-10-05" not in str(path):
            corrupt(path)  # a reader that opened them would fail
    cfg = config(tmp_path, {"kind": "parquet", "path": "log/date=*/hour=*/*.parquet"})
    got, scan, _ = scan_all(cfg, DAY)
    day = [df for path, df in written.items() if "2026-10-05" in str(path)]
    pd.testing.assert_frame_equal(got, oracle(day, DAY)[got.columns.tolist()])
    assert len(scan.files_read) == 24
    assert all("date=2026-10-05" in name for name in scan.files_read)
    assert scan.files_read == sorted(scan.files_read)  # partition order: hour 00 first


def test_window_inside_a_day_opens_only_its_hours(tmp_path: Path) -> None:
    write_hourly_hive(tmp_path / "log", ["2026-10-05"])
    cfg = config(tmp_path, {"kind": "parquet", "path": "log/*/*/*.parquet"})
    window = Window(datetime(2026, 10, 5, 3, 30, tzinfo=UTC), datetime(2026, 10, 5, 5, tzinfo=UTC))
    got, scan, _ = scan_all(cfg, window)
    assert [Path(n).parent.name for n in scan.files_read] == ["hour=03", "hour=04"]
    assert got["ts"].min() >= pd.Timestamp("2026-10-05 03:30", tz="UTC")
    assert got["ts"].max() < pd.Timestamp("2026-10-05 05:00", tz="UTC")


@pytest.mark.parametrize(
    ("layout", "path"),
    [
        ("{y}/{m}/{d}/preds.parquet", "log/{yyyy}/{mm}/{dd}/*.parquet"),
        ("dt={y}{m}{d}/preds.parquet", "log/*/*.parquet"),
        ("year={y}/month={m}/day={d}/preds.parquet", "log/*/*/*/*.parquet"),
        ("preds-{y}-{m}-{d}.parquet", "log/preds-{date}.parquet"),
        ("date={y}-{m}-{d}.parquet", "log/*.parquet"),  # the demo's layout: hive key in the file name
    ],
)
def test_daily_layouts_are_pruned(tmp_path: Path, layout: str, path: str) -> None:
    frames = {}
    for day in range(1, 11):
        name = tmp_path / "log" / layout.format(y="2026", m="10", d=f"{day:02d}")
        name.parent.mkdir(parents=True, exist_ok=True)
        frames[day] = rows(f"2026-10-{day:02d}", 24, 100, seed=day)
        frames[day].to_parquet(name)
        if day != 5:
            corrupt(name)
    got, scan, _ = scan_all(config(tmp_path, {"kind": "parquet", "path": path}), DAY)
    assert len(scan.files_read) == 1 and "05" in Path(scan.files_read[0]).as_posix().split("log/")[1]
    pd.testing.assert_frame_equal(got, oracle([frames[5]], DAY)[got.columns.tolist()])


def test_csv_sources_are_pruned_too(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    for day in (4, 5, 6):
        df = rows(f"2026-10-{day:02d}", 24, 100, seed=day)
        df.to_csv(tmp_path / "log" / f"date=2026-10-{day:02d}.csv", index=False)
        if day != 5:
            corrupt(tmp_path / "log" / f"date=2026-10-{day:02d}.csv")
    got, scan, _ = scan_all(config(tmp_path, {"kind": "csv", "path": "log/*.csv"}), DAY)
    assert [Path(n).name for n in scan.files_read] == ["date=2026-10-05.csv"]
    assert len(got) == 100


def test_partitioning_none_opens_every_file(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    rows("2026-10-05", 24, 10).to_parquet(tmp_path / "log" / "date=2026-10-05.parquet")
    rows("2026-10-06", 24, 10).to_parquet(tmp_path / "log" / "date=2026-10-06.parquet")
    cfg = config(tmp_path, {"kind": "parquet", "path": "log/*.parquet", "partitioning": "none"})
    _, scan, _ = scan_all(cfg, DAY)
    assert len(scan.files_read) == 2


def test_files_without_a_readable_partition_are_always_read(tmp_path: Path) -> None:
    for name in ("date=2026-10-05", "date=latest", "hour=03"):  # no date at all in the last one
        (tmp_path / "log" / name).mkdir(parents=True)
        rows("2026-10-05", 24, 10).to_parquet(tmp_path / "log" / name / "p.parquet")
    _, scan, _ = scan_all(config(tmp_path, {"kind": "parquet", "path": "log/*/p.parquet"}), DAY)
    assert sorted(Path(n).parent.name for n in scan.files_read) == ["date=2026-10-05", "date=latest", "hour=03"]


def test_fixed_folders_above_the_glob_do_not_prune(tmp_path: Path) -> None:
    # date=2020-01-01 is written in the path itself, not matched by the glob: it says nothing about rows
    folder = tmp_path / "date=2020-01-01" / "log"
    folder.mkdir(parents=True)
    rows("2026-10-05", 24, 10).to_parquet(folder / "a.parquet")
    got, scan, _ = scan_all(config(tmp_path, {"kind": "parquet", "path": "date=2020-01-01/log/*.parquet"}), DAY)
    assert len(got) == 10 and len(scan.files_read) == 1


def test_partition_values_are_read_in_the_log_time_zone(tmp_path: Path) -> None:
    # local days in Paris: 10-05 is [10-04 22:00, 10-05 22:00) UTC, 10-06 starts at 10-05 22:00 UTC
    (tmp_path / "log").mkdir()
    for day in (3, 4, 5, 6, 7):
        rows(f"2026-10-{day:02d}", 24, 24, tz=None).to_parquet(tmp_path / "log" / f"date=2026-10-{day:02d}.parquet")
    source = {"kind": "parquet", "path": "log/*.parquet"}
    _, scan, _ = scan_all(config(tmp_path, source, timezone="Europe/Paris"), DAY)
    assert [Path(n).stem for n in scan.files_read] == ["date=2026-10-05", "date=2026-10-06"]
    # partitions by UTC day while naive timestamps are local: partition_timezone says so
    _, scan, _ = scan_all(config(tmp_path, {**source, "partition_timezone": "UTC"}, timezone="Europe/Paris"), DAY)
    assert [Path(n).stem for n in scan.files_read] == ["date=2026-10-05"]


def test_span_of_an_ambiguous_dst_hour_covers_both_occurrences() -> None:
    paris = ZoneInfo("Europe/Paris")
    # 2026-10-25 02:00-03:00 happens twice in Paris (CEST then CET): 00:00-02:00 UTC
    span = _span({"year": 2026, "month": 10, "day": 25, "hour": 2}, paris)
    assert span == Span(datetime(2026, 10, 25, 0, tzinfo=UTC), datetime(2026, 10, 25, 2, tzinfo=UTC))
    assert _span({"year": 2026, "month": 12}, paris) == Span(
        datetime(2026, 11, 30, 23, tzinfo=UTC), datetime(2026, 12, 31, 23, tzinfo=UTC)
    )
    assert _span({"year": 2026, "month": 13}, paris) is None
    assert _span({"year": 2026, "hour": 3}, paris) is None


def test_hive_fields() -> None:
    assert _hive_fields("dt=20261005") == {"year": 2026, "month": 10, "day": 5}
    assert _hive_fields("HOUR=7") == {"hour": 7}
    assert _hive_fields("region=eu") == {} and _hive_fields("date=latest") == {}
    assert _hive_fields("day=2026-10-06") == {"year": 2026, "month": 10, "day": 6}


def test_template_regex_keeps_glob_meaning() -> None:
    regex = template_regex("part-?-{yyyy}[0-9]*.parquet")
    match = regex.fullmatch("part-1-20261.snappy.parquet")
    assert match is not None and match.groupdict() == {"yyyy": "2026"}
    assert regex.fullmatch("part-12-20261.parquet") is None
    assert template_regex("[!x]*").fullmatch("xlogs") is None


def test_hidden_and_temporary_files_are_skipped_like_glob(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    rows("2026-10-05", 24, 10).to_parquet(tmp_path / "log" / "date=2026-10-05.parquet")
    corrupt(tmp_path / "log" / ".date=2026-10-05.parquet.tmp")  # a writer's half-written file
    _, scan, _ = scan_all(config(tmp_path, {"kind": "parquet", "path": "log/*"}), DAY)
    assert [Path(n).name for n in scan.files_read] == ["date=2026-10-05.parquet"]


def test_folders_outside_the_window_are_not_even_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_hourly_hive(tmp_path / "log", ["2026-10-04", "2026-10-05"])
    import os

    listed: list[str] = []
    real = os.scandir

    def spy(path: str):  # type: ignore[no-untyped-def]
        listed.append(Path(path).name)
        return real(path)

    monkeypatch.setattr("watchkeeper.sources.partitions.os.scandir", spy)
    scan_all(config(tmp_path, {"kind": "parquet", "path": "log/*/*/*.parquet"}), DAY)
    assert "date=2026-10-04" not in listed and "date=2026-10-05" in listed


def test_reads_without_a_timestamp_never_prune(tmp_path: Path) -> None:
    # labels of the 10-05 predictions may arrive in a later partition: reading them must see every file
    from watchkeeper.sources import reader_for

    (tmp_path / "labels").mkdir()
    for day in (5, 8):
        labels = pd.DataFrame({"id": [f"p{day}"], "label": [1]})
        labels.to_parquet(tmp_path / "labels" / f"date=2026-10-{day:02d}.parquet")
    source = config(tmp_path, {"kind": "parquet", "path": "labels/*.parquet"}).model.reference.source
    got = reader_for("parquet").read(source, tmp_path, None, DAY)
    assert got["id"].tolist() == ["p5", "p8"]
