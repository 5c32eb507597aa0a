"""Segment findings: which values of which columns have clearly worse performance than the rest.

For every value of every segment column, the metric is computed on the segment and on the **rest** (all
other labelled rows), and a one-sided test asks whether the segment is worse than the rest:

- proportion metrics (``accuracy``, ``precision``, ``recall``, ``recall[<class>]``): a pooled
  **two-proportion z test** with continuity correction on the metric's own denominator (rows for
  accuracy, predicted positives for precision, actual positives for recall, the class's rows for a
  class recall);
- other metrics (``f1``, ``roc_auc``, ``pr_auc``, ``log_loss``, ``brier``, ``macro_f1``, ``weighted_f1``,
  ``mae``, ``rmse``, ``mape``, ``r2``): a **Monte Carlo permutation test** -- the statistic is how much
  worse the segment is than the rest, recomputed on random pseudo-segments of the same size (seeded).
  It runs sequentially (Besag & Clifford 1991): it stops once :data:`STOP_AFTER` permuted statistics
  reach the observed one (``p = STOP_AFTER / permutations``), else goes on to ``max_perm``
  (``p = (exceedances + 1) / (max_perm + 1)``). Both are valid p-values with no assumption on the loss
  distribution. ``max_perm`` defaults to ``max(1000, 4 x tests / alpha)`` so that the smallest p-value
  clears Holm's first threshold ``alpha / tests``. Ordinary segments stop after a few dozen
  permutations; a clearly bad one costs ``max_perm x rows``.

Segments whose effective size (the metric's denominator: actual positives for recall...) is below
``min_n``, or whose rest is, are reported as skipped: not tested and not counted in the correction.
The p-values of all tested segments of all columns together are adjusted with **Holm-Bonferroni**, which
keeps the family-wise error rate at ``alpha`` under any dependence between the tests; a segment is a
finding when its adjusted p-value is at most ``alpha``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from watchkeeper.config import TaskType
from watchkeeper.drift.profile import category_label
from watchkeeper.exceptions import ConfigError, DataError
from watchkeeper.performance.metrics import (
    BoolArray,
    FloatArray,
    Metric,
    MetricValue,
    Prepared,
    get_metric,
    prepare,
)
from watchkeeper.results import CheckResult, Status

#: The metric compared across segments when none is configured.
DEFAULT_SEGMENT_METRIC = {
    TaskType.BINARY_CLASSIFICATION: "recall",
    TaskType.MULTICLASS_CLASSIFICATION: "macro_f1",
    TaskType.REGRESSION: "mae",
}
DEFAULT_MIN_N = 30
DEFAULT_ALPHA = 0.05
#: Lower bound of the automatic ``max_perm``.
MIN_MAX_PERM = 1000
#: A sequential permutation test stops after this many permuted statistics reach the observed one.
STOP_AFTER = 10
_FIRST_CHUNK = 64
#: Label of the segment of rows whose segment column is missing.
MISSING_SEGMENT = "<missing>"
_CHUNK_CELLS = 1 << 22
Z_TEST = "two-proportion z"
PERMUTATION = "permutation"


@dataclass(frozen=True)
class SegmentResult:
    """One segment (``column == value``) compared with the rest of the window.

    ``n`` is the segment's labelled rows and ``n_effective`` the observations in the metric's denominator
    (actual positives for recall...). ``metric_value`` is the segment's metric, ``rest`` the metric on the
    other rows, ``overall`` on all rows. Skipped segments have ``skipped=True``, no p-values, and the
    reason in ``message``.
    """

    column: str
    value: str
    metric: str
    n: int
    n_effective: int
    metric_value: float | None
    overall: float | None
    rest: float | None
    p_value: float | None
    p_adjusted: float | None
    is_finding: bool
    skipped: bool
    test: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        """``column=value``, the subject of the result row."""
        return f"{self.column}={self.value}"

    def as_check_result(self) -> CheckResult:
        """A ``performance`` result row, metric ``segment_<metric>``, subject ``column=value``: ``warning``
        for a finding, ``ok`` when tested, ``skipped`` when too small."""
        status = Status.SKIPPED if self.skipped else Status.WARNING if self.is_finding else Status.OK
        details = {
            "n": self.n,
            "n_effective": self.n_effective,
            "overall": self.overall,
            "rest": self.rest,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "test": self.test,
            **self.details,
        }
        return CheckResult(
            "performance",
            f"segment_{self.metric}",
            self.subject,
            self.metric_value,
            None,
            status,
            self.message,
            details,
        )


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def two_proportion_p_value(hits_a: int, n_a: int, hits_b: int, n_b: int, *, higher_is_better: bool) -> float:
    """One-sided pooled z test, with continuity correction, that proportion ``a`` is worse than ``b``
    (lower when higher is better).

    The correction (``(1/n_a + 1/n_b) / 2`` taken off the difference) matters: at the small levels a Holm
    correction over many segments uses (e.g. 0.05 / 20), the uncorrected test rejects ~1.5x too often
    for a segment of 80 rows at a proportion of 0.75.
    """
    pooled = (hits_a + hits_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 1.0  # both all hits or all misses: no evidence of a difference
    difference = hits_a / n_a - hits_b / n_b
    correction = 0.5 * (1 / n_a + 1 / n_b)
    if higher_is_better:
        return float(stats.norm.cdf((difference + correction) / se))
    return float(stats.norm.sf((difference - correction) / se))


def _segment_codes(values: pd.Series) -> tuple[np.ndarray[Any, Any], list[str]]:
    codes, uniques = pd.factorize(values, use_na_sentinel=True, sort=False)
    labels = [category_label(u) for u in uniques]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(MISSING_SEGMENT)
    return codes, labels


def _worse(metric: Metric, segment: FloatArray, rest: FloatArray) -> FloatArray:
    """How much worse the segment is than the rest (positive = worse), in the metric's direction."""
    result: FloatArray = rest - segment if metric.higher_is_better else segment - rest
    return result


def _random_members(n: int, size: int, count: int, rng: np.random.Generator) -> FloatArray:
    """``count`` rows of 0/1 weights, each marking a uniformly random subset of ``size`` of ``n`` rows."""
    small = min(size, n - size)  # draw the smaller side: Floyd's algorithm costs O(size), not O(n)
    weights = np.zeros((count, n)) if small == size else np.ones((count, n))
    for row in range(count):
        weights[row, rng.choice(n, size=small, replace=False)] = 1.0 if small == size else 0.0
    return weights


@dataclass(frozen=True)
class PermutationTest:
    """Outcome of :func:`permutation_test`: how much worse the segment is than the rest (``observed``), the
    p-value, the permutations run and how many of them were at least as bad as the observed split."""

    observed: float
    p_value: float
    permutations: int
    exceedances: int


def permutation_test(
    data: Prepared, metric: Metric, member: BoolArray, *, max_perm: int, rng: np.random.Generator
) -> PermutationTest:
    """Sequential Monte Carlo permutation test that the segment ``member`` is worse than the rest on ``metric``
    (see the module docstring). Permuted splits on which the metric is undefined are not counted."""
    size = int(member.sum())
    observed_w = member[None, :].astype(np.float64)
    observed = float(_worse(metric, metric.batch(data, observed_w), metric.batch(data, 1 - observed_w))[0])
    tolerance = 1e-12 * max(1.0, abs(observed))
    cap = max(1, _CHUNK_CELLS // max(data.n, 1))
    done = exceedances = 0
    chunk = min(_FIRST_CHUNK, cap)
    while done < max_perm:
        weights = _random_members(data.n, size, min(chunk, max_perm - done), rng)
        permuted = _worse(metric, metric.batch(data, weights), metric.batch(data, 1 - weights))
        defined = np.isfinite(permuted)
        worse = np.flatnonzero(permuted[defined] >= observed - tolerance)
        if exceedances + worse.size >= STOP_AFTER:  # stop at the STOP_AFTER-th exceedance
            used = int(worse[STOP_AFTER - exceedances - 1]) + 1
            return PermutationTest(observed, STOP_AFTER / (done + used), done + used, STOP_AFTER)
        exceedances += int(worse.size)
        done += int(defined.sum())
        if not defined.any():
            break  # the metric is undefined on pseudo-segments of this size
        chunk = min(chunk * 2, cap)
    return PermutationTest(observed, (exceedances + 1) / (done + 1), done, exceedances)


def segment_findings(
    df: pd.DataFrame,
    segment_columns: Iterable[str],
    *,
    task: str,
    metric: str | None = None,
    y_true_col: str,
    y_pred_col: str,
    y_score_col: str | None = None,
    min_n: int = DEFAULT_MIN_N,
    alpha: float = DEFAULT_ALPHA,
    positive_label: Any = "1",
    classes: Iterable[Any] | None = None,
    max_perm: int | None = None,
    seed: int = 0,
) -> list[SegmentResult]:
    """Segments of ``df`` (labelled rows of one window) whose ``metric`` is clearly worse than the rest.

    Returns one result per segment value of each column (tested or skipped), columns in the given order,
    values in order of appearance. ``metric`` defaults to recall / macro_f1 / mae by task.
    """
    columns = list(segment_columns)
    needed = [c for c in [y_true_col, y_pred_col, y_score_col, *columns] if c is not None]
    missing = [c for c in dict.fromkeys(needed) if c not in df.columns]
    if missing:
        raise DataError(f"segment data has no column(s) {missing} -- available: {', '.join(map(str, df.columns))}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha={alpha!r} is outside (0, 1) -- use e.g. 0.05")
    if min_n < 1:
        raise ConfigError(f"min_n={min_n!r} -- use at least 1 (default {DEFAULT_MIN_N})")
    if max_perm is not None and max_perm < 1:
        raise ConfigError(f"max_perm={max_perm!r} -- use at least 1, or None for the automatic choice")
    data = prepare(
        task,
        df[y_true_col],
        df[y_pred_col],
        None if y_score_col is None else df[y_score_col],
        positive_label=positive_label,
        classes=classes,
    )
    name = metric if metric is not None else DEFAULT_SEGMENT_METRIC[data.task]
    judged = get_metric(data.task, name)
    if judged.higher_is_better is None:
        raise ConfigError(
            f"metric {name!r} has no better direction, so no segment can be worse -- "
            f"compare segments on e.g. {DEFAULT_SEGMENT_METRIC[data.task]!r}"
        )
    if judged.needs_score and data.y_score is None:
        raise ConfigError(f"metric {name!r} needs scores -- pass y_score_col")
    overall = judged.compute(data).value
    parts = judged.parts(data) if judged.proportion else None
    assert data.kept is not None  # prepare always sets it
    pending: list[dict[str, Any]] = []
    to_permute: list[tuple[int, BoolArray, np.random.Generator]] = []
    for column_index, column in enumerate(columns):
        codes, labels = _segment_codes(df[column][data.kept].reset_index(drop=True))
        for code, label in enumerate(labels):
            member = codes == code
            row = _describe_segment(data, judged, column, label, member, parts=parts, overall=overall, min_n=min_n)
            if not row["skipped"] and row["p_value"] is None:
                to_permute.append((len(pending), member, np.random.default_rng([seed, column_index, code])))
            pending.append(row)
    tested = [i for i, row in enumerate(pending) if not row["skipped"]]
    limit = max_perm if max_perm is not None else max(MIN_MAX_PERM, math.ceil(4 * len(tested) / alpha))
    for i, member, rng in to_permute:
        test = permutation_test(data, judged, member, max_perm=limit, rng=rng)
        pending[i]["p_value"] = test.p_value
        pending[i]["details"].update(
            {"worse_by": test.observed, "permutations": test.permutations, "exceedances": test.exceedances}
        )
    adjusted = holm_adjust([pending[i]["p_value"] for i in tested])
    for i, p_adj in zip(tested, adjusted, strict=True):
        pending[i]["p_adjusted"] = p_adj
        pending[i]["is_finding"] = p_adj <= alpha
    return [_finish(row, alpha, len(tested)) for row in pending]


def _describe_segment(
    data: Prepared,
    metric: Metric,
    column: str,
    label: str,
    member: BoolArray,
    *,
    parts: tuple[BoolArray, BoolArray] | None,
    overall: float | None,
    min_n: int,
) -> dict[str, Any]:
    """The segment's values and whether it is tested; proportion metrics also get their z test here."""
    seg_hits = rest_hits = 0
    if parts is not None:  # a proportion: counts are enough, no need to slice the window per segment
        seg_hits, seg_value = _share(parts, member, metric.denominator)
        rest_hits, rest_value = _share(parts, ~member, metric.denominator)
    else:
        seg_value, rest_value = metric.compute(data.subset(member)), metric.compute(data.subset(~member))
    row: dict[str, Any] = {
        "column": column,
        "value": label,
        "metric": metric.name,
        "n": int(member.sum()),
        "n_effective": seg_value.n,
        "metric_value": seg_value.value,
        "overall": overall,
        "rest": rest_value.value,
        "p_value": None,
        "p_adjusted": None,
        "is_finding": False,
        "skipped": True,
        "test": Z_TEST if metric.proportion else PERMUTATION,
        "details": {"n_rest_effective": rest_value.n},
    }
    if seg_value.value is None or rest_value.value is None:
        reason = seg_value.reason if seg_value.value is None else f"the rest: {rest_value.reason}"
        row["reason"] = f"undefined ({reason})"
    elif seg_value.n < min_n:
        row["reason"] = f"only {seg_value.n} {metric.denominator} (< min_n {min_n})"
    elif rest_value.n < min_n:
        row["reason"] = f"only {rest_value.n} {metric.denominator} outside the segment (< min_n {min_n})"
    elif parts is not None:
        row["p_value"] = two_proportion_p_value(
            seg_hits, seg_value.n, rest_hits, rest_value.n, higher_is_better=bool(metric.higher_is_better)
        )
        row["skipped"] = False
    else:
        row["skipped"] = False  # permutation test to follow, once the number of tests is known
    return row


def _share(parts: tuple[BoolArray, BoolArray], rows: BoolArray, denominator: str) -> tuple[int, MetricValue]:
    """Hits among the eligible ``rows`` of a proportion metric, and the metric's value on them."""
    hits, eligible = parts
    n = int((eligible & rows).sum())
    count = int((hits & eligible & rows).sum())
    return count, MetricValue(count / n if n else None, n, None if n else f"no {denominator}")


def _finish(row: dict[str, Any], alpha: float, tests: int) -> SegmentResult:
    head = f"{row['metric']} for {row['column']}={row['value']}"
    if row["skipped"]:
        message = f"{head} not tested: {row.pop('reason')}"
    else:
        message = f"{head} is {row['metric_value']:.2f} vs {_fmt(row['overall'])} overall (n={row['n']})"
        if row["is_finding"]:
            message += f", worse than the rest ({_fmt(row['rest'])}; Holm-adjusted p={row['p_adjusted']:.2g})"
    row["details"].update({"alpha": alpha, "tests": tests})
    return SegmentResult(message=message, **row)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
