"""Checks of a multiclass model's per-class probabilities (``predictions.scores``), row by row.

A row is *checked* when it has a finite value in every probability column. It is *out of range* when
one of them lies outside [0, 1], and *off* when their sum differs from 1 by more than the tolerance
(``prediction_checks.probability_tolerance``). Rows with a missing probability are counted apart
(``incomplete``): the per-column quality checks already report nulls. The counts are mergeable, so the
window profile folds them batch by batch and the quality family turns them into findings
(:func:`watchkeeper.profile.families.probability_results`); ``watchkeeper validate`` runs the same
count on the reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

#: Default tolerance on ``|sum of the class probabilities - 1|``.
DEFAULT_TOLERANCE = 0.01


def probability_matrix(df: pd.DataFrame, columns: Sequence[str]) -> NDArray[np.float64] | None:
    """Rows x columns of the probability columns present in ``df`` (non-numbers as NaN); None if one is absent."""
    if not columns or any(c not in df.columns for c in columns):
        return None
    out = np.empty((len(df), len(columns)), dtype=np.float64)
    for j, column in enumerate(columns):
        out[:, j] = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return out


@dataclass
class ProbabilityCounts:
    """Counts of rows whose class probabilities are out of [0, 1] or do not sum to 1 (see the module docstring)."""

    tolerance: float = DEFAULT_TOLERANCE
    checked: int = 0
    incomplete: int = 0
    out_of_range: int = 0
    off: int = 0
    #: Largest ``|sum - 1|`` seen among checked rows.
    worst_sum_error: float = 0.0

    def add(self, matrix: NDArray[np.float64]) -> None:
        """Fold a rows x classes probability matrix in."""
        if matrix.size == 0:
            return
        complete = np.isfinite(matrix).all(axis=1)
        self.incomplete += int(matrix.shape[0] - np.count_nonzero(complete))
        rows = matrix[complete]
        if not rows.shape[0]:
            return
        self.checked += int(rows.shape[0])
        self.out_of_range += int(np.count_nonzero(((rows < 0.0) | (rows > 1.0)).any(axis=1)))
        error = np.abs(rows.sum(axis=1) - 1.0)
        self.off += int(np.count_nonzero(error > self.tolerance))
        self.worst_sum_error = max(self.worst_sum_error, float(error.max()))

    def add_frame(self, df: pd.DataFrame, columns: Sequence[str]) -> None:
        """Fold the probability columns of one batch in (a batch lacking one of them is not counted)."""
        matrix = probability_matrix(df, columns)
        if matrix is not None:
            self.add(matrix)

    def merge(self, other: ProbabilityCounts) -> ProbabilityCounts:
        """Counts of both (the tolerance of ``self``)."""
        return ProbabilityCounts(
            self.tolerance,
            self.checked + other.checked,
            self.incomplete + other.incomplete,
            self.out_of_range + other.out_of_range,
            self.off + other.off,
            max(self.worst_sum_error, other.worst_sum_error),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with the window profile)."""
        return {
            "tolerance": self.tolerance,
            "checked": self.checked,
            "incomplete": self.incomplete,
            "out_of_range": self.out_of_range,
            "off": self.off,
            "worst_sum_error": self.worst_sum_error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbabilityCounts:
        """Inverse of :meth:`to_dict`."""
        return cls(
            float(data.get("tolerance", DEFAULT_TOLERANCE)),
            int(data.get("checked", 0)),
            int(data.get("incomplete", 0)),
            int(data.get("out_of_range", 0)),
            int(data.get("off", 0)),
            float(data.get("worst_sum_error", 0.0)),
        )
