"""Confidence intervals of performance metrics: Wilson for proportions, a vectorised bootstrap for the rest.

- Proportion metrics (``accuracy``, ``precision``, ``recall``, ``positive_rate``, ``recall[<class>]``)
  get the analytic **Wilson score interval** on their own denominator (rows, predicted positives, actual
  positives, the class's rows). It keeps its coverage near 0 and 1, where the normal interval does not.
- Every other metric gets a **percentile bootstrap**: ``n_boot`` resamples of the window's rows, drawn
  once per call as index matrices (seeded) and shared by all metrics; each metric is evaluated on all
  resamples at once as a weighted sum (:meth:`~watchkeeper.performance.metrics.Metric.batch`). Resamples
  on which a metric is undefined (no positives drawn) are ignored; when more than half are undefined the
  interval is ``(None, None)``. Memory is bounded by processing the resamples in chunks.

An undefined metric value gets ``(None, None)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from watchkeeper.exceptions import ConfigError
from watchkeeper.performance.metrics import FloatArray, Metric, MetricValue, Prepared, prepare, resolve_metrics

#: A confidence interval ``(low, high)``; ``(None, None)`` when it cannot be computed.
Interval = tuple[float | None, float | None]

DEFAULT_LEVEL = 0.95
DEFAULT_N_BOOT = 200
#: Below this share of defined resamples a bootstrap interval is not reported.
MIN_DEFINED_SHARE = 0.5
#: Cells of one chunk of the (resamples x rows) weight matrix: 4M float64 = 32 MB.
_CHUNK_CELLS = 1 << 22

_UNDEFINED: Interval = (None, None)


def check_level(level: float) -> float:
    """``level`` if it is a usable confidence level; :class:`ConfigError` otherwise."""
    if not 0.5 <= level < 1:
        raise ConfigError(f"confidence level {level!r} is outside [0.5, 1) -- use e.g. 0.95")
    return float(level)


def wilson_interval(hits: int, n: int, level: float = DEFAULT_LEVEL) -> Interval:
    """Wilson score interval of the proportion ``hits / n`` (``(None, None)`` when ``n`` is 0)."""
    if n <= 0:
        return _UNDEFINED
    z = float(stats.norm.ppf(0.5 + check_level(level) / 2))
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_weights(n: int, n_boot: int, seed: int) -> Iterator[FloatArray]:
    """Chunks of the ``(n_boot, n)`` bootstrap count matrix: row ``b`` holds how often each row was drawn in
    resample ``b``. The index matrices are drawn once, from one seeded generator, in chunk order."""
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK_CELLS // max(n, 1))
    for start in range(0, n_boot, per_chunk):
        b = min(per_chunk, n_boot - start)
        index = rng.integers(0, n, size=(b, n))
        flat = (index + np.arange(b)[:, None] * n).ravel()
        yield np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def bootstrap_values(data: Prepared, metrics: Sequence[Metric], *, n_boot: int, seed: int) -> FloatArray:
    """Each metric on each bootstrap resample: shape ``(n_boot, len(metrics))``, NaN where undefined."""
    if n_boot < 1:
        raise ConfigError(f"n_boot={n_boot} -- use at least 1 resample (default {DEFAULT_N_BOOT})")
    if data.n == 0 or not metrics:
        return np.full((n_boot, len(metrics)), np.nan)
    parts = [
        np.column_stack([metric.batch(data, weights) for metric in metrics])
        for weights in bootstrap_weights(data.n, n_boot, seed)
    ]
    return np.vstack(parts)


def percentile_interval(values: FloatArray, level: float) -> Interval:
    """Percentile interval of the finite ``values`` (``(None, None)`` when too few are finite)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.size < MIN_DEFINED_SHARE * values.size:
        return _UNDEFINED
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return (float(low), float(high))


def prepared_intervals(
    data: Prepared,
    metrics: Sequence[Metric],
    values: dict[str, MetricValue],
    *,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
) -> dict[str, Interval]:
    """Intervals of ``metrics`` on a prepared window whose point ``values`` are already computed."""
    level = check_level(level)
    out: dict[str, Interval] = {}
    resampled: list[Metric] = []
    for metric in metrics:
        if values[metric.name].value is None:
            out[metric.name] = _UNDEFINED
        elif metric.proportion:
            hits, eligible = metric.parts(data)
            out[metric.name] = wilson_interval(int((hits & eligible).sum()), int(eligible.sum()), level)
        else:
            resampled.append(metric)
    if resampled:
        matrix = bootstrap_values(data, resampled, n_boot=n_boot, seed=seed)
        for j, metric in enumerate(resampled):
            out[metric.name] = percentile_interval(matrix[:, j], level)
    return {metric.name: out[metric.name] for metric in metrics}


def confidence_intervals(
    task: str,
    y_true: ArrayLike | pd.Series,
    y_pred: ArrayLike | pd.Series,
    y_score: ArrayLike | pd.Series | None = None,
    metrics: Sequence[str] | None = None,
    *,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    positive_label: Any = "1",
    classes: Iterable[Any] | None = None,
) -> dict[str, Interval]:
    """``(low, high)`` at confidence ``level`` for each metric (all metrics of the task when ``None``)."""
    data = prepare(task, y_true, y_pred, y_score, positive_label=positive_label, classes=classes)
    resolved = resolve_metrics(data, metrics)
    values = {metric.name: metric.compute(data) for metric in resolved}
    return prepared_intervals(data, resolved, values, level=level, n_boot=n_boot, seed=seed)
