"""Performance metrics registered by name per task type, computed with scikit-learn.

A metric is a small :class:`Metric` subclass registered with :func:`register_metric` for one or more task
types and looked up with :func:`get_metric`. Point values come from scikit-learn; each metric also has a
vectorised :meth:`Metric.batch` form (many weighted resamples at once) used by the bootstrap intervals
and the segment permutation tests, checked against scikit-learn in the tests.

Inputs are first turned into a :class:`Prepared` window by :func:`prepare`: labels normalised as strings
(see :mod:`watchkeeper.performance.labels`), rows with a missing/unexpected true label or a missing
prediction dropped and counted. A metric that cannot be computed on a window (``roc_auc`` with one class,
``precision`` without predicted positives) has value ``None`` and a ``reason``; it never raises.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from sklearn import metrics as skm

from watchkeeper.config import TaskType
from watchkeeper.exceptions import DataError, UnknownNameError
from watchkeeper.performance.labels import (
    known_classes,
    normalize_labels,
    positive_name,
    sorted_labels,
    task_type,
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

BINARY = TaskType.BINARY_CLASSIFICATION
MULTICLASS = TaskType.MULTICLASS_CLASSIFICATION
REGRESSION = TaskType.REGRESSION


@dataclass(frozen=True)
class MetricValue:
    """One metric on one window: ``value`` (``None`` when undefined), ``n`` the number of observations in
    its denominator (rows; actual positives for recall; predicted positives for precision; rows with a
    non-zero true value for MAPE), and ``reason``: why the value is ``None``, or what was left out."""

    value: float | None
    n: int
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"value": self.value, "n": self.n, "reason": self.reason}


@dataclass(frozen=True, eq=False)
class Prepared:
    """A window ready for scoring: aligned arrays of the usable rows only.

    Classification: ``y_true`` / ``y_pred`` are integer codes -- binary: 1 for the positive label, else 0;
    multiclass: the index in ``classes`` (a predicted label outside ``classes`` gets ``len(classes)``).
    Regression: float arrays. ``y_score`` (binary only) holds the positive-class score, NaN where missing.
    ``excluded`` counts the dropped rows by reason; ``kept`` marks the input rows that were kept.
    """

    task: TaskType
    y_true: NDArray[Any]
    y_pred: NDArray[Any]
    y_score: FloatArray | None
    classes: tuple[str, ...]
    positive_label: str
    n_input: int
    excluded: dict[str, int] = field(default_factory=dict)
    kept: BoolArray | None = None

    @property
    def n(self) -> int:
        """Number of usable rows."""
        return int(self.y_true.size)

    @property
    def score_ok(self) -> BoolArray:
        """Rows with a finite score (all ``False`` without scores)."""
        if self.y_score is None:
            return np.zeros(self.n, dtype=bool)
        return np.isfinite(self.y_score)

    @cached_property
    def score_groups_ascending(self) -> tuple[Any, Any]:
        """Sparse ``(groups, n)`` indicators of the positives and of the negatives in each group of tied
        scores, groups by increasing score (rows without a score belong to none). Built once per window."""
        return self._score_groups(descending=False)

    @cached_property
    def score_groups_descending(self) -> tuple[Any, Any]:
        """As :attr:`score_groups_ascending`, groups by decreasing score."""
        return self._score_groups(descending=True)

    def _score_groups(self, *, descending: bool) -> tuple[Any, Any]:
        if self.y_score is None:
            raise ValueError("the window has no scores")
        rows = np.flatnonzero(self.score_ok)
        scores = self.y_score[rows]
        order = np.argsort(-scores if descending else scores, kind="stable")
        ordered = scores[order]
        starts = np.r_[True, ordered[1:] != ordered[:-1]] if ordered.size else np.zeros(0, dtype=bool)
        group = np.empty(rows.size, dtype=np.intp)
        group[order] = np.cumsum(starts) - 1
        n_groups = int(starts.sum())
        truth = self.y_true[rows].astype(np.float64)
        shape = (n_groups, self.n)
        return (
            sparse.csr_matrix((truth, (group, rows)), shape=shape),
            sparse.csr_matrix((1.0 - truth, (group, rows)), shape=shape),
        )

    def subset(self, rows: BoolArray | NDArray[np.intp]) -> Prepared:
        """The same window restricted to ``rows`` (a mask or indices)."""
        score = None if self.y_score is None else self.y_score[rows]
        return Prepared(
            self.task, self.y_true[rows], self.y_pred[rows], score, self.classes, self.positive_label, self.n_input
        )


def _as_object_array(values: ArrayLike | pd.Series, name: str) -> NDArray[Any]:
    array = values.to_numpy(dtype=object) if isinstance(values, pd.Series) else np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _as_numbers(values: ArrayLike | pd.Series) -> FloatArray:
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    numbers: FloatArray = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return numbers


def prepare(
    task: str,
    y_true: ArrayLike | pd.Series,
    y_pred: ArrayLike | pd.Series,
    y_score: ArrayLike | pd.Series | None = None,
    *,
    positive_label: Any = "1",
    classes: Iterable[Any] | None = None,
) -> Prepared:
    """Normalise and align one window; drop (and count) rows that cannot be scored.

    Dropped: a missing true label; a true label outside the known classes (see
    :func:`~watchkeeper.performance.labels.known_classes`); a missing prediction; for regression, a true
    value or prediction that is not a finite number. A missing score only removes the row from the
    score-based metrics. Raises :class:`DataError` when the inputs have different lengths.
    """
    kind = task_type(task)
    lengths = {"y_true": len(y_true), "y_pred": len(y_pred)}  # type: ignore[arg-type]
    if y_score is not None:
        lengths["y_score"] = len(y_score)  # type: ignore[arg-type]
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k} has {v} rows" for k, v in lengths.items())
        raise DataError(f"inputs are not aligned: {listed} -- pass one value per labelled prediction")
    n_input = lengths["y_true"]
    if kind is REGRESSION:
        truth, pred = _as_numbers(y_true), _as_numbers(y_pred)
        bad_true, bad_pred = ~np.isfinite(truth), ~np.isfinite(pred)
        keep = ~bad_true & ~bad_pred
        excluded = _excluded(
            {"missing or non-numeric label": bad_true, "missing or non-numeric prediction": bad_pred & ~bad_true}
        )
        return Prepared(kind, truth[keep], pred[keep], None, (), "", n_input, excluded, keep)
    positive = positive_name(positive_label) if kind is BINARY else ""
    known = known_classes(kind, positive_label if kind is BINARY else "1", classes)
    t_lab = normalize_labels(_as_object_array(y_true, "y_true"))
    p_lab = normalize_labels(_as_object_array(y_pred, "y_pred"))
    t_missing = t_lab == None  # noqa: E711 -- elementwise on an object array
    p_missing = p_lab == None  # noqa: E711
    unexpected = np.zeros(n_input, dtype=bool)
    if known is not None:
        unexpected = ~t_missing & ~pd.Series(t_lab, dtype=object).isin(known).to_numpy()
    keep = ~t_missing & ~unexpected & ~p_missing
    excluded = _excluded(
        {"missing label": t_missing, "unexpected label": unexpected, "missing prediction": p_missing & ~t_missing}
    )
    t_lab, p_lab = t_lab[keep], p_lab[keep]
    score = None
    if y_score is not None and kind is BINARY:
        score = _as_numbers(y_score)[keep]
    if kind is BINARY:
        negative = next((c for c in known if c != positive), "<other>") if known else "<other>"
        return Prepared(
            kind,
            (t_lab == positive).astype(np.int8),
            (p_lab == positive).astype(np.int8),
            score,
            (negative, positive),
            positive,
            n_input,
            excluded,
            keep,
        )
    names = known if known is not None else sorted_labels([*t_lab.tolist(), *p_lab.tolist()])
    index = pd.Index(names, dtype=object)
    t_codes = index.get_indexer(t_lab)
    p_codes = index.get_indexer(p_lab)
    p_codes[p_codes < 0] = len(names)  # a predicted class the config does not know: always wrong
    return Prepared(kind, t_codes.astype(np.int64), p_codes.astype(np.int64), None, names, "", n_input, excluded, keep)


def _excluded(masks: dict[str, BoolArray]) -> dict[str, int]:
    return {reason: int(mask.sum()) for reason, mask in masks.items() if mask.any()}


# --------------------------------------------------------------------------- registry


class Metric:
    """Base of metrics. Subclasses set the class attributes and implement :meth:`compute` and :meth:`batch`."""

    #: Registry key and result name (``recall[<class>]`` instances carry their class in the name).
    name: str
    #: Task types the metric is registered for.
    tasks: ClassVar[frozenset[TaskType]]
    #: ``True`` for accuracy-like, ``False`` for error-like metrics, ``None`` when neither (positive_rate).
    higher_is_better: ClassVar[bool | None] = True
    #: A share of a count (hits / eligible rows): gets a Wilson interval and a two-proportion z test.
    proportion: ClassVar[bool] = False
    #: Needs the positive-class score (``y_score``).
    needs_score: ClassVar[bool] = False
    #: One line for docs and messages.
    description: ClassVar[str]
    #: What the metric's ``n`` counts (its denominator), for messages.
    denominator: ClassVar[str] = "labelled rows"

    def compute(self, data: Prepared) -> MetricValue:
        """The metric on the window, with scikit-learn."""
        raise NotImplementedError

    def batch(self, data: Prepared, weights: FloatArray) -> FloatArray:
        """The metric on ``B`` weighted copies of the window at once: ``weights`` has shape ``(B, n)``
        (bootstrap counts, or 0/1 segment memberships). NaN where undefined."""
        raise NotImplementedError

    def parts(self, data: Prepared) -> tuple[BoolArray, BoolArray]:
        """Proportion metrics: per row, whether it is a hit and whether it is in the denominator."""
        raise NotImplementedError(f"{self.name} is not a proportion metric")


_REGISTRY: dict[TaskType, dict[str, Metric]] = {t: {} for t in TaskType}
_M = TypeVar("_M", bound=type[Metric])
_PER_CLASS_RE = re.compile(r"^(?P<base>[a-z_0-9]+)\[(?P<label>.*)\]$")


def register_metric(cls: _M) -> _M:
    """Class decorator: register one instance of ``cls`` under ``cls.name`` for each of ``cls.tasks``."""
    for task in cls.tasks:
        if cls.name in _REGISTRY[task]:
            existing = type(_REGISTRY[task][cls.name]).__name__
            raise ValueError(f"a {task.value} metric named {cls.name!r} is already registered ({existing})")
    instance = cls()
    for task in cls.tasks:
        _REGISTRY[task][cls.name] = instance
    return cls


def available_metrics(task: str) -> list[str]:
    """Sorted names of the metrics of ``task``; per-class metrics appear as ``recall[<class>]``."""
    return sorted(_REGISTRY[task_type(task)])


def get_metric(task: str, name: str) -> Metric:
    """The metric ``name`` of ``task`` (``recall[<class>]`` for a per-class metric); :class:`UnknownNameError`
    lists the available ones."""
    kind = task_type(task)
    registry = _REGISTRY[kind]
    if name in registry and not name.endswith("[<class>]"):
        return registry[name]
    match = _PER_CLASS_RE.match(name)
    if match is not None:
        family = registry.get(f"{match.group('base')}[<class>]")
        if isinstance(family, PerClassMetric):
            return family.for_class(match.group("label"))
    raise UnknownNameError(
        f"No {kind.value} metric named {name!r}. Available metrics: {', '.join(available_metrics(kind))}"
    )


def metric_info(name: str, task: str | None = None) -> Metric:
    """The metric ``name`` of ``task``, or of any task when ``task`` is None (a name means the same metric,
    with the same direction, in every task that has it); :class:`UnknownNameError` lists the names."""
    if task is not None:
        return get_metric(task, name)
    for kind in TaskType:
        try:
            return get_metric(kind, name)
        except UnknownNameError:
            continue
    names = sorted({n for registry in _REGISTRY.values() for n in registry})
    raise UnknownNameError(f"No metric named {name!r}. Available metrics: {', '.join(names)}")


def default_metrics(data: Prepared) -> list[Metric]:
    """Every metric of the window's task: per-class metrics for each class, score metrics only with scores."""
    out: list[Metric] = []
    for name in available_metrics(data.task):
        metric = _REGISTRY[data.task][name]
        if metric.needs_score and data.y_score is None:
            continue
        if isinstance(metric, PerClassMetric):
            out.extend(metric.for_class(label) for label in data.classes)
        else:
            out.append(metric)
    return out


def resolve_metrics(data: Prepared, names: Sequence[str] | None) -> list[Metric]:
    """The metrics called ``names`` (all of :func:`default_metrics` when ``None``)."""
    if names is None:
        return default_metrics(data)
    return [get_metric(data.task, name) for name in names]


def compute_metrics(
    task: str,
    y_true: ArrayLike | pd.Series,
    y_pred: ArrayLike | pd.Series,
    y_score: ArrayLike | pd.Series | None = None,
    *,
    positive_label: Any = "1",
    classes: Iterable[Any] | None = None,
    metrics: Sequence[str] | None = None,
) -> dict[str, MetricValue]:
    """Metrics of one window, keyed by name (``metrics=None``: every metric of the task; score-based ones
    only when ``y_score`` is given). See :func:`prepare` for the rows that are left out."""
    data = prepare(task, y_true, y_pred, y_score, positive_label=positive_label, classes=classes)
    return compute_prepared(data, resolve_metrics(data, metrics))


def compute_prepared(data: Prepared, metrics: Sequence[Metric]) -> dict[str, MetricValue]:
    """:meth:`Metric.compute` of each metric on an already prepared window."""
    return {metric.name: metric.compute(data) for metric in metrics}


# --------------------------------------------------------------------------- helpers


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return out


def _weighted_share(weights: FloatArray, hits: BoolArray, eligible: BoolArray) -> FloatArray:
    return _ratio(weights @ (hits & eligible).astype(np.float64), weights @ eligible.astype(np.float64))


def _sk(func: Any, *args: Any, **kwargs: Any) -> float:
    with warnings.catch_warnings():  # undefined cases are handled before the call; silence the rest
        warnings.simplefilter("ignore")
        return float(func(*args, **kwargs))


class _Proportion(Metric):
    """hits / eligible rows; the point value comes from scikit-learn via :meth:`sklearn_value`."""

    proportion = True
    empty_reason: ClassVar[str] = "no labelled rows in window"

    def sklearn_value(self, data: Prepared) -> float:
        raise NotImplementedError

    def compute(self, data: Prepared) -> MetricValue:
        hits, eligible = self.parts(data)
        n = int(eligible.sum())
        if n == 0:
            return MetricValue(None, 0, self.empty_reason)
        return MetricValue(self.sklearn_value(data), n)

    def batch(self, data: Prepared, weights: FloatArray) -> FloatArray:
        hits, eligible = self.parts(data)
        return _weighted_share(weights, hits, eligible)


# --------------------------------------------------------------------------- classification


@register_metric
class Accuracy(_Proportion):
    """Share of correct predictions."""

    name = "accuracy"
    tasks = frozenset({BINARY, MULTICLASS})
    description = "Share of rows whose predicted label equals the true label (sklearn accuracy_score)."

    def parts(self, data: Prepared) -> tuple[BoolArray, BoolArray]:
        return data.y_true == data.y_pred, np.ones(data.n, dtype=bool)

    def sklearn_value(self, data: Prepared) -> float:
        return _sk(skm.accuracy_score, data.y_true, data.y_pred)


@register_metric
class Precision(_Proportion):
    """Share of predicted positives that are positive."""

    name = "precision"
    tasks = frozenset({BINARY})
    description = "TP / (TP + FP): share of predicted positives that are positive (sklearn precision_score)."
    empty_reason = "no predicted positives in window"
    denominator = "predicted positives"

    def parts(self, data: Prepared) -> tuple[BoolArray, BoolArray]:
        return data.y_true == 1, data.y_pred == 1

    def sklearn_value(self, data: Prepared) -> float:
        return _sk(skm.precision_score, data.y_true, data.y_pred, pos_label=1, zero_division=0.0)


@register_metric
class Recall(_Proportion):
    """Share of actual positives predicted positive."""

    name = "recall"
    tasks = frozenset({BINARY})
    description = "TP / (TP + FN): share of actual positives predicted positive (sklearn recall_score)."
    empty_reason = "no actual positives in window"
    denominator = "actual positives"

    def parts(self, data: Prepared) -> tuple[BoolArray, BoolArray]:
        return data.y_pred == 1, data.y_true == 1

    def sklearn_value(self, data: Prepared) -> float:
        return _sk(skm.recall_score, data.y_true, data.y_pred, pos_label=1, zero_division=0.0)


@register_metric
class PositiveRate(_Proportion):
    """Share of rows predicted positive."""

    name = "positive_rate"
    tasks = frozenset({BINARY})
    higher_is_better = None
    description = "Share of rows predicted positive (no better direction; from sklearn confusion_matrix)."

    def parts(self, data: Prepared) -> tuple[BoolArray, BoolArray]:
        return data.y_pred == 1, np.ones(data.n, dtype=bool)

    def sklearn_value(self, data: Prepared) -> float:
        matrix = skm.confusion_matrix(data.y_true, data.y_pred, labels=[0, 1])
        return float(matrix[:, 1].sum() / matrix.sum())


@register_metric
class F1(Metric):
    """Harmonic mean of precision and recall."""

    name = "f1"
    tasks = frozenset({BINARY})
    description = "2TP / (2TP + FP + FN), the harmonic mean of precision and recall (sklearn f1_score)."

    def compute(self, data: Prepared) -> MetricValue:
        if not ((data.y_true == 1) | (data.y_pred == 1)).any():
            return MetricValue(None, data.n, "no actual or predicted positives in window")
        return MetricValue(_sk(skm.f1_score, data.y_true, data.y_pred, pos_label=1, zero_division=0.0), data.n)

    def batch(self, data: Prepared, weights: FloatArray) -> FloatArray:
        t, p = data.y_true == 1, data.y_pred == 1
        tp = weights @ (t & p).astype(np.float64)
        return _ratio(2 * tp, weights @ t.astype(np.float64) + weights @ p.astype(np.float64))


def _score_rows(data: Prepared) -> tuple[NDArray[Any], FloatArray, str | None]:
    """Labels and scores of the rows with a finite score, and a note on the rows left out."""
    ok = data.score_ok
    assert data.y_score is not None  # score metrics are only resolved with scores
    dropped = data.n - int(ok.sum())
    note = f"{dropped} rows without a score excluded" if dropped else None
    return data.y_true[ok], data.y_score[ok], note


class _ScoreMetric(Metric):
    needs_score = True
    denominator = "labelled rows with a score"

    def check(self, data: Prepared) -> tuple[NDArray[Any], FloatArray, MetricValue | None]:
        """Labels and scores, or the undefined value to return."""
        if data.y_score is None:
            return data.y_true[:0], np.empty(0), MetricValue(None, 0, "needs scores (y_score)")
        t, s, note = _score_rows(data)
        if t.size == 0:
            return t, s, MetricValue(None, 0, "no rows with a score in window")
        return t, s, None


def _group_sums(groups: tuple[Any, Any], weights: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Weighted positives and negatives per group of tied scores: two ``(B, groups)`` arrays."""
    positives, negatives = groups
    pos: FloatArray = np.asarray(positives @ weights.T).T
    neg: FloatArray = np.asarray(negatives @ weights.T).T
    return pos, neg


@register_metric
class RocAuc(_ScoreMetric):
    """Area under the ROC curve of the positive-class score."""

    name = "roc_auc"
    tasks = frozenset({BINARY})
    description = "Area under the ROC curve of the score; ties count one half (sklearn roc_auc_score)."

    def compute(self, data: Prepared) -> MetricValue:
        t, s, undefined = self.check(data)
        if undefined is not None:
            return undefined
        if np.unique(t).size < 2:
            return MetricValue(None, int(t.size), "only one class in window")
        return MetricValue(_sk(skm.roc_auc_score, t, s), int(t.size), _score_rows(data)[2])

    def batch(self, data: Prepared, weights: FloatArray) -> FloatArray:
        pos, neg = _group_sums(data.score_groups_ascending, weights)
        below = np.cumsum(neg, axis=1) - neg  # negatives with a strictly lower score
        num = (pos * (below + 0.5 * neg)).sum(axis=1)
        return _ratio(num, pos.sum(axis=1) * neg.sum(axis=1))


@register_metric
class PrAuc(_ScoreMetric):
    """Average precision (area under the precision-recall curve, step-wise)."""

    name = "pr_auc"
    tasks = frozenset({BINARY})
    description = (
        "Average precision: sum over thresholds of precision x recall increase (sklearn average_precision_score)."
    )

    def compute(self, data: Prepared) -> MetricValue:
        t, s, undefined = self.check(data)
        if undefined is not None:
            return undefined
        if not (t == 1).any():
            return MetricValue(None, int(t.size), "no actual positives in window")
        return MetricValue(_sk(skm.average_precision_score, t, s, pos_label=1), int(t.size), _score_rows(data)[2])

    def batch(self, data: Prepared, weights: FloatArray) -> FloatArray:
        tp, fp = _group_sums(data.score_groups_descending, weights)
        cum_tp = np.cumsum(tp, axis=1)
        precision = _ratio(cum_tp, cum_tp + np.cumsum(fp, axis=1))
        contribution = np.where(tp > 0, tp * np.nan_to_num(precision), 0.0)
        return _ratio(contribution.sum(axis=1), tp.sum(axis=1))


class _ProbabilityLoss(_ScoreMetric):
    """Mean per-row loss of a probability; needs scores in [0, 1]."""

    higher_is_better = False

    def row_loss(self, t: FloatArray, s: FloatArray) -> FloatArray:
        raise NotImplementedError

    def sklearn_value(self, t: NDArray[Any], s: FloatArray) -> float:
        raise NotImplementedError

    def compute(self, data: Prepared) -> MetricValue:
        t, s, undefined = self.check(data)
        if undefined is not None:
            return undefined
        if s.min() < 0 or s.max() > 1:
            return MetricValue(None, int(t.size), "scores are not probabilities (outside [0, 1])")
        return MetricValue(self.sklearn_value(t, s), int(t.size), _score_rows(data)[2])

    def batch(self, data: Prepared, weights: FloatArray) -> FloatArray:
        ok = data.score_ok
        assert data.y_score is not None
        s = data.y_score[ok]
        if s.size and (s.min() < 0 or s.max() > 1):
            return np.full(weights.shape[0], np.nan)
        loss = np.zeros(data.n)
        loss[ok] = self.row_loss(data.y_true[ok].astype(np.float64), s)
        return _ratio(weights @ loss, weights @ ok.astype(np.float64))


@register_metric
class LogLoss(_ProbabilityLoss):
    """Mean negative log-likelihood of the true labels under the scores."""

    name = "log_loss"
    tasks = frozenset({BINARY})
    description = "Mean -log(probability of the true label), scores clipped to [eps, 1-eps] (sklearn log_loss)."

    def row_loss(self, t: FloatArray, s: FloatArray) -> FloatArray:
        eps = np.finfo(np.float64).eps  # the clipping sklearn applies
        clipped = np.clip(s, eps, 1 - eps)
        loss: FloatArray = -(t * np.log(clipped) + (1 - t) * np.log(1 - clipped))
        return loss

    def sklearn_value(self, t: NDArray[Any], s: FloatArray) -> float:
        return _sk(skm.log_loss, t, s, labels=[0, 1])


@register_metric
class Brier(_ProbabilityLoss):
    """Mean squared error of the positive-class probability."""

    name = "brier"
    tasks = frozenset({BINARY})
    description = "Mean (score - label)^2 (sklearn brier_score_loss)."

    def row_loss(self, t: FloatArray, s: FloatArray) -> FloatArray:
        loss: FloatArray = (s - t) ** 2
        return loss

    def sklearn_value(self, t: NDArray[Any], s: FloatArray) -> float:
        return _sk(skm.brier_score_loss, t, s, labels=[0, 1])


def _class_counts(data: Prepared, weights: FloatArray, k: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weighted true positives, support and predicted count of class code ``k``."""
    t, p = data.y_true == k, data.y_pred == k
    return (
        weights @ (t & p).astype(np.float64),
        weights @ t.astype(np.float64),
        weights @ p.astype(np.float64),
    )


def _multiclass_f1(data: Prepared, weights: FloatArray, *, weighted: bool) -> FloatArray:
    num = np.zeros(weights.shape[0])
    den = np.zeros(weights.shape[0])
    for k in range(len(data.classes)):
        tp, support, predicted = _class_counts(data, weights, k)
        f1 = np.nan_to_num(_ratio(2 * tp, support + predicted))
        present = (support + predicted) > 0  # sklearn averages over the labels present in y_true or y_pred
        factor = support if weighted else present.astype(np.float64)
        num += factor * f1
        den += factor
    return _ratio(num, den)


def _present_labels(data: Prepared) -> list[int]:
    codes = np.union1d(data.y_true, data.y_pred)
    return [int(c) for c in codes if c < len(data.classes)]


@register_metric
class MacroF1(Metric):
    """Unweighted mean of the per-class F1 scores."""

    name = "macro_f1"
    tasks = frozenset({MULTICLASS})
    description = "Mean of the per-class F1 over the classes present in the window (sklearn f1_score, macro)."

    def compute(self, data: Prepared) -> MetricValue:
        if data.n == 0:
            return MetricValue(None, 0, "no labelled rows in window")
        labels = _present_labels(data)
        value = _sk(skm.f1_score, data.y_true, data.y_pred, labels=labels, average="macro", zero_division=0.0)
        return MetricValue(value, data.n)

    def batch(self, data: Prepared, weights: FloatArray) -> FloatArray:
        return _multiclass_f1(data, weights, weighted=False)


@register_metric
class WeightedF1(Metric):
    """Mean of the per-class F1 scores weighted by class support."""

    name = "weighted_f1"
    tasks = frozenset({MULTICLASS})
    description = "Mean of the per-class F1 weighted by each class's true count (sklearn f1_score, weighted)."

    def compute(self, data: Prepared) -> MetricValue:
        if data.n == 0:
            return MetricValue(None, 0, "no labelled rows in window")
        labels = _present_labels(data)
        value = _sk(skm.f1_score, data.y_true, data.y_pred, labels=labels, average="weighted", zero_division=0.0)
        return MetricValue(value, data.n)

    def batch(self, data: Prepared, weights: FloatArray) -> FloatArray:
        return _multiclass_f1(data, weights, weighted=True)


class PerClassMetric(Metric):
    """A family of metrics, one per class, registered as ``<base>[<class>]``; :meth:`for_class` makes one."""

    def for_class(self, label: str) -> Metric:
        """The member of the family for class ``label``."""
        raise NotImplementedError


@register_metric
class ClassRecall(_Proportion, PerClassMetric):
    """Recall of one class (share of its rows predicted as it), as ``recall[<class>]``."""

    name = "recall[<class>]"
    tasks = frozenset({MULTICLASS})
    description = "Per class: share of the class's rows predicted as the class (sklearn recall_score)."
    denominator = "rows of the class"

    def __init__(self, label: str | None = None) -> None:
        self.label = label
        if label is not None:
            self.name = f"recall[{label}]"

    def for_class(self, label: str) -> Metric:
        return ClassRecall(label)

    def _code(self, data: Prepared) -> int:
        return data.classes.index(self.label) if self.label in data.classes else -1

    def parts(self, data: Prepared) -> tuple[BoolArray, BoolArray]:
        code = self._code(data)
        return data.y_pred == code, data.y_true == code

    def compute(self, data: Prepared) -> MetricValue:
        if self.label is None:
            raise ValueError("recall[<class>] is a family -- call for_class(label) first")
        if self._code(data) < 0 or not (data.y_true == self._code(data)).any():
            return MetricValue(None, 0, f"class {self.label!r} absent from window")
        return super().compute(data)

    def sklearn_value(self, data: Prepared) -> float:
        code = self._code(data)
        return _sk(skm.recall_score, data.y_true, data.y_pred, labels=[code], average="macro", zero_division=0.0)


# --------------------------------------------------------------------------- regression


class _MeanLoss(Metric):
    """Mean of a per-row loss over eligible rows (all rows unless :meth:`eligible` says otherwise)."""

    higher_is_better = False

    def row_loss(self, data: Prepared) -> FloatArray:
        raise NotImplementedError

    def eligible(self, data: Prepared) -> BoolArray:
        return np.ones(data.n, dtype=bool)

    def finish(self, mean_loss: FloatArray) -> FloatArray:
        return mean_loss

    def batch(self, data: Prepared, weights: FloatArray) -> FloatArray:
        eligible = self.eligible(data)
        loss = np.where(eligible, self.row_loss(data), 0.0)
        return self.finish(_ratio(weights @ loss, weights @ eligible.astype(np.float64)))


@register_metric
class MAE(_MeanLoss):
    """Mean absolute error."""

    name = "mae"
    tasks = frozenset({REGRESSION})
    description = "Mean |y_true - y_pred| (sklearn mean_absolute_error)."

    def row_loss(self, data: Prepared) -> FloatArray:
        loss: FloatArray = np.abs(data.y_true - data.y_pred)
        return loss

    def compute(self, data: Prepared) -> MetricValue:
        if data.n == 0:
            return MetricValue(None, 0, "no labelled rows in window")
        return MetricValue(_sk(skm.mean_absolute_error, data.y_true, data.y_pred), data.n)


@register_metric
class RMSE(_MeanLoss):
    """Root mean squared error."""

    name = "rmse"
    tasks = frozenset({REGRESSION})
    description = "Square root of the mean (y_true - y_pred)^2 (sklearn root_mean_squared_error)."

    def row_loss(self, data: Prepared) -> FloatArray:
        loss: FloatArray = (data.y_true - data.y_pred) ** 2
        return loss

    def finish(self, mean_loss: FloatArray) -> FloatArray:
        return np.sqrt(mean_loss)

    def compute(self, data: Prepared) -> MetricValue:
        if data.n == 0:
            return MetricValue(None, 0, "no labelled rows in window")
        return MetricValue(_sk(skm.root_mean_squared_error, data.y_true, data.y_pred), data.n)


@register_metric
class MAPE(_MeanLoss):
    """Mean absolute percentage error, as a fraction, over rows whose true value is not zero."""

    name = "mape"
    tasks = frozenset({REGRESSION})
    description = (
        "Mean |y_true - y_pred| / |y_true| as a fraction (0.1 = 10 %) over rows with y_true != 0; rows with "
        "y_true == 0 are left out and counted in the reason (sklearn mean_absolute_percentage_error)."
    )

    denominator = "labelled rows with a non-zero true value"

    def eligible(self, data: Prepared) -> BoolArray:
        nonzero: BoolArray = data.y_true != 0
        return nonzero

    def row_loss(self, data: Prepared) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            loss: FloatArray = np.abs(data.y_true - data.y_pred) / np.abs(data.y_true)
        return loss

    def compute(self, data: Prepared) -> MetricValue:
        if data.n == 0:
            return MetricValue(None, 0, "no labelled rows in window")
        eligible = self.eligible(data)
        n = int(eligible.sum())
        zeros = data.n - n
        if n == 0:
            return MetricValue(None, 0, f"every true value is 0 ({zeros} rows): MAPE is undefined")
        note = f"{zeros} rows with true value 0 excluded" if zeros else None
        value = _sk(skm.mean_absolute_percentage_error, data.y_true[eligible], data.y_pred[eligible])
        return MetricValue(value, n, note)


@register_metric
class R2(Metric):
    """Coefficient of determination."""

    name = "r2"
    tasks = frozenset({REGRESSION})
    description = "1 - SS_res / SS_tot; undefined when y_true is constant in the window (sklearn r2_score)."

    def compute(self, data: Prepared) -> MetricValue:
        if data.n < 2:
            return MetricValue(None, data.n, "fewer than 2 labelled rows in window")
        if np.ptp(data.y_true) == 0:
            return MetricValue(None, data.n, "true values are constant in window")
        return MetricValue(_sk(skm.r2_score, data.y_true, data.y_pred), data.n)

    def batch(self, data: Prepared, weights: FloatArray) -> FloatArray:
        t, p = data.y_true, data.y_pred
        total = weights.sum(axis=1)
        mean_t = _ratio(weights @ t, total)
        ss_tot = weights @ (t**2) - total * mean_t**2
        ss_res = weights @ ((t - p) ** 2)
        scale = np.maximum(np.abs(weights @ (t**2)), 1e-300)
        defined = ss_tot > 1e-12 * scale  # a resample of identical true values has no variance to explain
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(defined, 1.0 - ss_res / np.where(defined, ss_tot, 1.0), np.nan)
