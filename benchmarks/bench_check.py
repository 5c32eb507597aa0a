"""End-to-end benchmark of ``watchkeeper check --dry-run`` on big Parquet windows, beside a bare pass.

For each size (default 1M rows; e.g. ``--rows 1000000 5000000 20000000``) it writes a one-day Parquet
window of ``rows`` x (50 numerical + 10 categorical features, plus id, timestamp, score, prediction,
latency and status) and a 200k-row reference, builds the baseline once (not timed), then measures in
subprocesses (peak RSS from ``wait4``, wall and CPU time), each command ``--repeat`` times (default 3),
alternating, and shows the median:

- ``watchkeeper check MODEL --start D --end D+1 --dry-run`` (reading included, every family);
- a bare pass that reads the same columns with pyarrow batch by batch (``ParquetFile(pre_buffer=False)
  .iter_batches``: bounded memory) and computes, per numerical feature, ``np.histogram`` on the
  reference bins and on the 1,001-quantile grid, and ``value_counts`` per categorical feature.

Targets: peak memory of ``check`` within +-25 % across sizes and under 1.5 GB at the largest; wall time
at most 2x the bare pass. Data is written under ``--workdir`` and deleted afterwards unless ``--keep``.

    PYTHONPATH=src python benchmarks/bench_check.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from benchkit import measure_ok, model_config

ROOT = Path(__file__).resolve().parents[1]
DAY = "2026-10-01"
CHUNK = 1_000_000
MEMORY_SPREAD = 0.25
MEMORY_MAX_GB = 1.5
TIME_TARGET = 2.0
OK = (0, 3)  # exit codes of a run that worked (3: findings)


def _table(n: int, offset: int, args: argparse.Namespace, seed: int, *, day: str, hours: float = 24.0) -> Any:
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    start = np.datetime64(f"{day}T00:00:00", "us")
    ts = start + (np.sort(rng.random(n)) * hours * 3600e6).astype("timedelta64[us]")
    cols: dict[str, Any] = {
        "ts": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
        "pid": pa.array(np.arange(offset, offset + n, dtype=np.int64)),
    }
    for i in range(args.numerical):
        cols[f"num_{i:02d}"] = pa.array(rng.normal(float(i % 7), 1.0 + (i % 5), size=n))
    labels = np.array([f"category_{j:02d}" for j in range(args.categories)], dtype=object)
    weights = 1.0 / np.arange(1, args.categories + 1)
    for i in range(args.categorical):
        codes = rng.choice(args.categories, size=n, p=weights / weights.sum())
        cols[f"cat_{i:02d}"] = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(labels))
    score = rng.beta(1, 12, size=n)
    cols["score"] = pa.array(score)
    cols["pred"] = pa.array((score >= 0.5).astype(np.int64))
    cols["latency"] = pa.array(rng.lognormal(4.0, 0.3, size=n))
    cols["status"] = pa.array(np.where(rng.random(n) < 0.002, "error", "ok"))
    return pa.table(cols)


def write_parquet(path: Path, rows: int, args: argparse.Namespace, seed: int, *, day: str, hours: float = 24.0) -> None:
    """Write ``rows`` rows in chunks (bounded memory), one row group per chunk."""
    import pyarrow.parquet as pq

    writer = None
    done = 0
    while done < rows:
        n = min(CHUNK, rows - done)
        table = _table(n, done, args, seed + done, day=day, hours=hours)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=256 * 1024)
        done += n
    assert writer is not None
    writer.close()


def write_project(work: Path, args: argparse.Namespace) -> Path:
    features = {f"num_{i:02d}": "numerical" for i in range(args.numerical)}
    features.update({f"cat_{i:02d}": "categorical" for i in range(args.categorical)})
    log, reference = str(work / "log" / "*.parquet"), str(work / "reference.parquet")
    config = model_config(log, reference, features, latency="latency", status="status")
    config["quality"] = {"volume": {"expected_rows_per_day": 1}}
    models = work / "project" / "dags" / "models"
    models.mkdir(parents=True, exist_ok=True)
    (work / "project" / "expectations").mkdir(exist_ok=True)
    path = models / "bench.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def median(runs: list[dict[str, Any]]) -> dict[str, float]:
    """The median of each figure over ``runs`` (alternating runs of the two commands: neither gets the
    other's warm page cache or the first run's page faults alone)."""
    return {key: statistics.median(r[key] for r in runs) for key in ("wall", "cpu", "rss_mb")}


def bare_pass(path: str, grids: str) -> None:
    """The bare reference: pyarrow batches of the same columns, histograms and value counts."""
    import pyarrow.parquet as pq

    data = np.load(grids, allow_pickle=False)
    numerical = [k.removesuffix("__bins") for k in data.files if k.endswith("__bins")]
    categorical = [str(c) for c in data["__categorical"]]
    hist: dict[str, np.ndarray] = {}
    counts: dict[str, Any] = {}
    columns = ["ts", "pid", "score", "pred", "latency", "status", *numerical, *categorical]
    # pre_buffer=False: pyarrow's default pre-buffering keeps growing with the file (10 GB at 20M rows)
    for batch in pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=262_144, columns=columns):
        frame = batch.to_pandas()
        for name in numerical:
            values = frame[name].to_numpy()
            a, _ = np.histogram(values, bins=data[f"{name}__bins"])
            b, _ = np.histogram(values, bins=data[f"{name}__grid"])
            hist[name] = hist.get(name, 0) + a + 0 * b.sum()
        for name in categorical:
            vc = frame[name].value_counts()
            counts[name] = vc if name not in counts else counts[name].add(vc, fill_value=0)
    print(json.dumps({"numerical": len(hist), "categorical": len(counts)}))


def reference_grids(reference: Path, out: Path) -> None:
    import pandas as pd

    df = pd.read_parquet(reference)
    arrays: dict[str, Any] = {}
    for name in df.columns:
        if name.startswith("num_"):
            values = df[name].to_numpy()
            edges = np.quantile(values, np.arange(1, 10) / 10)
            arrays[f"{name}__bins"] = np.r_[-np.inf, edges, np.inf]
            arrays[f"{name}__grid"] = np.unique(np.quantile(values, np.linspace(0, 1, 1001)))
    arrays["__categorical"] = np.array([c for c in df.columns if c.startswith("cat_")])
    np.savez(out, **arrays)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; 0 when the targets pass."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--numerical", type=int, default=50)
    parser.add_argument("--categorical", type=int, default=10)
    parser.add_argument("--categories", type=int, default=20)
    parser.add_argument("--reference-rows", type=int, default=200_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each command per size, alternating; the median is shown"
    )
    parser.add_argument("--bare", nargs=2, metavar=("PARQUET", "GRIDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        bare_pass(*args.bare)
        return 0
    work = Path(tempfile.mkdtemp(prefix="wk-bench-check-", dir=args.workdir))
    env = {**os.environ, "WATCHKEEPER_HOME": str(work / "home"), "PYTHONPATH": str(ROOT / "src")}
    env["WATCHKEEPER_CONFIG_DIR"] = str(work / "project" / "dags" / "models")
    env["WATCHKEEPER_EXPECTATIONS_DIR"] = str(work / "project" / "expectations")
    exe = [str(Path(sys.executable).with_name("watchkeeper"))]  # the installed console script, as users run it
    rows_out = []
    try:
        write_parquet(work / "reference.parquet", args.reference_rows, args, 1, day="2026-09-01", hours=24 * 30)
        write_project(work, args)
        reference_grids(work / "reference.parquet", work / "grids.npz")
        measure_ok([*exe, "baseline", "bench"], env, ok=OK)
        for rows in args.rows:
            (work / "log").mkdir(exist_ok=True)
            for old in (work / "log").glob("*.parquet"):
                old.unlink()
            path = work / "log" / f"{DAY}.parquet"
            start = time.perf_counter()
            write_parquet(path, rows, args, 1000 + rows, day=DAY)
            generated = time.perf_counter() - start
            size = path.stat().st_size / 1e6
            check_cmd = [*exe, "check", "bench", "--start", DAY, "--end", "2026-10-02", "--dry-run"]
            bare_cmd = [sys.executable, __file__, "--bare", str(path), str(work / "grids.npz")]
            runs = [(measure_ok(check_cmd, env, ok=OK), measure_ok(bare_cmd, env, ok=OK)) for _ in range(args.repeat)]
            check, bare = median([c for c, _ in runs]), median([b for _, b in runs])
            rows_out.append((rows, size, generated, check, bare))
            print(
                f"{rows:>11,} rows ({size:,.0f} MB parquet, generated in {generated:.0f} s): "
                f"check {check['wall']:.1f} s wall / {check['cpu']:.1f} s CPU / {check['rss_mb']:.0f} MB peak; "
                f"bare {bare['wall']:.1f} s / {bare['cpu']:.1f} s / {bare['rss_mb']:.0f} MB",
                flush=True,
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'rows':>12}{'check wall s':>14}{'check CPU s':>13}{'check peak MB':>15}{'bare wall s':>13}"
          f"{'bare CPU s':>12}{'bare peak MB':>14}{'wall x bare':>13}"
          f"{'CPU x bare':>12}{'peak x bare':>13}")  # fmt: skip
    for rows, _, _, check, bare in rows_out:
        print(f"{rows:>12,}{check['wall']:>14.1f}{check['cpu']:>13.1f}{check['rss_mb']:>15.0f}{bare['wall']:>13.1f}"
              f"{bare['cpu']:>12.1f}{bare['rss_mb']:>14.0f}{check['wall'] / bare['wall']:>13.2f}"
              f"{check['cpu'] / bare['cpu']:>12.2f}{check['rss_mb'] / bare['rss_mb']:>13.2f}")  # fmt: skip
    peaks = [check["rss_mb"] for _, _, _, check, _ in rows_out]
    mean = sum(peaks) / len(peaks)
    flat = all(abs(p - mean) <= MEMORY_SPREAD * mean for p in peaks)
    under = peaks[-1] <= MEMORY_MAX_GB * 1024
    fast = all(check["wall"] <= TIME_TARGET * bare["wall"] for _, _, _, check, bare in rows_out)
    print()
    print(f"peak memory flat within +-{MEMORY_SPREAD:.0%} across sizes : {'PASS' if flat else 'FAIL'}")
    print(f"peak memory < {MEMORY_MAX_GB} GB at the largest size      : {'PASS' if under else 'FAIL'}")
    print(f"wall <= {TIME_TARGET:.0f}x the bare pass                     : {'PASS' if fast else 'FAIL'}")
    return 0 if flat and under and fast else 1


if __name__ == "__main__":
    sys.exit(main())
