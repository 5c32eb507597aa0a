"""Label normalisation and validation: how true and predicted labels are compared, and which rows are usable.

Classification labels are compared as **strings** after :func:`normalize_label`:

- ``None``, NaN, ``pd.NA`` and the empty string (also ``"nan"``, ``"null"``, ``"none"``, ``"na"``, ``"n/a"``,
  ``"<na>"``, any case) are *missing*;
- booleans become ``"1"`` / ``"0"``, and so do the strings ``"true"`` / ``"false"`` (any case);
- numbers holding whole values lose their fraction: ``1``, ``1.0``, ``np.int64(1)``, ``"1.0"`` and ``" 1 "``
  all become ``"1"``; other finite numbers are written with ``repr`` (``0.5`` -> ``"0.5"``); +/-inf is missing;
- other strings are stripped of surrounding blanks and kept as they are (case preserved).

So ``1``, ``1.0``, ``"1"`` and ``True`` all mean ``"1"``. This extends the idea of
:func:`watchkeeper.drift.profile.category_label` (which leaves booleans and numeric strings alone,
because a categorical *feature* has no reason to equate them) to labels, which arrive from label stores
with whatever type their writer chose.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from watchkeeper.config import TaskType
from watchkeeper.exceptions import ConfigError, DataError

#: Key of missing values in :attr:`LabelReport.invalid`.
MISSING = "<missing>"
_MISSING_TEXT = frozenset({"", "nan", "null", "none", "na", "n/a", "<na>"})
_BOOL_TEXT = {"true": "1", "false": "0"}


def task_type(task: str) -> TaskType:
    """``task`` as a :class:`~watchkeeper.config.TaskType`; :class:`ConfigError` lists the valid ones."""
    try:
        return TaskType(task)
    except ValueError:
        valid = ", ".join(t.value for t in TaskType)
        raise ConfigError(f"unknown task type {task!r}; use one of: {valid}") from None


def _number_label(value: float) -> str | None:
    if not math.isfinite(value):
        return None
    return str(int(value)) if value.is_integer() else repr(value)


def normalize_label(value: Any) -> str | None:
    """The string a label is compared as, or ``None`` when it is missing (see the module docstring)."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return _number_label(float(value))
    if not isinstance(value, str) and pd.isna(value) is True:
        return None
    text = str(value).strip()
    lowered = text.lower()
    if lowered in _MISSING_TEXT:
        return None
    if lowered in _BOOL_TEXT:
        return _BOOL_TEXT[lowered]
    try:
        number = float(text)
    except ValueError:
        return text
    return _number_label(number)


def normalize_labels(values: ArrayLike | pd.Series) -> NDArray[np.object_]:
    """:func:`normalize_label` of every value: an object array of ``str`` or ``None``.

    Only the distinct values go through Python (one ``pd.factorize``), so a million rows with a handful of
    labels cost a few milliseconds.
    """
    if isinstance(values, pd.Series | pd.Index):
        array = values.to_numpy(dtype=object)
    else:
        array = np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise DataError(f"labels must be one-dimensional, got shape {array.shape}")
    codes, uniques = pd.factorize(array, use_na_sentinel=True)
    mapped = np.array([normalize_label(u) for u in uniques] + [None], dtype=object)
    result: NDArray[np.object_] = mapped[codes]  # the NA sentinel -1 picks the trailing None
    return result


def label_sort_key(label: str) -> tuple[int, float, str]:
    """Numbers first in numeric order, then other labels alphabetically (``"2"`` before ``"10"``)."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def sorted_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """Distinct ``labels`` in :func:`label_sort_key` order."""
    return tuple(sorted(set(labels), key=label_sort_key))


def known_classes(task: str, positive_label: Any = "1", classes: Iterable[Any] | None = None) -> tuple[str, ...] | None:
    """The label values that are valid for ``task``, normalised; ``None`` when any non-missing label is accepted.

    Binary: ``classes`` if given (two values, one of them the positive label); otherwise ``("0", "1")``
    when the positive label is ``"0"`` or ``"1"`` (or a boolean); otherwise ``None`` (any label other than
    the positive one counts as negative -- pass ``classes`` to catch typos such as ``"yes"``).
    Multiclass: ``classes`` if given, else ``None``. Regression: ``None`` (numbers are validated instead).
    """
    kind = task_type(task)
    if kind is TaskType.REGRESSION:
        return None
    normalised = None if classes is None else _normalised_classes(classes)
    if kind is TaskType.MULTICLASS_CLASSIFICATION:
        return normalised
    positive = positive_name(positive_label)
    if normalised is None:
        return ("0", "1") if positive in {"0", "1"} else None
    if len(normalised) != 2 or positive not in normalised:
        raise ConfigError(
            f"binary classes {list(normalised)} must be two labels including the positive label {positive!r} "
            "-- pass classes=(negative, positive)"
        )
    return normalised


# ``validate_labels`` has a parameter called ``known_classes``: it reaches the function under this name.
_derive_known_classes = known_classes


def positive_name(positive_label: Any) -> str:
    """The positive label, normalised; :class:`ConfigError` when it is missing."""
    positive = normalize_label(positive_label)
    if positive is None:
        raise ConfigError(f"positive label {positive_label!r} is a missing value -- name the positive class, e.g. '1'")
    return positive


def _normalised_classes(classes: Iterable[Any]) -> tuple[str, ...]:
    out: list[str] = []
    for value in classes:
        label = normalize_label(value)
        if label is None:
            raise ConfigError(f"classes contain the missing value {value!r} -- list real class labels only")
        if label not in out:
            out.append(label)
    if not out:
        raise ConfigError("classes is empty -- list the class labels or pass None to take them from the data")
    return tuple(out)


@dataclass(frozen=True, eq=False)
class LabelReport:
    """Which true labels of a window are usable, and counts of the unusable values.

    ``mask`` marks the usable rows; ``labels`` holds the normalised labels (``str``, or ``float`` for
    regression; ``None``/NaN where unusable); ``invalid`` counts unusable values by their normalised form
    (``"<missing>"`` for missing values, ``"<not a number>"`` for regression values that are not numbers).
    """

    task: str
    n_rows: int
    mask: NDArray[np.bool_]
    labels: NDArray[Any]
    invalid: dict[str, int] = field(default_factory=dict)
    known_classes: tuple[str, ...] | None = None

    @property
    def n_valid(self) -> int:
        """Number of usable rows."""
        return int(self.mask.sum())

    @property
    def valid_mask(self) -> NDArray[np.bool_]:
        """Alias of :attr:`mask`."""
        return self.mask

    @property
    def n_invalid(self) -> int:
        """Number of excluded rows."""
        return self.n_rows - self.n_valid

    @property
    def message(self) -> str:
        """One sentence for logs and alerts; empty when every label is usable."""
        if not self.invalid:
            return ""
        listed = ", ".join(f"{value!r} x{count}" for value, count in self.invalid.items())
        known = f" (expected one of {', '.join(self.known_classes)})" if self.known_classes else ""
        return f"{self.n_invalid} of {self.n_rows} labels are unusable and were excluded{known}: {listed}"


#: Key of regression labels that are not numbers in :attr:`LabelReport.invalid`.
NOT_A_NUMBER = "<not a number>"


def validate_labels(
    task: str,
    y_true: ArrayLike | pd.Series,
    *,
    known_classes: Iterable[Any] | None = None,
    positive_label: Any = "1",
    classes: Iterable[Any] | None = None,
) -> LabelReport:
    """Flag true labels that cannot be scored: missing values, and for classification values outside the
    known classes (e.g. ``"2"`` or ``"yes"`` in a binary task); for regression, values that are not
    finite numbers. Never raises on bad values: they are counted in :attr:`LabelReport.invalid`
    (most frequent first) and left out of :attr:`LabelReport.mask`.

    The known classes are ``known_classes`` when given, else derived from ``positive_label`` and
    ``classes`` exactly as the scoring functions do (:func:`known_classes`; ``None`` there means every
    non-missing label is accepted).
    """
    kind = task_type(task)
    if kind is TaskType.REGRESSION:
        series = y_true if isinstance(y_true, pd.Series) else pd.Series(np.asarray(y_true, dtype=object))
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        mask = np.isfinite(numbers)
        missing = series.isna().to_numpy()
        invalid = _counts({MISSING: int(missing.sum()), NOT_A_NUMBER: int((~mask & ~missing).sum())})
        return LabelReport(kind.value, numbers.size, mask, numbers, invalid, None)
    labels = normalize_labels(y_true)
    if known_classes is not None:
        known: tuple[str, ...] | None = _normalised_classes(known_classes)
    else:
        known = _derive_known_classes(kind, positive_label, classes)
    present = labels != None  # noqa: E711 -- elementwise comparison on an object array
    if known is not None:  # hash-based lookup: the array mixes str and None, which cannot be sorted
        present_known = pd.Series(labels, dtype=object).isin(known).to_numpy()
        mask = present & present_known
    else:
        mask = present
    counts: dict[str, int] = {MISSING: int((~present).sum())}
    bad = labels[present & ~mask]
    if bad.size:
        values, numbers = np.unique(bad.astype(str), return_counts=True)
        counts.update({str(v): int(c) for v, c in zip(values, numbers, strict=True)})
    return LabelReport(kind.value, labels.size, np.asarray(mask, dtype=bool), labels, _counts(counts), known)


def _counts(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(((k, v) for k, v in counts.items() if v), key=lambda kv: (-kv[1], kv[0])))
