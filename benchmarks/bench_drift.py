"""Benchmark of what a run does for a window (reading, profile, all four families) against a bare pass.

Builds a seeded reference and window (default 1M rows x 50 numerical float64 + 10 categorical string
columns with ~20 categories), writes them as Parquet with a model config, builds the baseline once
(timed apart: it is stored), then measures wall time, CPU time and peak traced memory (``tracemalloc``:
numpy/pandas allocations; Arrow's buffers are not traced -- ``bench_check.py`` measures process RSS) of

- ``run_checks``: the window read once in batches into its profile, then every family from it;
- the bare pass: ``pd.read_parquet`` of the same columns, then ``np.quantile`` edges plus
  ``np.histogram`` per numerical column and ``value_counts`` per categorical column;

and, apart, the drift engine alone on an in-memory frame (``analyze_features``).

Targets: time <= 2x the bare pass, peak traced memory <= 2x the window's size. Exits 1 if one fails.

    PYTHONPATH=src python benchmarks/bench_drift.py                    # full size
    PYTHONPATH=src python benchmarks/bench_drift.py --rows 100000 --numerical 5 --categorical 2
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from benchkit import feature_columns, model_config

from watchkeeper.drift import analyze_features, available_tests, profile_categorical, profile_numerical

TIME_TARGET = 2.0  # x the bare-numpy reference
MEMORY_TARGET = 2.0  # x the window DataFrame's size


def make_frame(rows: int, numerical: int, categorical: int, categories: int, seed: int, *, drift: bool) -> pd.DataFrame:
    """A seeded frame (:func:`benchkit.feature_columns`, categories as strings); ``drift`` shifts a few columns."""
    columns = feature_columns(np.random.default_rng(seed), rows, numerical, categorical, categories, drift=drift)
    return pd.DataFrame({k: pd.array(v, dtype="str") if k.startswith("cat_") else v for k, v in columns.items()})


def bare_reference(df: pd.DataFrame, numerical: list[str], categorical: list[str], n_bins: int = 10) -> None:
    """What a hand-written job does: quantile edges and a histogram per numeric column, value_counts per category."""
    levels = np.linspace(0.0, 1.0, n_bins + 1)
    for column in numerical:
        values = df[column].to_numpy()
        np.histogram(values, bins=np.quantile(values, levels))
    for column in categorical:
        df[column].value_counts()


def best_time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall time and CPU time of ``repeat`` runs (seconds)."""
    best, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return best, cpu


def write_model(work: Path, reference: pd.DataFrame, window: pd.DataFrame, features: dict[str, str]) -> Path:
    """Reference and window as Parquet (the window on 2026-10-01, with id/score/prediction columns), a config."""
    rows = len(window)
    rng = np.random.default_rng(0)
    log = window.copy()
    log.insert(0, "ts", pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(np.linspace(0, 86_399, rows), unit="s"))
    log.insert(1, "pid", np.arange(rows))
    log["score"] = rng.beta(1, 12, rows)
    log["pred"] = (log["score"] >= 0.5).astype("int64")
    ref = reference.copy()
    ref["score"] = rng.beta(1, 12, len(ref))
    ref["pred"] = (ref["score"] >= 0.5).astype("int64")
    (work / "log").mkdir(parents=True)
    log.to_parquet(work / "log" / "day.parquet", row_group_size=262_144)
    ref.to_parquet(work / "reference.parquet")
    config = model_config(str(work / "log" / "*.parquet"), str(work / "reference.parquet"), features)
    config["quality"] = {"volume": {"expected_rows_per_day": rows}}
    (work / "models").mkdir()
    path = work / "models" / "bench.yaml"
    path.write_text(json.dumps(config))
    return path


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak traced memory allocated by ``fn`` above what was allocated when it started (bytes)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; 0 when both targets pass."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the reference and of the window")
    parser.add_argument("--numerical", type=int, default=50, help="numerical float64 columns")
    parser.add_argument("--categorical", type=int, default=10, help="categorical string columns")
    parser.add_argument("--categories", type=int, default=20, help="categories per categorical column")
    parser.add_argument("--method", default="auto", choices=["auto", *available_tests("numerical")],
                        help="drift test for the numerical columns (categorical ones stay auto)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each contender (best is kept)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    reference = make_frame(args.rows, args.numerical, args.categorical, args.categories, args.seed, drift=False)
    window = make_frame(args.rows, args.numerical, args.categorical, args.categories, args.seed + 1, drift=True)
    print(f"data generated in {time.perf_counter() - start:.1f} s ({platform.python_version()}, numpy {np.__version__},"
          f" pandas {pd.__version__})")  # fmt: skip
    numerical = [c for c in window.columns if c.startswith("num_")]
    categorical = [c for c in window.columns if c.startswith("cat_")]
    features = {**dict.fromkeys(numerical, "numerical"), **dict.fromkeys(categorical, "categorical")}
    methods = dict.fromkeys(numerical, args.method)

    start = time.perf_counter()
    profiles = {c: profile_numerical(reference[c]) for c in numerical}
    profiles.update({c: profile_categorical(reference[c]) for c in categorical})
    profile_seconds = time.perf_counter() - start

    work = Path(tempfile.mkdtemp(prefix="wk-bench-drift-"))
    os.environ["WATCHKEEPER_HOME"] = str(work / "home")
    from watchkeeper.baseline import ensure_baseline
    from watchkeeper.checks import run_checks
    from watchkeeper.config import load_config
    from watchkeeper.results import Window
    from watchkeeper.store import MetricStore

    config = load_config(write_model(work, reference, window, features))
    del reference
    gc.collect()
    store = MetricStore()
    store.migrate()
    ensure_baseline(config, store)
    day = Window.parse("2026-10-01", "2026-10-02")
    columns = ["ts", "pid", "score", "pred", *features]

    def run() -> object:
        return run_checks(config, day, store)

    def bare() -> None:
        frame = pd.read_parquet(work / "log" / "day.parquet", columns=columns)
        bare_reference(frame, numerical, categorical)

    def engine() -> object:
        return analyze_features(window, features, profiles, methods=methods)

    window_bytes = int(window.memory_usage(deep=True).sum())
    try:
        run()  # warm-up: imports, scipy distributions
        bare()
        (t_bare, c_bare), (t_run, c_run) = best_time(bare, args.repeat), best_time(run, args.repeat)
        t_engine, _ = best_time(engine, args.repeat)
        m_bare, m_run = peak_memory(bare), peak_memory(run)
        report = run_checks(config, day, store)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    drifted = sorted(r.subject for r in report.results if r.check == "drift" and r.status.is_finding)
    quality = sorted(f"{r.subject}:{r.metric}" for r in report.results if r.check == "quality" and r.status.is_finding)

    mb = 1024 * 1024
    time_ok = t_run <= TIME_TARGET * t_bare
    memory_ok = m_run <= MEMORY_TARGET * window_bytes
    print(f"window: {args.rows:,} rows x {len(numerical)} numerical + {len(categorical)} categorical, "
          f"{window_bytes / mb:.0f} MB in memory; method for numerical columns: {args.method}")  # fmt: skip
    print(f"reference profiles (part of the stored baseline): {profile_seconds:.2f} s")
    print()
    print(f"{'':<38}{'wall s':>9}{'CPU s':>8}{'peak MB':>10}{'time x bare':>13}{'peak x window':>15}")
    print(f"{'bare: read + histograms':<38}{t_bare:>9.2f}{c_bare:>8.2f}{m_bare / mb:>10.1f}{1.0:>13.2f}"
          f"{m_bare / window_bytes:>15.3f}")  # fmt: skip
    print(f"{'run_checks: read + profile + families':<38}{t_run:>9.2f}{c_run:>8.2f}{m_run / mb:>10.1f}"
          f"{t_run / t_bare:>13.2f}{m_run / window_bytes:>15.3f}")  # fmt: skip
    print(f"{'(drift engine alone, in memory)':<38}{t_engine:>9.2f}")
    print()
    print(f"time   <= {TIME_TARGET:.0f}x bare pass : {'PASS' if time_ok else 'FAIL'}")
    print(f"memory <= {MEMORY_TARGET:.0f}x window    : {'PASS' if memory_ok else 'FAIL'}")
    print(f"drift findings: {', '.join(drifted) or 'none'}")
    print(f"quality findings: {', '.join(quality) or 'none'}")
    return 0 if time_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
