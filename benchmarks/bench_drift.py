"""Benchmark of the drift engine against a bare-numpy reference run on the same window.

Builds a seeded reference and window (default 1M rows x 50 numerical float64 + 10 categorical string
columns with ~20 categories), builds the profiles once (timed apart: that is the stored baseline),
then measures wall time and peak traced memory (``tracemalloc``; numpy allocations are traced) of
``analyze_features`` and of the bare reference: ``np.quantile`` edges plus ``np.histogram`` per
numerical column and ``value_counts`` per categorical column.

Targets: time <= 2x the reference, peak extra memory <= 2x the window's size. Exits 1 if one fails.

    PYTHONPATH=src python benchmarks/bench_drift.py                    # full size
    PYTHONPATH=src python benchmarks/bench_drift.py --rows 100000 --numerical 5 --categorical 2
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from watchkeeper.drift import analyze_features, available_tests, profile_categorical, profile_numerical

TIME_TARGET = 2.0  # x the bare-numpy reference
MEMORY_TARGET = 2.0  # x the window DataFrame's size


def make_frame(rows: int, numerical: int, categorical: int, categories: int, seed: int, *, drift: bool) -> pd.DataFrame:
    """A seeded frame; with ``drift`` a few columns are shifted and one gets an unseen category."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i in range(numerical):
        loc, scale = float(i % 7), 1.0 + (i % 5)
        if drift and i % 10 == 0:
            loc += 0.5 * scale
        columns[f"num_{i:02d}"] = rng.normal(loc, scale, size=rows)
    weights = 1.0 / np.arange(1, categories + 1)  # Zipf-like category shares
    labels = np.array([f"category_{j:02d}" for j in range(categories + 1)], dtype=object)
    for i in range(categorical):
        shares = weights.copy()
        if drift and i == 0:
            shares = shares[::-1].copy()
        codes = rng.choice(categories, size=rows, p=shares / shares.sum())
        if drift and i == 1:
            codes[rng.random(rows) < 0.02] = categories  # a category the reference never saw
        columns[f"cat_{i:02d}"] = pd.array(labels[codes], dtype="str")
    return pd.DataFrame(columns)


def bare_reference(df: pd.DataFrame, numerical: list[str], categorical: list[str], n_bins: int = 10) -> None:
    """What a hand-written job does: quantile edges and a histogram per numeric column, value_counts per category."""
    levels = np.linspace(0.0, 1.0, n_bins + 1)
    for column in numerical:
        values = df[column].to_numpy()
        np.histogram(values, bins=np.quantile(values, levels))
    for column in categorical:
        df[column].value_counts()


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` runs (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


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
    del reference
    gc.collect()

    def engine() -> object:
        return analyze_features(window, features, profiles, methods=methods)

    def bare() -> None:
        bare_reference(window, numerical, categorical)

    window_bytes = int(window.memory_usage(deep=True).sum())
    engine()  # warm-up: imports, scipy distributions
    bare()
    t_bare, t_engine = best_time(bare, args.repeat), best_time(engine, args.repeat)
    m_bare, m_engine = peak_memory(bare), peak_memory(engine)

    results = analyze_features(window, features, profiles, methods=methods)
    drifted = sorted(r.subject for r in results if r.check == "drift" and r.status.is_finding)
    quality = sorted(f"{r.subject}:{r.metric}" for r in results if r.check == "quality" and r.status.is_finding)

    mb = 1024 * 1024
    time_ok = t_engine <= TIME_TARGET * t_bare
    memory_ok = m_engine <= MEMORY_TARGET * window_bytes
    print(f"window: {args.rows:,} rows x {len(numerical)} numerical + {len(categorical)} categorical, "
          f"{window_bytes / mb:.0f} MB; method for numerical columns: {args.method}")  # fmt: skip
    print(f"profiles built once (stored baseline): {profile_seconds:.2f} s")
    print()
    print(f"{'':<22}{'wall s':>9}{'peak MB':>10}{'time x ref':>12}{'peak x window':>15}")
    print(f"{'bare numpy reference':<22}{t_bare:>9.2f}{m_bare / mb:>10.1f}{1.0:>12.2f}{m_bare / window_bytes:>15.3f}")
    print(f"{'analyze_features':<22}{t_engine:>9.2f}{m_engine / mb:>10.1f}{t_engine / t_bare:>12.2f}"
          f"{m_engine / window_bytes:>15.3f}")  # fmt: skip
    print()
    print(f"time   <= {TIME_TARGET:.0f}x reference : {'PASS' if time_ok else 'FAIL'}")
    print(f"memory <= {MEMORY_TARGET:.0f}x window    : {'PASS' if memory_ok else 'FAIL'}")
    print(f"drift findings: {', '.join(drifted) or 'none'}")
    print(f"quality findings: {', '.join(quality) or 'none'}")
    return 0 if time_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
