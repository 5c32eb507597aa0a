"""Estimated performance of a binary classifier while its labels are pending (confidence-based, CBPE-like).

A :class:`Calibrator` maps the model's score to the probability that the row is positive. It is fitted
once on the reference data (scores and labels) -- isotonic regression, or Platt scaling when the
reference is small -- and stored with the baseline as plain JSON (:meth:`Calibrator.to_dict`).

For a window without labels, :func:`estimate_performance` treats each calibrated probability ``c`` as
the chance that the row is positive and computes the **expected confusion matrix**: a predicted
positive adds ``c`` to TP and ``1 - c`` to FP, a predicted negative ``c`` to FN and ``1 - c`` to TN.
Accuracy is its exact expectation; precision, recall and F1 are the ratios of expected counts
(precision is also exact, since the number of predicted positives is known). The expected ROC AUC uses
the calibrated probabilities as soft labels: each row counts as a positive with weight ``c`` and as a
negative with weight ``1 - c`` (sklearn ``roc_auc_score`` with sample weights), ranked by the raw score.

The estimate stays right when the *score distribution* moves (covariate shift) as long as the
calibration holds. It cannot see **concept drift** -- when the same score no longer means the same
probability of being positive -- because it never sees a label: use it as an early signal, and judge on
realised metrics once labels arrive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from watchkeeper.exceptions import BaselineError, DataError
from watchkeeper.performance.labels import normalize_labels, positive_name
from watchkeeper.performance.metrics import FloatArray

#: References with fewer usable rows than this get Platt scaling instead of isotonic regression.
DEFAULT_MIN_ISOTONIC = 500
ISOTONIC = "isotonic"
PLATT = "platt"
#: Names of the estimates returned by :func:`estimate_performance`.
ESTIMATED_METRICS = (
    "estimated_accuracy",
    "estimated_precision",
    "estimated_recall",
    "estimated_f1",
    "estimated_roc_auc",
)
_EPS = 1e-6  # probabilities are clipped to [eps, 1 - eps] before the logit of Platt scaling


def _numbers(values: ArrayLike | pd.Series) -> FloatArray:
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    out: FloatArray = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return out


@dataclass(frozen=True)
class Calibrator:
    """Score -> probability of the positive class, fitted on reference data; JSON-serialisable.

    ``isotonic``: piecewise-linear interpolation through ``(x, y)`` (the fitted isotonic thresholds),
    clipped at both ends. ``platt``: ``sigmoid(coef * f(score) + intercept)``, ``f`` the logit when the
    reference scores are probabilities (``feature == "logit"``), else the raw score.
    """

    method: str
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    coef: float = 0.0
    intercept: float = 0.0
    feature: str = "raw"
    n: int = 0
    positive_rate: float = 0.0

    @classmethod
    def fit(
        cls,
        ref_scores: ArrayLike | pd.Series,
        ref_labels: ArrayLike | pd.Series,
        *,
        positive_label: Any = "1",
        min_isotonic: int = DEFAULT_MIN_ISOTONIC,
    ) -> Calibrator:
        """Fit on the reference: isotonic regression with at least ``min_isotonic`` usable rows, else Platt.

        Rows with a missing score or label are ignored; :class:`DataError` when fewer than two rows remain
        or the reference has a single class.
        """
        scores = _numbers(ref_scores)
        labels = normalize_labels(ref_labels if isinstance(ref_labels, pd.Series) else np.asarray(ref_labels))
        if scores.size != labels.size:
            raise DataError(f"reference scores have {scores.size} rows but labels {labels.size} -- pass aligned arrays")
        keep = np.isfinite(scores) & (labels != None)  # noqa: E711 -- elementwise on an object array
        scores = scores[keep]
        target = (labels[keep] == positive_name(positive_label)).astype(np.float64)
        if scores.size < 2 or target.min() == target.max():
            raise DataError(
                f"cannot calibrate on {scores.size} reference rows with {int(target.sum())} positives -- the "
                "reference needs scores and labels of both classes"
            )
        rate = float(target.mean())
        if scores.size >= min_isotonic:
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, target)
            return cls(
                ISOTONIC,
                x=tuple(float(v) for v in iso.X_thresholds_),
                y=tuple(float(v) for v in iso.y_thresholds_),
                n=int(scores.size),
                positive_rate=rate,
            )
        feature = "logit" if scores.min() >= 0 and scores.max() <= 1 else "raw"
        model = LogisticRegression(C=1e6, max_iter=1000).fit(_feature(scores, feature)[:, None], target)
        return cls(
            PLATT,
            coef=float(model.coef_[0, 0]),
            intercept=float(model.intercept_[0]),
            feature=feature,
            n=int(scores.size),
            positive_rate=rate,
        )

    def predict(self, scores: ArrayLike | pd.Series) -> FloatArray:
        """Calibrated probability of the positive class for each score (NaN for a missing score)."""
        values = _numbers(scores)
        if self.method == ISOTONIC:
            out: FloatArray = np.interp(values, np.asarray(self.x), np.asarray(self.y))
            return out
        probability: FloatArray = expit(self.coef * _feature(values, self.feature) + self.intercept)
        return probability

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, to store with the baseline."""
        data: dict[str, Any] = {"method": self.method, "n": self.n, "positive_rate": self.positive_rate}
        if self.method == ISOTONIC:
            data.update({"x": list(self.x), "y": list(self.y)})
        else:
            data.update({"coef": self.coef, "intercept": self.intercept, "feature": self.feature})
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """Rebuild a calibrator from :meth:`to_dict`; :class:`BaselineError` when the dict is not one."""
        method = data.get("method")
        needed = {ISOTONIC: ("x", "y"), PLATT: ("coef", "intercept", "feature")}.get(str(method))
        if needed is None:
            raise BaselineError(
                f"stored calibrator has method {method!r}; expected {ISOTONIC!r} or {PLATT!r} -- rebuild the baseline"
            )
        missing = [key for key in needed if key not in data]
        if missing:
            raise BaselineError(f"stored {method} calibrator lacks {missing} -- rebuild the baseline")
        common = {"n": int(data.get("n", 0)), "positive_rate": float(data.get("positive_rate", 0.0))}
        if method == ISOTONIC:
            x, y = tuple(map(float, data["x"])), tuple(map(float, data["y"]))
            if len(x) != len(y) or not x:
                raise BaselineError(
                    "stored isotonic calibrator has x and y of different lengths -- rebuild the baseline"
                )
            return cls(ISOTONIC, x=x, y=y, **common)  # type: ignore[arg-type]
        return cls(
            PLATT,
            coef=float(data["coef"]),
            intercept=float(data["intercept"]),
            feature=str(data["feature"]),
            **common,  # type: ignore[arg-type]
        )


def _feature(scores: FloatArray, feature: str) -> FloatArray:
    if feature == "logit":
        out: FloatArray = logit(np.clip(scores, _EPS, 1 - _EPS))
        return out
    return scores


def estimate_performance(
    calibrator: Calibrator,
    scores: ArrayLike | pd.Series,
    y_pred: ArrayLike | pd.Series | None = None,
    threshold: float = 0.5,
    *,
    positive_label: Any = "1",
) -> dict[str, float | None]:
    """Expected accuracy, precision, recall, F1 and ROC AUC of a window without labels.

    Predicted positives are ``y_pred == positive_label`` when predictions are given, else
    ``score >= threshold``. Rows with a missing score (or prediction) are ignored. An estimate is ``None``
    when undefined (no predicted positives for precision; no rows).
    """
    s = _numbers(scores)
    keep = np.isfinite(s)
    if y_pred is None:
        predicted = s >= threshold
    else:
        labels = normalize_labels(y_pred if isinstance(y_pred, pd.Series) else np.asarray(y_pred, dtype=object))
        if labels.size != s.size:
            raise DataError(f"scores have {s.size} rows but y_pred {labels.size} -- pass aligned arrays")
        keep &= labels != None  # noqa: E711
        predicted = labels == positive_name(positive_label)
    s, predicted = s[keep], np.asarray(predicted[keep], dtype=bool)
    out: dict[str, float | None] = dict.fromkeys(ESTIMATED_METRICS)
    if s.size == 0:
        return out
    c = calibrator.predict(s)
    tp, fp = float(c[predicted].sum()), float((1 - c[predicted]).sum())
    fn, tn = float(c[~predicted].sum()), float((1 - c[~predicted]).sum())
    out["estimated_accuracy"] = (tp + tn) / s.size
    out["estimated_precision"] = tp / (tp + fp) if predicted.any() else None
    out["estimated_recall"] = tp / (tp + fn) if tp + fn > 0 else None
    out["estimated_f1"] = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn > 0 else None
    positives, negatives = float(c.sum()), float((1 - c).sum())
    if positives > 0 and negatives > 0:
        soft_labels = np.r_[np.ones(s.size), np.zeros(s.size)]
        auc = roc_auc_score(soft_labels, np.r_[s, s], sample_weight=np.r_[c, 1 - c])
        out["estimated_roc_auc"] = float(auc) if math.isfinite(auc) else None
    return out


#: Score bins of the streaming ROC AUC estimate (rows in one bin count as ties).
AUC_BINS = 1000


def auc_edges(ref_scores: ArrayLike | pd.Series, bins: int = AUC_BINS) -> FloatArray:
    """Bin edges for :class:`BinaryAccumulator`: the reference scores' quantiles (unique)."""
    s = _numbers(ref_scores)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    edges: FloatArray = np.unique(np.quantile(s, np.linspace(0.0, 1.0, bins + 1)))
    return edges


@dataclass
class BinaryAccumulator:
    """Running expected confusion matrix and score histogram of a window's batches (mergeable).

    The same estimates as :func:`estimate_performance`, in one pass over batches with a fixed-size state:
    the ROC AUC from soft labels summed per score bin (``edges``; rows in the same bin count as ties, which
    moves the estimate by well under 0.001 with the reference's 1,000 quantile bins).
    """

    calibrator: Calibrator
    edges: FloatArray
    positive_label: Any = "1"
    threshold: float = 0.5
    n: int = 0
    tp: float = 0.0
    fp: float = 0.0
    fn: float = 0.0
    tn: float = 0.0
    predicted_positive: int = 0
    pos_bins: FloatArray | None = None
    neg_bins: FloatArray | None = None

    def __post_init__(self) -> None:
        if self.pos_bins is None or self.neg_bins is None:
            self.pos_bins = np.zeros(self.edges.size + 1)
            self.neg_bins = np.zeros(self.edges.size + 1)

    def update(self, scores: ArrayLike | pd.Series, y_pred: ArrayLike | pd.Series | None = None) -> None:
        """Add one batch: scores, and predicted labels (None: ``score >= threshold`` is positive)."""
        s = _numbers(scores)
        keep = np.isfinite(s)
        if y_pred is None:
            predicted = s >= self.threshold
        else:
            labels = normalize_labels(y_pred if isinstance(y_pred, pd.Series) else np.asarray(y_pred, dtype=object))
            if labels.size != s.size:
                raise DataError(f"scores have {s.size} rows but y_pred {labels.size} -- pass aligned arrays")
            keep &= labels != None  # noqa: E711
            predicted = labels == positive_name(self.positive_label)
        s, predicted = s[keep], np.asarray(predicted[keep], dtype=bool)
        c = self.calibrator.predict(s)
        self.n += int(s.size)
        self.predicted_positive += int(predicted.sum())
        self.tp += float(c[predicted].sum())
        self.fp += float((1 - c[predicted]).sum())
        self.fn += float(c[~predicted].sum())
        self.tn += float((1 - c[~predicted]).sum())
        bins = np.searchsorted(self.edges, s, side="right")
        assert self.pos_bins is not None and self.neg_bins is not None
        self.pos_bins += np.bincount(bins, weights=c, minlength=self.pos_bins.size)
        self.neg_bins += np.bincount(bins, weights=1 - c, minlength=self.neg_bins.size)

    def merge(self, other: BinaryAccumulator) -> None:
        """Add another accumulator of the same window (same calibrator and edges)."""
        assert self.pos_bins is not None and self.neg_bins is not None
        assert other.pos_bins is not None and other.neg_bins is not None
        self.n += other.n
        self.predicted_positive += other.predicted_positive
        self.tp, self.fp, self.fn, self.tn = (
            self.tp + other.tp,
            self.fp + other.fp,
            self.fn + other.fn,
            self.tn + other.tn,
        )
        self.pos_bins = self.pos_bins + other.pos_bins
        self.neg_bins = self.neg_bins + other.neg_bins

    def estimates(self) -> dict[str, float | None]:
        """The ``estimated_*`` metrics of :data:`ESTIMATED_METRICS` (None when undefined)."""
        out: dict[str, float | None] = dict.fromkeys(ESTIMATED_METRICS)
        if self.n == 0:
            return out
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        out["estimated_accuracy"] = (tp + tn) / self.n
        out["estimated_precision"] = tp / (tp + fp) if self.predicted_positive else None
        out["estimated_recall"] = tp / (tp + fn) if tp + fn > 0 else None
        out["estimated_f1"] = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn > 0 else None
        assert self.pos_bins is not None and self.neg_bins is not None
        positives, negatives = float(self.pos_bins.sum()), float(self.neg_bins.sum())
        if positives > 0 and negatives > 0:
            below = np.cumsum(self.neg_bins) - self.neg_bins  # negatives in lower bins
            auc = float((self.pos_bins * (below + 0.5 * self.neg_bins)).sum()) / (positives * negatives)
            out["estimated_roc_auc"] = auc
        return out
