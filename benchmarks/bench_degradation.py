"""Slow decline: when does a change detector alarm, and when does a ``relative_drop`` threshold rule fire?

Simulates daily accuracy over 18 months (540 windows): flat at 0.94 for ``--flat-days``, then a linear
decline to 0.67 on the last day, each window's accuracy drawn binomially from ``--rows`` labelled rows.
For every seed it records the first window where each registered detector (``detect``, default
parameters) alarms and the first window where the rule ``relative_drop 0.10 below the reference
baseline 0.94`` fires, and prints one seed in full plus the medians over all seeds.

Then false alarms on stationary series (accuracy 0.94 throughout): the share of series with any alarm,
and alarms per 1,000 monitored windows when the detector restarts (new warm-up) after each alarm.

    PYTHONPATH=src python benchmarks/bench_degradation.py
    PYTHONPATH=src python benchmarks/bench_degradation.py --seeds 50 --fa-series 200
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

import numpy as np

from watchkeeper.performance.detectors import DEFAULT_WARMUP, available_detectors, detect

START = date(2026, 1, 1)


def decline(days: int, flat_days: int, start: float, end: float) -> np.ndarray:
    """True accuracy per day: flat, then linear to ``end`` on the last day."""
    day = np.arange(days)
    slope = (start - end) / max(days - 1 - flat_days, 1)
    return np.where(day < flat_days, start, start - slope * (day - flat_days))


def rule_fires(series: np.ndarray, baseline: float, drop: float) -> int | None:
    """First window at least ``drop`` (relative) below ``baseline``."""
    below = np.flatnonzero((baseline - series) / baseline >= drop)
    return int(below[0]) if below.size else None


def alarms_with_restart(series: list[float], method: str, warmup: int) -> int:
    """Number of alarms when the detector starts afresh (new warm-up) after each alarm."""
    count, position = 0, 0
    while len(series) - position > warmup:
        result = detect(series[position:], method=method, warmup=warmup)
        if result.index is None:
            break
        count += 1
        position += result.index + 1
    return count


def day(index: int | None) -> str:
    return "never" if index is None else f"{index:>3} ({START + timedelta(days=index)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=540)
    parser.add_argument("--rows", type=int, default=2000, help="labelled rows per daily window")
    parser.add_argument("--start", type=float, default=0.94)
    parser.add_argument("--end", type=float, default=0.67)
    parser.add_argument("--flat-days", type=int, default=60)
    parser.add_argument("--relative-drop", type=float, default=0.10)
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--fa-series", type=int, default=1000)
    parser.add_argument("--fa-windows", type=int, default=540)
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP)
    args = parser.parse_args()
    methods = available_detectors()
    truth = decline(args.days, args.flat_days, args.start, args.end)
    t0 = time.perf_counter()

    firsts: dict[str, list[float]] = {m: [] for m in [*methods, "rule"]}
    example: dict[str, int | None] = {}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        series = rng.binomial(args.rows, truth) / args.rows
        found: dict[str, int | None] = {"rule": rule_fires(series, args.start, args.relative_drop)}
        for method in methods:
            found[method] = detect(series.tolist(), method=method, warmup=args.warmup).index
        for name, index in found.items():
            firsts[name].append(np.nan if index is None else float(index))
        if seed == 0:
            example = found

    noise = float(np.sqrt(args.start * (1 - args.start) / args.rows))
    print(
        f"Slow decline: accuracy {args.start} flat for {args.flat_days} days, then linear to {args.end} on day "
        f"{args.days - 1}; {args.rows} labelled rows a day (noise std {noise:.4f}); window 0 = {START}"
    )
    print(
        f"Rule: relative_drop {args.relative_drop:.2f} below the reference baseline {args.start} "
        f"(fires at {args.start * (1 - args.relative_drop):.3f}); detectors: defaults, warm-up {args.warmup} windows"
    )
    print()
    print("Seed 0:")
    print(f"  {'who':<14}{'first window (date)':<24}{'days after onset':>18}{'windows before rule':>22}")
    rule_index = example["rule"]
    for name in [*methods, "rule"]:
        index = example[name]
        after = "" if index is None else f"{index - args.flat_days:>18}"
        lead = "" if index is None or rule_index is None or name == "rule" else f"{rule_index - index:>22}"
        print(f"  {name:<14}{day(index):<24}{after:>18}{lead:>22}")
    print()
    print(f"Over {args.seeds} seeds (median window; windows before the rule; share alarming before the onset):")
    print(f"  {'who':<14}{'median first':>14}{'median lead':>14}{'p10 lead':>10}{'before onset':>14}{'never':>8}")
    rule = np.array(firsts["rule"])
    for name in [*methods, "rule"]:
        first = np.array(firsts[name])
        lead = rule - first
        early = np.nanmean(first < args.flat_days) if np.isfinite(first).any() else float("nan")
        never = np.mean(~np.isfinite(first))
        lead_text = "" if name == "rule" else f"{np.nanmedian(lead):>14.0f}{np.nanpercentile(lead, 10):>10.0f}"
        if name == "rule":
            lead_text = f"{'':>14}{'':>10}"
        print(f"  {name:<14}{np.nanmedian(first):>14.0f}{lead_text}{early:>14.3f}{never:>8.3f}")

    print()
    print(
        f"False alarms on stationary series ({args.fa_series} series x {args.fa_windows} windows, accuracy "
        f"{args.start}, {args.rows} rows a window):"
    )
    print(f"  {'who':<14}{'series with any alarm':>24}{'alarms / 1,000 windows':>26}")
    rng = np.random.default_rng(10_000)
    stationary = rng.binomial(args.rows, args.start, size=(args.fa_series, args.fa_windows)) / args.rows
    monitored = args.fa_series * (args.fa_windows - args.warmup)
    for method in methods:
        counts = [alarms_with_restart(row.tolist(), method, args.warmup) for row in stationary]
        share = np.mean(np.array(counts) > 0)
        print(f"  {method:<14}{share:>24.3f}{1000 * sum(counts) / monitored:>26.3f}")
    rule_alarms = sum(rule_fires(row, args.start, args.relative_drop) is not None for row in stationary)
    print(f"  {'rule':<14}{rule_alarms / args.fa_series:>24.3f}{'':>26}")
    print(f"\n({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
