"""CSV scans: streamed chunks, naive timestamps, schema drift between files, unreadable files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from watchkeeper.exceptions import SourceError
from watchkeeper.sources import read_window

from .helpers import DAY, config, oracle, rows, scan_all


def test_chunks_are_bounded_and_concatenate_to_the_window(tmp_path: Path) -> None:
    df = rows("2026-10-04", 72, 7200, tz=None)
    df.to_csv(tmp_path / "log.csv", index=False)
    cfg = config(tmp_path, {"kind": "csv", "path": "log.csv"}, timezone="Europe/Paris")
    got, scan, batches = scan_all(cfg, DAY, batch_rows=1000)
    assert batches >= 3 and scan.rows_scanned == 7200
    expected = oracle([pd.read_csv(tmp_path / "log.csv")], DAY, "Europe/Paris")
    pd.testing.assert_frame_equal(got, expected[got.columns.tolist()])
    assert scan.naive_timestamps and "extra" not in got.columns
    pd.testing.assert_frame_equal(read_window(cfg, DAY).df, expected)


def test_schema_changes_between_csv_files(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    a = rows("2026-10-05 00:00", 12, 12, seed=1)
    b = rows("2026-10-05 12:00", 12, 12, seed=2).drop(columns=["country"])
    b["label"] = b["label"].map({0: "no", 1: "yes"})
    b["amount"] = b["amount"].round().astype(int)
    a.to_csv(tmp_path / "log" / "hour=00.csv", index=False)
    b.to_csv(tmp_path / "log" / "hour=12.csv", index=False)
    got, scan, _ = scan_all(config(tmp_path, {"kind": "csv", "path": "log/*.csv"}), DAY, batch_rows=5)
    changes = {
        (Path(c["file"]).name, c["column"], c["change"], c.get("from"), c.get("to")) for c in scan.schema_changes
    }
    assert changes == {
        ("hour=12.csv", "label", "type", "int", "str"),
        ("hour=12.csv", "amount", "type", "float", "int"),
        ("hour=12.csv", "country", "dropped", "str", None),
    }
    assert got["label"].tolist() == [str(v) for v in a["label"]] + b["label"].tolist()
    assert got["amount"].dtype == "float64" and got["country"].isna().sum() == 12


def test_a_type_that_changes_inside_a_file_is_recorded(tmp_path: Path) -> None:
    df = rows("2026-10-05", 24, 3000)
    df["label"] = df["label"].astype(object)
    df.loc[2500, "label"] = "oops"  # after the sampled rows: seen only in a later chunk
    df.to_csv(tmp_path / "log.csv", index=False)
    got, scan, _ = scan_all(config(tmp_path, {"kind": "csv", "path": "log.csv"}), DAY, batch_rows=1000)
    assert len(got) == 3000
    assert [(c["column"], c["from"], c["to"]) for c in scan.schema_changes] == [("label", "int", "str")]


def test_undecodable_csv_in_the_window_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_bytes(b"ts,id\n\xff\xfe\x00garbage\x81\n")
    with pytest.raises(SourceError, match=r"cannot read CSV file .*log\.csv: .* -- the file is damaged or not CSV"):
        scan_all(config(tmp_path, {"kind": "csv", "path": "log.csv"}), DAY)


def test_an_empty_csv_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_bytes(b"")
    with pytest.raises(SourceError, match=r"cannot read CSV file .*log\.csv"):
        scan_all(config(tmp_path, {"kind": "csv", "path": "log.csv"}), DAY)
