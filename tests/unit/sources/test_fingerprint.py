"""Cheap reference fingerprints: file metadata, never the data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from watchkeeper.sources import reader_for, reference_fingerprint

from .helpers import config, rows


def test_parquet_fingerprint_follows_content_not_mtime(tmp_path: Path) -> None:
    df = rows("2026-10-01", 24, 500)
    df.to_parquet(tmp_path / "ref.parquet")
    cfg = config(tmp_path, {"kind": "parquet", "path": "ref.parquet"})
    before = reference_fingerprint(cfg)
    os.utime(tmp_path / "ref.parquet", (0, 0))
    df.to_parquet(tmp_path / "copy.parquet")
    os.replace(tmp_path / "copy.parquet", tmp_path / "ref.parquet")  # the same data written again
    assert reference_fingerprint(cfg) == before
    changed = df.copy()
    changed.loc[10, "amount"] = 1e9
    changed.to_parquet(tmp_path / "ref.parquet")
    assert reference_fingerprint(cfg) != before


def test_parquet_fingerprint_reads_footers_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows("2026-10-01", 24, 50_000).to_parquet(tmp_path / "ref.parquet")
    size = (tmp_path / "ref.parquet").stat().st_size
    cfg = config(tmp_path, {"kind": "parquet", "path": "ref.parquet"})
    read: list[int] = []
    real_open = open

    def counting_open(file, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        handle = real_open(file, mode, *args, **kwargs)
        if str(file).endswith("ref.parquet"):
            real_read = handle.read
            handle.read = lambda n=-1: (read.append(n), real_read(n))[1]  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr("builtins.open", counting_open)
    reference_fingerprint(cfg)
    assert read and all(0 < n < size / 10 for n in read)


def test_csv_fingerprint_is_size_and_mtime(tmp_path: Path) -> None:
    rows("2026-10-01", 24, 50).to_csv(tmp_path / "ref.csv", index=False)
    source = config(tmp_path, {"kind": "csv", "path": "ref.csv"}).model.reference.source
    csv = reader_for("csv")
    before = csv.fingerprint(source, tmp_path)
    assert csv.fingerprint(source, tmp_path) == before
    os.utime(tmp_path / "ref.csv", ns=(1, 1))
    assert csv.fingerprint(source, tmp_path) != before


def test_sqlite_reference_fingerprint_counts_rows(tmp_path: Path) -> None:
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'ref.db'}"
    engine = sa.create_engine(url)
    rows("2026-10-01", 24, 50).to_sql("ref", engine, index=False)
    source = {"kind": "sql", "url": url, "query": "SELECT * FROM ref;"}
    cfg = config(tmp_path, source)
    before = reference_fingerprint(cfg)
    assert reference_fingerprint(cfg) == before
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM ref WHERE rowid = 1"))
    engine.dispose()
    assert reference_fingerprint(cfg) != before
