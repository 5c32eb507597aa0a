"""Estimated accuracy and macro-F1 of a multiclass classifier from its per-class probabilities (multiclass CBPE).

Each class's probability is calibrated one-vs-rest on the reference (a :class:`~watchkeeper.performance.
estimation.Calibrator` per class: isotonic, or Platt on a small reference) and the calibrated row is
renormalised to sum to 1. With ``c[i, k]`` the calibrated probability that row ``i`` is of class ``k`` and
``pred[i]`` its predicted class, the expected confusion counts of class ``k`` are TP = sum of ``c[i, k]`` over
rows predicted ``k``, FP = sum of ``1 - c[i, k]`` over them, FN = sum of ``c[i, k]`` over the other rows.
Estimated accuracy is the mean of ``c[i, pred[i]]`` (exact in expectation); macro-F1 the mean over classes of
``2 TP / (2 TP + FP + FN)``. Like the binary case it follows covariate shift and is blind to concept drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from watchkeeper.exceptions import BaselineError, DataError
from watchkeeper.performance.estimation import Calibrator
from watchkeeper.performance.labels import normalize_label, normalize_labels
from watchkeeper.performance.metrics import FloatArray

#: Names of the estimates.
ESTIMATED_MULTICLASS = ("estimated_accuracy", "estimated_macro_f1")
#: Tolerance on the sum of a row's probabilities before it counts as not summing to 1.
SUM_TOLERANCE = 0.02


def probabilities(df: pd.DataFrame, columns: Sequence[str]) -> FloatArray:
    """The per-class probability matrix (rows x classes) of ``df``; non-numbers are NaN."""
    out = np.full((len(df), len(columns)), np.nan)
    for j, column in enumerate(columns):
        if column in df.columns:
            out[:, j] = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def predicted_index(classes: Sequence[str], y_pred: Any | None, probs: FloatArray) -> NDArray[np.int64]:
    """Index of each row's predicted class in ``classes``: from the predictions when given (-1 for a label
    outside the classes or missing), else the most probable class."""
    if y_pred is None:
        filled = np.where(np.isnan(probs), -np.inf, probs)
        out: NDArray[np.int64] = np.argmax(filled, axis=1).astype(np.int64)
        return out
    labels = normalize_labels(y_pred if isinstance(y_pred, pd.Series) else np.asarray(y_pred, dtype=object))
    codes = {c: i for i, c in enumerate(classes)}
    return np.array([codes.get(label, -1) if label is not None else -1 for label in labels], dtype=np.int64)


@dataclass(frozen=True)
class MulticlassCalibrator:
    """One-vs-rest calibrators, one per class, in the order of ``classes``."""

    classes: tuple[str, ...]
    calibrators: tuple[Calibrator, ...]
    notes: tuple[str, ...] = ()

    @classmethod
    def fit(cls, probs: FloatArray, labels: Any, classes: Sequence[Any]) -> MulticlassCalibrator:
        """Fit on the reference's probability matrix and true labels (classes as in the config's ``scores``).

        Rows with a missing label or probability are ignored. :class:`DataError` when a class never occurs
        (it cannot be calibrated) or fewer than two rows remain.
        """
        names = tuple(normalize_label(c) or str(c) for c in classes)
        truth = normalize_labels(labels if isinstance(labels, pd.Series) else np.asarray(labels, dtype=object))
        keep = (truth != None) & np.isfinite(probs).all(axis=1)  # noqa: E711 -- elementwise on an object array
        notes = []
        extra = sorted({str(t) for t in truth[keep]} - set(names))
        if extra:
            notes.append(
                f"reference labels {extra} have no probability column in predictions.scores: their rows count as "
                "a negative of every listed class"
            )
        missing = [c for c in names if not np.any(truth[keep] == c)]
        if missing:
            raise DataError(
                f"class(es) {missing} never occur among the {int(keep.sum())} labelled reference rows -- they cannot "
                "be calibrated; add reference rows of every class"
            )
        calibrators = tuple(Calibrator.fit(probs[keep, k], truth[keep], positive_label=c) for k, c in enumerate(names))
        return cls(names, calibrators, tuple(notes))

    def predict(self, probs: FloatArray) -> FloatArray:
        """Calibrated probabilities, each row renormalised to sum to 1 (NaN rows stay NaN)."""
        out = np.column_stack([cal.predict(probs[:, k]) for k, cal in enumerate(self.calibrators)])
        total = out.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            normalised: FloatArray = np.where(total > 0, out / total, 1.0 / len(self.classes))
        normalised[np.isnan(out).any(axis=1)] = np.nan
        return normalised

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, to store with the baseline."""
        return {
            "classes": list(self.classes),
            "calibrators": [c.to_dict() for c in self.calibrators],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MulticlassCalibrator:
        """Inverse of :meth:`to_dict`; :class:`BaselineError` when the dict is not one."""
        try:
            classes = tuple(str(c) for c in data["classes"])
            calibrators = tuple(Calibrator.from_dict(c) for c in data["calibrators"])
        except (KeyError, TypeError) as exc:
            raise BaselineError(
                f"stored multiclass calibrator is incomplete ({exc!r}) -- rebuild the baseline"
            ) from exc
        if len(classes) != len(calibrators):
            raise BaselineError(
                "stored multiclass calibrator has a calibrator per class missing -- rebuild the baseline"
            )
        return cls(classes, calibrators, tuple(data.get("notes") or ()))


@dataclass
class MulticlassAccumulator:
    """Running expected confusion counts over a window's batches (mergeable)."""

    calibrator: MulticlassCalibrator
    n: int = 0
    correct: float = 0.0
    tp: FloatArray = field(default_factory=lambda: np.zeros(0))
    fp: FloatArray = field(default_factory=lambda: np.zeros(0))
    fn: FloatArray = field(default_factory=lambda: np.zeros(0))
    dropped: int = 0
    off_sum: int = 0
    out_of_range: int = 0

    def __post_init__(self) -> None:
        k = len(self.calibrator.classes)
        for name in ("tp", "fp", "fn"):
            if getattr(self, name).size != k:
                setattr(self, name, np.zeros(k))

    def update(self, probs: FloatArray, y_pred: Any | None = None) -> None:
        """Add one batch: its probability matrix and predicted labels (None: the most probable class)."""
        finite = np.isfinite(probs).all(axis=1)
        self.dropped += int((~finite).sum())
        raw = probs[finite]
        self.out_of_range += int(((raw < 0) | (raw > 1)).any(axis=1).sum())
        self.off_sum += int((np.abs(raw.sum(axis=1) - 1) > SUM_TOLERANCE).sum())
        pred = predicted_index(
            self.calibrator.classes, None if y_pred is None else np.asarray(y_pred, dtype=object)[finite], raw
        )
        c = self.calibrator.predict(np.clip(raw, 0.0, 1.0))
        k = len(self.calibrator.classes)
        onehot = np.zeros((len(pred), k))
        known = pred >= 0
        onehot[np.flatnonzero(known), pred[known]] = 1.0
        self.n += len(pred)
        self.correct += float((c * onehot).sum())
        self.tp += (c * onehot).sum(axis=0)
        self.fp += ((1 - c) * onehot).sum(axis=0)
        self.fn += (c * (1 - onehot)).sum(axis=0)

    def merge(self, other: MulticlassAccumulator) -> None:
        """Add another accumulator of the same window."""
        self.n += other.n
        self.correct += other.correct
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        self.dropped += other.dropped
        self.off_sum += other.off_sum
        self.out_of_range += other.out_of_range

    def estimates(self) -> dict[str, float | None]:
        """``estimated_accuracy`` and ``estimated_macro_f1`` (None without rows)."""
        if self.n == 0:
            return dict.fromkeys(ESTIMATED_MULTICLASS)
        denominator = 2 * self.tp + self.fp + self.fn
        present = denominator > 1e-12
        f1 = 2 * self.tp[present] / denominator[present]
        return {
            "estimated_accuracy": self.correct / self.n,
            "estimated_macro_f1": float(f1.mean()) if f1.size else None,
        }

    def notes(self) -> list[str]:
        """What was left out or looked wrong in the window's probabilities."""
        out = []
        if self.dropped:
            out.append(f"{self.dropped} row(s) without a probability for every class were left out")
        if self.out_of_range:
            out.append(f"{self.out_of_range} row(s) have a probability outside [0, 1] (clipped)")
        if self.off_sum:
            out.append(f"{self.off_sum} row(s) have probabilities that do not sum to 1 (beyond {SUM_TOLERANCE})")
        return out


def estimate_multiclass(
    calibrator: MulticlassCalibrator, probs: FloatArray, y_pred: Any | None = None
) -> dict[str, float | None]:
    """Estimated accuracy and macro-F1 of one window (all at once)."""
    acc = MulticlassAccumulator(calibrator)
    acc.update(probs, y_pred)
    return acc.estimates()
