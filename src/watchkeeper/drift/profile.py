"""Reference profiles: compact, JSON-serialisable summaries of the reference data, built once and stored.

A profile holds only ``dict``/``list``/``str``/``int``/``float``/``None`` (never numpy types or NaN),
so it can be written to the baseline store as JSON and read back unchanged. The drift engine compares
each window against the profiles and never needs the reference data again.

Numerical profile (``kind: "numerical"``): ``rows`` (all values), ``n`` (finite values), ``null_count``
(NaN/None), ``inf_count`` (+/-inf), ``min``, ``max``, ``mean``, ``std`` (ddof=0), ``iqr``, ``q01``,
``q99``, ``quantiles`` (``n_quantiles`` evenly spaced quantiles of the finite values, linear
interpolation as ``np.quantile``: an equally weighted stand-in for the reference sample used by KS and
Wasserstein), ``edges`` (the inner bin edges, reference quantiles at ``i / n_bins`` deduplicated) and
``counts`` (reference values per bin, ``len(edges) + 1`` bins). Bins are ``[edge[i-1], edge[i])``, the
first open to -inf and the last to +inf, so a current value outside the reference range still lands
in a bin. Statistics that do not exist without finite values are ``None``.

Categorical profile (``kind: "categorical"``): ``rows``, ``n`` (non-null values), ``null_count`` and
``counts`` (``{category: count}``, most frequent first). Categories are compared as strings; floats
holding whole numbers are written without the fraction (``3.0`` -> ``"3"``), so an integer column
that picked up a null (and became float) still matches its reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from watchkeeper.exceptions import DataError

NUMERICAL = "numerical"
CATEGORICAL = "categorical"
#: The feature kinds a profile (and a drift test) can be about.
KINDS = frozenset({NUMERICAL, CATEGORICAL})

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class NumericalSample:
    """One numerical column split from a single sort: the sorted finite values and the counts of the rest."""

    rows: int
    null_count: int
    neg_inf_count: int
    pos_inf_count: int
    finite: FloatArray  # sorted ascending

    @property
    def inf_count(self) -> int:
        """Number of +/-inf values."""
        return self.neg_inf_count + self.pos_inf_count


@dataclass(frozen=True)
class CategoricalSample:
    """One categorical column reduced to its category counts (one ``value_counts``)."""

    rows: int
    null_count: int
    counts: dict[str, int]


def to_float_array(values: ArrayLike | pd.Series, name: str = "values") -> FloatArray:
    """``values`` as a 1-d float64 array with NaN for missing values; a view when already float64.

    Raises :class:`DataError` for values that are not numbers (strings, dates).
    """
    if isinstance(values, pd.Series):
        dtype = values.dtype
        if isinstance(dtype, np.dtype) and dtype == np.float64:
            view: FloatArray = values.to_numpy()
            return view
        if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            raise DataError(f"{name} has dtype {dtype}; a numerical feature needs numbers -- declare it categorical")
        try:
            converted: FloatArray = values.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{name} has dtype {dtype} and non-numeric values ({exc}); declare it categorical or fix the data"
            ) from exc
        return converted
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} holds non-numeric values ({exc}); declare it categorical or fix the data") from exc
    if array.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def split_numerical(values: ArrayLike | pd.Series, name: str = "values") -> NumericalSample:
    """Sort ``values`` once and locate NaN (sorted last) and +/-inf by binary search: no extra scan."""
    ordered = np.sort(to_float_array(values, name))
    rows = ordered.size
    not_nan = int(np.searchsorted(ordered, np.nan, side="left"))
    neg_inf = int(np.searchsorted(ordered, -np.inf, side="right"))
    below_pos_inf = int(np.searchsorted(ordered[:not_nan], np.inf, side="left"))
    return NumericalSample(
        rows=rows,
        null_count=rows - not_nan,
        neg_inf_count=neg_inf,
        pos_inf_count=not_nan - below_pos_inf,
        finite=ordered[neg_inf:below_pos_inf],
    )


def category_label(value: Any) -> str:
    """The string a category is compared as: ``str(value)``, whole floats without their fraction."""
    if isinstance(value, float | np.floating) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def count_categories(values: ArrayLike | pd.Series) -> CategoricalSample:
    """Count the categories of ``values`` as strings with one ``value_counts`` (nulls counted apart)."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    counted = series.value_counts(dropna=True, sort=False)
    counts: dict[str, int] = {}
    for key, count in zip(counted.index.tolist(), counted.to_numpy().tolist(), strict=True):
        if count:  # a ``category`` dtype also lists categories that do not occur
            label = category_label(key)
            counts[label] = counts.get(label, 0) + int(count)
    rows = len(series)
    return CategoricalSample(rows=rows, null_count=rows - sum(counts.values()), counts=counts)


def quantiles_of_sorted(ordered: FloatArray, levels: ArrayLike) -> FloatArray:
    """Quantiles of an already sorted array, linear interpolation (equals ``np.quantile``)."""
    levels = np.asarray(levels, dtype=np.float64)
    position = levels * (ordered.size - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, ordered.size - 1)
    fraction = position - low
    lo_values, hi_values = ordered[low], ordered[high]
    # Same form as numpy's _lerp, so the results match np.quantile to the last bit.
    diff = hi_values - lo_values
    result: FloatArray = np.where(fraction >= 0.5, hi_values - diff * (1 - fraction), lo_values + diff * fraction)
    return result


def bin_counts(edges: ArrayLike, finite_sorted: FloatArray) -> NDArray[np.int64]:
    """Values per bin ``[edge[i-1], edge[i])`` (outer bins open), from a sorted array by binary search."""
    below = np.searchsorted(finite_sorted, np.asarray(edges, dtype=np.float64), side="left")
    return np.diff(np.concatenate(([0], below, [finite_sorted.size])))


def _json_float(value: float | np.floating[Any]) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def profile_numerical(values: ArrayLike | pd.Series, n_bins: int = 10, n_quantiles: int = 1001) -> dict[str, Any]:
    """Reference profile of a numerical column (see the module docstring for the fields)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    if n_quantiles < 2:
        raise ValueError(f"n_quantiles must be at least 2, got {n_quantiles}")
    sample = split_numerical(values)
    finite = sample.finite
    profile: dict[str, Any] = {
        "kind": NUMERICAL,
        "rows": sample.rows,
        "n": int(finite.size),
        "null_count": sample.null_count,
        "inf_count": sample.inf_count,
    }
    if finite.size == 0:
        empty = dict.fromkeys(("min", "max", "mean", "std", "iqr", "q01", "q99"))
        return {**profile, **empty, "quantiles": [], "edges": [], "counts": [0]}
    q01, q25, q75, q99 = quantiles_of_sorted(finite, [0.01, 0.25, 0.75, 0.99]).tolist()
    edges = np.unique(quantiles_of_sorted(finite, np.arange(1, n_bins) / n_bins))
    return {
        **profile,
        "min": float(finite[0]),
        "max": float(finite[-1]),
        "mean": _json_float(np.mean(finite)),
        "std": _json_float(np.std(finite)),
        "iqr": _json_float(q75 - q25),
        "q01": q01,
        "q99": q99,
        "quantiles": quantiles_of_sorted(finite, np.linspace(0.0, 1.0, n_quantiles)).tolist(),
        "edges": edges.tolist(),
        "counts": bin_counts(edges, finite).tolist(),
    }


def profile_categorical(values: ArrayLike | pd.Series) -> dict[str, Any]:
    """Reference profile of a categorical column: category counts as strings, most frequent first."""
    sample = count_categories(values)
    ordered = sorted(sample.counts.items(), key=lambda item: (-item[1], item[0]))
    return {
        "kind": CATEGORICAL,
        "rows": sample.rows,
        "n": sample.rows - sample.null_count,
        "null_count": sample.null_count,
        "counts": dict(ordered),
    }


def align_categories(profile: dict[str, Any], counts: dict[str, int]) -> tuple[NDArray[np.int64], list[str]]:
    """Current counts aligned with ``profile["counts"]``, followed by the categories the reference never saw.

    Returns the count vector (reference categories in profile order, then unseen ones, most frequent
    first) and the unseen category names in the same order.
    """
    remaining = dict(counts)
    aligned = [remaining.pop(label, 0) for label in profile["counts"]]
    unseen = sorted(remaining.items(), key=lambda item: (-item[1], item[0]))
    return np.array(aligned + [count for _, count in unseen], dtype=np.int64), [label for label, _ in unseen]


def reference_counts(profile: dict[str, Any], size: int) -> FloatArray:
    """Reference category counts padded with zeros to ``size`` (the length of an aligned current vector)."""
    ref = np.zeros(size, dtype=np.float64)
    stored = list(profile["counts"].values())
    ref[: len(stored)] = stored
    return ref
