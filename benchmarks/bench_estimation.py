"""How well does estimation without labels track realised performance, and when does it fail -- for binary
(CBPE), multiclass (per-class calibrated CBPE) and regression (direct loss estimation) models?

Binary:

A latent feature ``x ~ N(mu, 1)`` drives the true probability of a positive, ``p = sigmoid(a (2x - 1) + b)``.
The model's score is the reference-time probability ``sigmoid(2x - 1)``: calibrated on the reference
(``mu = 0, a = 1, b = 0``). A :class:`Calibrator` is fitted on a reference sample, then windows are drawn
in three regimes:

- ``no shift``: same distribution as the reference;
- ``covariate shift``: ``mu`` moves (the score distribution changes), the score still means the same
  probability -- CBPE should follow the realised change;
- ``concept drift``: ``a`` and ``b`` move (the same score no longer means the same probability) -- CBPE
  cannot see this without labels, and its error grows with the drift.

Multiclass (3 classes): latent ``x ~ N(mu, I_2)``, class logits ``(1.5 x1, 1.5 x2, 0.5)``; the model
reports ``softmax(logits)``, the truth is ``softmax(logits / t)``. The reference is over-confident
(``t = 1.5``), so calibration has work to do. Covariate shift moves ``mu``; concept drift changes ``t`` and
swaps classes for part of the rows.

Regression: ``y = 2 x + e``, noise scale ``(0.5 + |x|)`` times 2 in region ``north``; the model predicts ``2 x``.
Covariate shift moves ``x`` and the share of ``north``; concept drift scales the noise (the inputs stay).

Estimates go through what the monitor runs: the stored estimator payload (JSON) applied to each window in one
pass (``watchkeeper.performance.estimators``). For each regime it prints the realised metric's mean and range
over the windows, and the estimation error (estimated - realised): mean absolute error and mean signed error
(bias). Timings: fitting each estimator on the reference, and estimating one window beside the bare reference
of computing the realised metrics on the labelled window (scikit-learn), CPU and wall.

    PYTHONPATH=src python benchmarks/bench_estimation.py
    PYTHONPATH=src python benchmarks/bench_estimation.py --windows 100 --rows 5000 --kinds multiclass
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy.special import expit, softmax

from watchkeeper.config import LoadedConfig, parse_config
from watchkeeper.performance import compute_metrics
from watchkeeper.performance.estimators import fit_estimator, window_estimator

Draw = Callable[[np.random.Generator, int], pd.DataFrame]
CLASSES = np.array(["a", "b", "c"], dtype=object)


def config(task: str) -> LoadedConfig:
    """A model config of ``task`` (its sources are never read here)."""
    data: dict[str, Any] = {
        "name": f"bench_{task.split('_', maxsplit=1)[0]}",
        "owner": "bench",
        "task": task,
        "predictions": {
            "source": {"kind": "parquet", "path": "none.parquet"},
            "timestamp": "ts",
            "id": "id",
            "features": {"x1": "numerical", "x2": "numerical", "region": "categorical"},
            "prediction": "pred",
        },
        "reference": {"source": {"kind": "parquet", "path": "none.parquet"}},
        "performance": {"labels": {"source": {"kind": "parquet", "path": "none.parquet"}, "id": "id", "label": "y"}},
    }
    if task == "binary_classification":
        data["predictions"]["score"] = "score"
    if task == "multiclass_classification":
        data["predictions"]["scores"] = {str(c): f"p_{c}" for c in CLASSES}
    return parse_config(Path(f"benchmarks/{data['name']}.yaml"), yaml.safe_dump(data))


def _frame(rng: np.random.Generator, n: int, mu: float, north: float = 1 / 3) -> pd.DataFrame:
    x = rng.normal(mu, 1.0, (n, 2))
    region = rng.choice(["north", "south", "east"], n, p=[north, (1 - north) / 2, (1 - north) / 2])
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "region": region})


def binary(mu: float, a: float, b: float) -> Draw:
    """Scores ``sigmoid(2 x1 - 1)``; truth ``sigmoid(a (2 x1 - 1) + b)`` (calibrated at a=1, b=0)."""

    def draw(rng: np.random.Generator, n: int) -> pd.DataFrame:
        df = _frame(rng, n, mu)
        df["score"] = expit(2 * df["x1"] - 1)
        df["pred"] = (df["score"] >= 0.5).astype(int)
        df["y"] = (rng.random(n) < expit(a * (2 * df["x1"] - 1) + b)).astype(int)
        return df

    return draw


def multiclass(mu: float, t: float, swap: float) -> Draw:
    """Probabilities ``softmax(logits)``, truth ``softmax(logits / t)``; ``swap`` of the rows get classes a/b
    exchanged in the truth (concept drift)."""

    def draw(rng: np.random.Generator, n: int) -> pd.DataFrame:
        df = _frame(rng, n, mu)
        logits = np.column_stack([1.5 * df["x1"], 1.5 * df["x2"], np.full(n, 0.5)])
        probs, truth = softmax(logits, axis=1), softmax(logits / t, axis=1)
        for k, c in enumerate(CLASSES):
            df[f"p_{c}"] = probs[:, k]
        df["pred"] = CLASSES[probs.argmax(axis=1)]
        drawn = (rng.random(n)[:, None] > np.cumsum(truth, axis=1)).sum(axis=1)
        swapped = rng.random(n) < swap
        drawn = np.where(swapped & (drawn < 2), 1 - drawn, drawn)
        df["y"] = CLASSES[drawn]
        return df

    return draw


def regression(mu: float, north: float, noise: float) -> Draw:
    """``y = 2 x1 + e``, ``e ~ N(0, noise (0.5 + |x1|) (2 in north))``; the model predicts ``2 x1``."""

    def draw(rng: np.random.Generator, n: int) -> pd.DataFrame:
        df = _frame(rng, n, mu, north)
        scale = noise * (0.5 + np.abs(df["x1"])) * np.where(df["region"] == "north", 2.0, 1.0)
        df["pred"] = 2 * df["x1"]
        df["y"] = df["pred"] + rng.normal(0, 1, n) * scale
        return df

    return draw


KINDS: dict[str, tuple[str, Draw, dict[str, Callable[[np.random.Generator], Draw]]]] = {
    "binary": (
        "binary_classification",
        binary(0.0, 1.0, 0.0),
        {
            "no shift": lambda rng: binary(0.0, 1.0, 0.0),
            "covariate shift": lambda rng: binary(rng.uniform(-1.0, 1.5), 1.0, 0.0),
            "concept drift": lambda rng: binary(0.0, rng.uniform(0.3, 1.0), rng.uniform(-1.0, 1.0)),
        },
    ),
    "multiclass": (
        "multiclass_classification",
        multiclass((0.0, 0.0), 1.5, 0.0),  # type: ignore[arg-type]
        {
            "no shift": lambda rng: multiclass((0.0, 0.0), 1.5, 0.0),  # type: ignore[arg-type]
            "covariate shift": lambda rng: multiclass(tuple(rng.uniform(-1.0, 1.0, 2)), 1.5, 0.0),  # type: ignore[arg-type]
            "concept drift": lambda rng: multiclass((0.0, 0.0), rng.uniform(0.8, 3.0), rng.uniform(0.0, 0.3)),  # type: ignore[arg-type]
        },
    ),
    "regression": (
        "regression",
        regression(0.0, 1 / 3, 1.0),
        {
            "no shift": lambda rng: regression(0.0, 1 / 3, 1.0),
            "covariate shift": lambda rng: regression(rng.uniform(-1.0, 1.0), rng.uniform(0.1, 0.8), 1.0),
            "concept drift": lambda rng: regression(0.0, 1 / 3, rng.uniform(0.6, 1.6)),
        },
    ),
}


def realised(task: str, df: pd.DataFrame) -> dict[str, float | None]:
    """The realised metrics of the labelled window (the bare reference: what labels would say)."""
    score = df["score"] if "score" in df.columns else None
    values = compute_metrics(task, df["y"], df["pred"], score)
    return {f"estimated_{k}": v.value for k, v in values.items()}


def clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def since(start: tuple[float, float]) -> tuple[float, float]:
    cpu, wall = clock()
    return cpu - start[0], wall - start[1]


def run_kind(kind: str, args: argparse.Namespace, rng: np.random.Generator) -> None:
    task, reference_draw, regimes = KINDS[kind]
    cfg = config(task)
    reference = reference_draw(rng, args.reference_rows)
    start = clock()
    payload = fit_estimator(cfg, reference)
    fit_cpu, fit_wall = since(start)
    if payload.get("skipped"):
        raise SystemExit(f"{kind}: estimator not fitted: {payload['skipped']}")
    baseline = {"performance": {"estimator": payload}}
    print(
        f"\n## {kind}: {payload['kind']} estimator fitted on {args.reference_rows} reference rows in "
        f"{fit_cpu:.2f} s CPU / {fit_wall:.2f} s wall"
    )
    header = f"{'regime':<17}{'metric':<13}{'realised mean [min, max]':>28}{'MAE':>9}{'MAE/mean':>10}{'bias':>9}"
    print(header)
    print("-" * len(header))
    est_time, real_time = [0.0, 0.0], [0.0, 0.0]
    for regime, make in regimes.items():
        errors: dict[str, list[float]] = {}
        values: dict[str, list[float]] = {}
        for _ in range(args.windows):
            window = make(rng)(rng, args.rows)
            start = clock()
            truth = realised(task, window)
            for i, v in enumerate(since(start)):
                real_time[i] += v
            start = clock()
            estimator = window_estimator(cfg, baseline)
            estimator.update(window.drop(columns="y"))
            estimates = estimator.estimates()
            for i, v in enumerate(since(start)):
                est_time[i] += v
            for name, value in estimates.items():
                if value is None or truth.get(name) is None:
                    continue
                errors.setdefault(name, []).append(value - truth[name])  # type: ignore[operator]
                values.setdefault(name, []).append(truth[name])  # type: ignore[arg-type]
        for name, err in errors.items():
            r, e = np.array(values[name]), np.array(err)
            spread = f"{r.mean():.3f} [{r.min():.3f}, {r.max():.3f}]"
            metric = name.removeprefix("estimated_")
            relative = np.abs(e).mean() / abs(r.mean())
            print(f"{regime:<17}{metric:<13}{spread:>28}{np.abs(e).mean():>9.4f}{relative:>10.1%}{e.mean():>+9.4f}")
    per = 1000 / (3 * args.windows)
    print(
        f"per window of {args.rows} rows: estimate {per * est_time[0]:.1f} ms CPU / {per * est_time[1]:.1f} ms wall; "
        f"bare reference (realised metrics from labels, scikit-learn) {per * real_time[0]:.1f} ms CPU / "
        f"{per * real_time[1]:.1f} ms wall"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-rows", type=int, default=20_000)
    parser.add_argument("--windows", type=int, default=50)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default="binary,multiclass,regression")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = clock()
    print(f"{args.windows} windows of {args.rows} rows per regime; error = estimated - realised; MAE = mean |error|")
    print("over windows; bias = mean error")
    for kind in args.kinds.split(","):
        run_kind(kind.strip(), args, rng)
    cpu, wall = since(start)
    print(f"\n(total {cpu:.1f} s CPU, {wall:.1f} s wall)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
