"""Slow decline: when does a change detector alarm, and when does a ``relative_drop`` threshold rule fire?

Simulates daily accuracy over 18 months (540 windows): flat at 0.94 for ``--flat-days``, then a linear
decline to 0.67 on the last day, each window's accuracy drawn binomially from ``--rows`` labelled rows.
For every seed it records the first window where each registered detector (``detect``, default
parameters) alarms and the first window where the rule ``relative_drop 0.10 below the reference
baseline 0.94`` fires, and prints one seed in full plus the medians over all seeds.

Then false alarms on stationary series (accuracy 0.94 throughout): the share of series with any alarm,
and alarms per 1,000 monitored windows when the detector restarts (new warm-up) after each alarm.

Finally **year one of monthly and weekly models**: the noise is learned from window-sized chunks of a labelled
reference (``reference_chunk_stats`` by timestamp, as the baseline does) and each window is judged with
``trend_result`` (what the performance DAG runs). Accuracy ``--year-start`` flat for a quarter, then linear to
``--year-end`` at the end of the year: the share of models with a trend alert within the year and the median
window of the first alarm; on stationary series the share with any alarm in the year, also when production is
noisier than the reference (1.5x its standard deviation). Standardised from the history (20 windows of
warm-up) a monthly model cannot alarm in its first year at all.

    PYTHONPATH=src python benchmarks/bench_degradation.py
    PYTHONPATH=src python benchmarks/bench_degradation.py --seeds 50 --fa-series 200
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd

from watchkeeper.performance.detectors import DEFAULT_WARMUP, available_detectors, detect
from watchkeeper.performance.trend import Point, reference_chunk_stats, trend_result

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


def reference_noise(rng: np.random.Generator, level: float, period: timedelta, chunks: int, rows: int) -> dict:
    """Accuracy over window-sized chunks of a labelled reference spanning ``chunks`` windows (as the baseline)."""
    n = chunks * rows
    ts = pd.Series(pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) * (period / rows)))
    truth = pd.Series((rng.random(n) < level).astype(int))
    stats = reference_chunk_stats(
        "binary_classification", truth, pd.Series(np.ones(n, dtype=int)), timestamps=ts, period=period
    )
    return dict(stats["metrics"]["accuracy"])


def first_alarm(values: np.ndarray, rows: int, method: str, source: str, reference: dict) -> int | None:
    """The first alarming window of ``trend_result`` on ``values`` (None: no alarm)."""
    history = [Point(float(v), rows) for v in values]
    result = trend_result(
        "accuracy", history, higher_is_better=True, method=method, standardise_from=source, reference=reference
    )
    return result.details["alarm_index"] if result.status.is_finding else None


def year_one(args: argparse.Namespace, methods: list[str]) -> None:
    """Trend alerts in the first year of monthly and weekly models, standardised from the reference."""
    print()
    print(
        f"Year one (accuracy {args.year_start} flat for a quarter, then linear to {args.year_end} by the year's end; "
        f"{args.year_rows} labelled rows a window; reference of 12 windows of {args.year_rows} rows; "
        f"{args.year_seeds} seeds):"
    )
    print(
        f"  {'schedule':<10}{'detector (noise from)':<28}{'alarm in year':>15}{'median window':>15}"
        f"{'false alarms':>14}{'x1.5 noise':>12}"
    )
    who = [(m, "reference") for m in methods] + [("page_hinkley", "history")]
    for schedule, windows, period in (("monthly", 12, timedelta(days=30)), ("weekly", 52, timedelta(days=7))):
        rng = np.random.default_rng(20_000)
        quarter = windows // 4
        step = (args.year_start - args.year_end) / (windows - quarter)
        level = np.where(
            np.arange(windows) < quarter, args.year_start, args.year_start - step * (np.arange(windows) - quarter + 1)
        )
        flat = np.full(windows, args.year_start)
        alarms: dict[tuple[str, str], list[int | None]] = {w: [] for w in who}
        false: dict[tuple[str, str], list[bool]] = {w: [] for w in who}
        noisy: dict[tuple[str, str], list[bool]] = {w: [] for w in who}
        for _ in range(args.year_seeds):
            ref = reference_noise(rng, args.year_start, period, 12, args.year_rows)
            draws = []
            for levels, inflate in ((level, 1.0), (flat, 1.0), (flat, 1.5)):
                sd = np.sqrt(levels * (1 - levels) / args.year_rows) * inflate
                draws.append(np.clip(rng.normal(levels, sd), 0, 1))
            for method, source in who:
                alarms[(method, source)].append(first_alarm(draws[0], args.year_rows, method, source, ref))
                false[(method, source)].append(first_alarm(draws[1], args.year_rows, method, source, ref) is not None)
                noisy[(method, source)].append(first_alarm(draws[2], args.year_rows, method, source, ref) is not None)
        for method, source in who:
            found = [a for a in alarms[(method, source)] if a is not None]
            median = f"{np.median(found) + 1:.0f} of {windows}" if found else "never"
            print(
                f"  {schedule:<10}{f'{method} ({source})':<28}{len(found) / args.year_seeds:>15.3f}{median:>15}"
                f"{np.mean(false[(method, source)]):>14.3f}{np.mean(noisy[(method, source)]):>12.3f}"
            )


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
    parser.add_argument("--year-start", type=float, default=0.90)
    parser.add_argument("--year-end", type=float, default=0.84)
    parser.add_argument("--year-rows", type=int, default=1500, help="labelled rows per monthly/weekly window")
    parser.add_argument("--year-seeds", type=int, default=200)
    args = parser.parse_args()
    methods = available_detectors()
    truth = decline(args.days, args.flat_days, args.start, args.end)
    t0, c0 = time.perf_counter(), time.process_time()

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
    year_one(args, methods)
    print(f"\n({time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
