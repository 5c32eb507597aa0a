"""How well does CBPE-like estimation (``estimate_performance``) track realised performance, and when does it fail?

A latent feature ``x ~ N(mu, 1)`` drives the true probability of a positive, ``p = sigmoid(a (2x - 1) + b)``.
The model's score is the reference-time probability ``sigmoid(2x - 1)``: calibrated on the reference
(``mu = 0, a = 1, b = 0``). A :class:`Calibrator` is fitted on a reference sample, then windows are drawn
in three regimes:

- ``no shift``: same distribution as the reference;
- ``covariate shift``: ``mu`` moves (the score distribution changes), the score still means the same
  probability -- CBPE should follow the realised change;
- ``concept drift``: ``a`` and ``b`` move (the same score no longer means the same probability) -- CBPE
  cannot see this without labels, and its error grows with the drift.

For each regime it prints the realised metric's mean and range over the windows, and the estimation
error (estimated - realised): mean absolute error and mean signed error (bias) per metric.

    PYTHONPATH=src python benchmarks/bench_estimation.py
    PYTHONPATH=src python benchmarks/bench_estimation.py --windows 100 --rows 5000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from scipy.special import expit

from watchkeeper.performance import ESTIMATED_METRICS, Calibrator, compute_metrics, estimate_performance

REALISED = {name: name.removeprefix("estimated_") for name in ESTIMATED_METRICS}


def draw(rng: np.random.Generator, n: int, mu: float, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels of ``n`` rows."""
    x = rng.normal(mu, 1.0, n)
    score = expit(2 * x - 1)
    truth = expit(a * (2 * x - 1) + b)
    return score, (rng.random(n) < truth).astype(int)


def run_regime(
    rng: np.random.Generator, calibrator: Calibrator, windows: int, rows: int, params: Callable[[], tuple[float, ...]]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Realised and estimated metrics of ``windows`` windows drawn with ``params()``."""
    realised: dict[str, list[float]] = {name: [] for name in ESTIMATED_METRICS}
    estimated: dict[str, list[float]] = {name: [] for name in ESTIMATED_METRICS}
    for _ in range(windows):
        score, label = draw(rng, rows, *params())
        predicted = (score >= 0.5).astype(int)
        values = compute_metrics("binary_classification", label, predicted, score, metrics=list(REALISED.values()))
        estimates = estimate_performance(calibrator, score, predicted)
        for name, metric in REALISED.items():
            realised[name].append(np.nan if values[metric].value is None else float(values[metric].value))
            value = estimates[name]
            estimated[name].append(np.nan if value is None else float(value))
    return {k: np.array(v) for k, v in realised.items()}, {k: np.array(v) for k, v in estimated.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-rows", type=int, default=20_000)
    parser.add_argument("--windows", type=int, default=50)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    calibrator = Calibrator.fit(*draw(rng, args.reference_rows, 0.0, 1.0, 0.0))
    regimes: dict[str, Callable[[], tuple[float, ...]]] = {
        "no shift": lambda: (0.0, 1.0, 0.0),
        "covariate shift": lambda: (rng.uniform(-1.0, 1.5), 1.0, 0.0),
        "concept drift": lambda: (0.0, rng.uniform(0.3, 1.0), rng.uniform(-1.0, 1.0)),
    }
    print(
        f"Calibrator: {calibrator.method} on {calibrator.n} reference rows; {args.windows} windows of "
        f"{args.rows} rows per regime"
    )
    print("error = estimated - realised; MAE = mean |error| over windows; bias = mean error\n")
    header = f"{'regime':<17}{'metric':<11}{'realised mean [min, max]':>28}{'MAE':>9}{'bias':>9}"
    print(header)
    print("-" * len(header))
    for regime, params in regimes.items():
        realised, estimated = run_regime(rng, calibrator, args.windows, args.rows, params)
        for name, metric in REALISED.items():
            error = estimated[name] - realised[name]
            r = realised[name]
            spread = f"{np.nanmean(r):.3f} [{np.nanmin(r):.3f}, {np.nanmax(r):.3f}]"
            print(f"{regime:<17}{metric:<11}{spread:>28}{np.nanmean(np.abs(error)):>9.4f}{np.nanmean(error):>+9.4f}")
        print()
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
