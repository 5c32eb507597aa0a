"""Mergeable per-feature counts of a window, taken against the stored reference profile of the feature.

A window is never held in memory: each batch of rows is folded into these counts, and every drift
statistic and per-column quality number is derived from them (:mod:`watchkeeper.drift.engine`).

**Numerical** (:class:`NumericalCounts`): the finite values are placed on the feature's *grid*, the
union of the reference's 1,001 stored quantiles and its bin edges (:func:`feature_grid`). With ``K``
grid points ``g_0 < ... < g_{K-1}`` there are ``2K + 1`` slots: slot ``2k + 1`` holds the values equal
to ``g_k``, slot ``2k`` the values strictly between ``g_{k-1}`` and ``g_k`` (slot 0 below ``g_0``, the
reference minimum; slot ``2K`` above ``g_{K-1}``, the reference maximum). Per slot the count and the
sum of values are kept, plus rows, nulls, +/-inf, min, max, sum and sum of squares. From these:

- the histogram on the reference bins is exact (every bin edge is a grid point);
- the out-of-range counts are slots 0 and ``2K``: exact;
- the KS distance against the reference quantiles is exact (the empirical CDF of the window is known
  at every grid point, left and right limits, and the supremum is reached there);
- the Wasserstein distance is exact except in grid intervals where the two CDFs cross; there the
  window's values are placed at their mean, and the error is bounded (``details["max_error"]``).

**Categorical** (:class:`CategoricalCounts`): counts of the reference categories (aligned with the
reference), counts of categories the reference never saw, nulls and rows. At most
:data:`MAX_UNSEEN_KEPT` unseen categories are kept by name: those with the smallest 64-bit hash of
their label, so the kept set does not depend on the order of batches and merging stays exact; the
others are summed into ``other_count``. The unseen share is always exact; the names listed and the
PSI/chi-square bins of unseen categories are exact below the cap.

``merge`` is associative and commutative; counting a concatenation equals merging the counts of its
parts (floating sums up to rounding).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from watchkeeper.drift.profile import CATEGORICAL, NUMERICAL, category_label, to_float_array
from watchkeeper.exceptions import BaselineError, DataError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Unseen categories kept by name per feature and window; the rest are summed into ``other_count``.
MAX_UNSEEN_KEPT = 1000


def feature_grid(profile: Mapping[str, Any]) -> FloatArray:
    """The grid of a numerical reference profile: its quantiles and bin edges, sorted, without repeats."""
    points = np.concatenate(
        [
            np.asarray(profile.get("quantiles") or [], dtype=np.float64),
            np.asarray(profile.get("edges") or [], dtype=np.float64),
        ]
    )
    grid: FloatArray = np.unique(points[np.isfinite(points)])
    return grid


#: Share of grid points in buckets holding more than one above which :class:`GridLocator` just binary-searches.
CROWDED_SHARE = 0.1


class GridLocator:
    """``np.searchsorted(grid, x, side="left")`` for many ``x``, faster than a binary search per value.

    A uniform lookup table over ``[grid[0], grid[-1]]`` (8 buckets per grid point) gives each value a
    candidate index; one step forward settles values whose bucket holds a grid point; every answer is
    verified, and the few that are not settled (crowded buckets of a skewed grid) take the binary
    search. Exact: the result always equals ``np.searchsorted``. On a skewed grid (more than
    :data:`CROWDED_SHARE` of its points crowded into shared buckets) it is the binary search.
    """

    def __init__(self, grid: FloatArray) -> None:
        self.grid = grid
        k = grid.size
        self.k = k
        # grid padded with +inf after and -inf before: neighbours of any index 0..k without clamping
        self.upper = np.concatenate([grid, [np.inf]])
        self.lower = np.concatenate([[-np.inf], grid])
        self.buckets = 8 * k
        self.log = False
        self.scale = 0.0
        self.low = 0.0
        self.starts: IntArray = np.zeros(1, dtype=np.int64)
        self._table(grid)
        if self.scale and self._crowded() and k and grid[0] > 0:
            self.log = True  # a right-skewed positive grid (amounts, latencies): buckets even in log(x)
            self._table(np.log(grid))
        if self.scale and self._crowded():
            self.scale = 0.0  # still crowded: most values would need the binary search anyway

    def _table(self, points: FloatArray) -> None:
        k = points.size
        self.low = float(points[0]) if k else 0.0
        span = float(points[-1]) - self.low if k else 0.0
        self.scale = self.buckets / span if k > 1 and span > 0 and math.isfinite(span) else 0.0
        if not math.isfinite(self.scale):  # a subnormal span (e.g. [0, 1e-308]): buckets would overflow
            self.scale = 0.0
        starts = self.low + np.arange(self.buckets + 1) / self.scale if self.scale else np.zeros(1)
        if self.log:
            starts = np.exp(starts)
        self.starts = np.searchsorted(self.grid, starts, side="left").astype(np.int64)

    def _crowded(self) -> bool:
        occupancy = np.diff(self.starts)
        return bool(occupancy[occupancy > 1].sum() > CROWDED_SHARE * self.k)

    def locate(self, x: FloatArray) -> IntArray:
        """The left insertion index of every (finite) value of ``x`` in the grid."""
        return self.slots(x)[0]

    def slots(self, x: FloatArray) -> tuple[IntArray, NDArray[np.bool_]]:
        """(left insertion index, whether the value equals the grid point there) of every finite value."""
        upper = self.upper
        if not self.scale:
            idx: IntArray = np.searchsorted(self.grid, x, side="left").astype(np.int64)
            return idx, upper[idx] == x
        if self.log:
            bucket = np.log(np.maximum(x, self.grid[0] * 0.5))
            bucket -= self.low
        else:
            bucket = np.subtract(x, self.low)
        bucket *= self.scale
        np.clip(bucket, 0, self.buckets, out=bucket)
        idx = self.starts[bucket.astype(np.int64)]
        idx += upper[idx] < x  # one step forward within the bucket (upper[k] is +inf: never past k)
        at = upper[idx]
        ok = at >= x
        ok &= self.lower[idx] < x  # verified: grid[idx - 1] < x <= grid[idx]
        if not ok.all():
            bad = ~ok
            idx[bad] = np.searchsorted(self.grid, x[bad], side="left")
            at = upper[idx]
        return idx, at == x


def grid_digest(grid: FloatArray) -> str:
    """A short hash of a grid: counts taken on different grids are never merged."""
    return hashlib.blake2b(np.ascontiguousarray(grid).tobytes(), digest_size=8).hexdigest()


@dataclass
class NumericalCounts:
    """Counts of one numerical feature's values on its reference grid (see the module docstring)."""

    grid: FloatArray
    rows: int = 0
    null_count: int = 0
    pos_inf: int = 0
    neg_inf: int = 0
    counts: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sums: FloatArray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    min: float | None = None
    max: float | None = None
    total: float = 0.0
    total_sq: float = 0.0

    def __post_init__(self) -> None:
        self._locator: GridLocator | None = None
        slots = 2 * self.grid.size + 1
        if self.counts.size == 0:
            self.counts = np.zeros(slots, dtype=np.int64)
        if self.sums.size == 0:
            self.sums = np.zeros(slots, dtype=np.float64)
        if self.counts.size != slots or self.sums.size != slots:
            raise BaselineError(
                f"window counts have {self.counts.size} slots but the grid needs {slots} -- the baseline changed; "
                "re-run the window"
            )

    @classmethod
    def empty(cls, profile: Mapping[str, Any]) -> NumericalCounts:
        """Zero counts on the grid of a numerical reference profile."""
        return cls(feature_grid(profile))

    @property
    def n(self) -> int:
        """Finite values counted."""
        return int(self.counts.sum())

    @property
    def inf_count(self) -> int:
        """+/-inf values counted."""
        return self.pos_inf + self.neg_inf

    @property
    def below(self) -> int:
        """Finite values below the reference minimum (slot 0)."""
        return int(self.counts[0]) if self.grid.size else 0

    @property
    def above(self) -> int:
        """Finite values above the reference maximum (the last slot)."""
        return int(self.counts[-1]) if self.grid.size else 0

    def add(self, values: Any, name: str = "values") -> None:
        """Fold a batch of values (a Series or array; NaN/None are nulls) into the counts."""
        array = to_float_array(values, name)
        self.add_floats(array)

    def add_floats(self, array: FloatArray) -> None:
        """Fold a float64 array (NaN for nulls) into the counts."""
        self.rows += int(array.size)
        if array.size == 0:
            return
        low, high = float(array.min()), float(array.max())  # NaN or inf here iff any value is not finite
        finite = array
        if not (math.isfinite(low) and math.isfinite(high)):
            finite = array[np.isfinite(array)]
            low, high = (float(finite.min()), float(finite.max())) if finite.size else (low, high)
            nan = int(np.isnan(array).sum())
            pos = int(np.count_nonzero(array == np.inf))
            self.null_count += nan
            self.pos_inf += pos
            self.neg_inf += array.size - finite.size - nan - pos
        if finite.size == 0:
            return
        k = self.grid.size
        if k == 0:
            self.counts[0] += finite.size
            self.sums[0] += float(finite.sum())
        else:
            if self._locator is None:
                self._locator = GridLocator(self.grid)
            idx, equal = self._locator.slots(finite)
            slot = idx * 2
            slot += equal
            self.counts += np.bincount(slot, minlength=2 * k + 1)
            self.sums += np.bincount(slot, weights=finite, minlength=2 * k + 1)
        self.min = low if self.min is None else min(self.min, low)
        self.max = high if self.max is None else max(self.max, high)
        self.total += float(finite.sum())
        self.total_sq += float(np.dot(finite, finite))

    def merge(self, other: NumericalCounts) -> NumericalCounts:
        """The counts of both windows (neither operand changes)."""
        if self.grid.size != other.grid.size or not np.array_equal(self.grid, other.grid):
            raise BaselineError("cannot merge counts taken on different reference grids -- rebuild both windows")
        mins = [v for v in (self.min, other.min) if v is not None]
        maxs = [v for v in (self.max, other.max) if v is not None]
        return NumericalCounts(
            self.grid,
            self.rows + other.rows,
            self.null_count + other.null_count,
            self.pos_inf + other.pos_inf,
            self.neg_inf + other.neg_inf,
            self.counts + other.counts,
            self.sums + other.sums,
            min(mins) if mins else None,
            max(maxs) if maxs else None,
            self.total + other.total,
            self.total_sq + other.total_sq,
        )

    # -- derived ---------------------------------------------------------------------------------

    def less_than(self, points: Sequence[float] | FloatArray) -> IntArray:
        """``#(x < p)`` for each grid point ``p`` (points must be on the grid)."""
        idx = self._grid_index(points)
        cum = np.cumsum(self.counts)  # slots 0..2k hold the values below grid point k
        out: IntArray = cum[2 * idx]
        return out

    def bin_counts(self, edges: Sequence[float]) -> IntArray:
        """Values per reference bin ``[edge[i-1], edge[i])`` (outer bins open), like ``profile.bin_counts``."""
        below = self.less_than(np.asarray(edges, dtype=np.float64)) if len(edges) else np.zeros(0, dtype=np.int64)
        out: IntArray = np.diff(np.concatenate(([0], below, [self.n])))
        return out

    def _grid_index(self, points: Sequence[float] | FloatArray) -> IntArray:
        pts = np.asarray(points, dtype=np.float64)
        idx = np.searchsorted(self.grid, pts)
        if pts.size and (
            np.any(idx >= self.grid.size) or np.any(self.grid[np.minimum(idx, self.grid.size - 1)] != pts)
        ):
            raise BaselineError("a reference edge is not on the window's grid -- rebuild the baseline")
        out: IntArray = idx.astype(np.int64)
        return out

    def ecdf_at_grid(self) -> tuple[FloatArray, FloatArray]:
        """Left and right limits of the window's empirical CDF at every grid point."""
        n = self.n
        cum = np.cumsum(self.counts)
        k = self.grid.size
        left = cum[0 : 2 * k : 2] / n
        right = cum[1 : 2 * k : 2] / n
        return left, right

    def mean(self) -> float | None:
        """Mean of the finite values."""
        n = self.n
        return self.total / n if n else None

    def std(self) -> float | None:
        """Standard deviation (ddof=0) of the finite values."""
        n = self.n
        if not n:
            return None
        mean = self.total / n
        return math.sqrt(max(self.total_sq / n - mean * mean, 0.0))

    def sample_points(self) -> tuple[FloatArray, IntArray]:
        """Representative values with their counts (each slot's mean), e.g. for charts and sketches."""
        keep = self.counts > 0
        values: FloatArray = self.sums[keep] / self.counts[keep]
        counts: IntArray = self.counts[keep]
        return values, counts


def ks_from_counts(quantiles: FloatArray, counts: NumericalCounts) -> float:
    """KS distance between the reference quantiles (an equally weighted sample) and the counted window.

    Equals :func:`watchkeeper.drift.stats.ks_ecdf` on the window's raw values (the quantiles must be on
    the grid, which they are when the counts were made from the same profile).
    """
    grid = counts.grid
    m = quantiles.size
    ref_right = np.searchsorted(quantiles, grid, side="right") / m
    ref_left = np.searchsorted(quantiles, grid, side="left") / m
    cur_left, cur_right = counts.ecdf_at_grid()
    return float(max(np.max(np.abs(ref_right - cur_right)), np.max(np.abs(ref_left - cur_left))))


def wasserstein_from_counts(quantiles: FloatArray, counts: NumericalCounts) -> tuple[float, float]:
    """(1-Wasserstein distance, bound on its error) between the reference quantiles and the counted window.

    ``W1 = integral of |F_ref - F_cur|``. Below the reference minimum and above its maximum the
    integral is exact from the slot counts and sums; inside a grid interval ``F_ref`` is constant and
    the integral is exact unless ``F_cur`` crosses it there, in which case the window's values of that
    interval are taken at their mean and the error is at most ``2 * width * min(c - A, B - c)``
    (``A``/``B`` the window CDF at the interval ends, ``c`` the reference CDF); the bound is summed.
    """
    grid = counts.grid
    n = counts.n
    k = grid.size
    c = counts.counts.astype(np.float64)
    s = counts.sums
    total = (c[0] * grid[0] - s[0]) / n + (s[-1] - c[-1] * grid[-1]) / n
    if k < 2:
        return float(total), 0.0
    ref_level = np.searchsorted(quantiles, grid[:-1], side="right") / quantiles.size  # F_ref on (g_k, g_k+1)
    cum = np.cumsum(c)
    low = cum[1 : 2 * k - 1 : 2] / n  # F_cur at g_k (right limit) = value at the interval's start
    inner_c = c[2 : 2 * k : 2]  # values strictly inside (g_k, g_k+1)
    inner_s = s[2 : 2 * k : 2]
    high = low + inner_c / n
    width = np.diff(grid)
    integral_f = low * width + (inner_c * grid[1:] - inner_s) / n  # exact integral of F_cur over the interval
    above = ref_level >= high
    below = ref_level <= low
    crossing = ~(above | below)
    exact = np.where(above, ref_level * width - integral_f, integral_f - ref_level * width)
    # Crossing: the interval's values sit at their mean m; F_cur = low before m, high after.
    mean_pos = np.divide(inner_s, inner_c, out=grid[:-1].copy(), where=inner_c > 0)
    approx = (ref_level - low) * (mean_pos - grid[:-1]) + (high - ref_level) * (grid[1:] - mean_pos)
    inside = np.where(crossing, approx, exact)
    bound = np.where(crossing, 2 * width * np.minimum(ref_level - low, high - ref_level), 0.0)
    return float(total + inside.sum()), float(bound.sum())


def _label_hash(label: str) -> int:
    return int.from_bytes(hashlib.blake2b(label.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


@dataclass
class CategoricalCounts:
    """Counts of one categorical feature against its reference categories (see the module docstring)."""

    reference: tuple[str, ...]
    rows: int = 0
    null_count: int = 0
    counts: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    unseen: dict[str, int] = field(default_factory=dict)
    other_count: int = 0
    max_unseen: int = MAX_UNSEEN_KEPT
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.counts.size == 0:
            self.counts = np.zeros(len(self.reference), dtype=np.int64)
        if self.counts.size != len(self.reference):
            raise BaselineError("window category counts do not match the reference categories -- re-run the window")
        if not self._index:
            self._index = {label: i for i, label in enumerate(self.reference)}

    @classmethod
    def empty(cls, profile: Mapping[str, Any], max_unseen: int = MAX_UNSEEN_KEPT) -> CategoricalCounts:
        """Zero counts on the categories of a categorical reference profile."""
        return cls(tuple(profile.get("counts") or {}), max_unseen=max_unseen)

    @property
    def n(self) -> int:
        """Non-null values counted."""
        return self.rows - self.null_count

    @property
    def unseen_rows(self) -> int:
        """Values in categories the reference never saw (kept by name or not)."""
        return sum(self.unseen.values()) + self.other_count

    def add(self, values: Any) -> None:
        """Fold a batch (a Series or array; None/NaN are nulls) into the counts."""
        series = values if isinstance(values, pd.Series) else pd.Series(values)
        counted = series.value_counts(dropna=True, sort=False)
        keys = counted.index.tolist()
        numbers = counted.to_numpy().tolist()
        non_null = 0
        for key, count in zip(keys, numbers, strict=True):
            if not count:
                continue
            non_null += int(count)
            label = category_label(key)
            pos = self._index.get(label)
            if pos is not None:
                self.counts[pos] += int(count)
            else:
                self.unseen[label] = self.unseen.get(label, 0) + int(count)
        self.rows += len(series)
        self.null_count += len(series) - non_null
        self._cap()

    def add_counts(self, labelled: Mapping[str, int], rows: int) -> None:
        """Fold already counted categories (labels as strings) of ``rows`` rows into the counts."""
        non_null = 0
        for label, count in labelled.items():
            non_null += int(count)
            pos = self._index.get(label)
            if pos is not None:
                self.counts[pos] += int(count)
            else:
                self.unseen[label] = self.unseen.get(label, 0) + int(count)
        self.rows += rows
        self.null_count += rows - non_null
        self._cap()

    def _cap(self) -> None:
        if len(self.unseen) <= self.max_unseen:
            return
        ranked = sorted(self.unseen, key=_label_hash)
        for label in ranked[self.max_unseen :]:
            self.other_count += self.unseen.pop(label)

    def merge(self, other: CategoricalCounts) -> CategoricalCounts:
        """The counts of both windows (neither operand changes)."""
        if self.reference != other.reference:
            raise BaselineError("cannot merge counts taken against different reference categories")
        unseen = dict(self.unseen)
        for label, count in other.unseen.items():
            unseen[label] = unseen.get(label, 0) + count
        merged = CategoricalCounts(
            self.reference,
            self.rows + other.rows,
            self.null_count + other.null_count,
            self.counts + other.counts,
            unseen,
            self.other_count + other.other_count,
            min(self.max_unseen, other.max_unseen),
            self._index,
        )
        merged._cap()
        return merged

    def aligned(self) -> tuple[IntArray, list[str]]:
        """Counts aligned with the reference categories, then unseen ones (most frequent first; ``other`` last).

        Returns the count vector and the unseen labels in the same order (``other`` is not named).
        """
        ranked = sorted(self.unseen.items(), key=lambda item: (-item[1], item[0]))
        tail = [count for _, count in ranked] + ([self.other_count] if self.other_count else [])
        vector: IntArray = np.concatenate([self.counts, np.asarray(tail, dtype=np.int64)]).astype(np.int64)
        return vector, [label for label, _ in ranked]

    def as_dict(self) -> dict[str, int]:
        """``{category: count}`` of every named category with a count (reference order, then unseen)."""
        out = {label: int(c) for label, c in zip(self.reference, self.counts.tolist(), strict=True) if c}
        out.update(self.unseen)
        return out


FeatureCounts = NumericalCounts | CategoricalCounts


def empty_counts(profile: Mapping[str, Any]) -> FeatureCounts:
    """Zero counts of the right kind for a reference profile."""
    kind = profile.get("kind")
    if kind == NUMERICAL:
        return NumericalCounts.empty(profile)
    if kind == CATEGORICAL:
        return CategoricalCounts.empty(profile)
    raise BaselineError(
        f"reference profile of kind {kind!r}: expected numerical or categorical -- rebuild the baseline"
    )


def count_values(profile: Mapping[str, Any], values: Any, name: str = "values") -> FeatureCounts:
    """Counts of ``values`` (one batch or a whole column) against ``profile``."""
    counts = empty_counts(profile)
    if isinstance(counts, NumericalCounts):
        counts.add(values, name)
    else:
        counts.add(values)
    return counts


def coerce_numeric(series: pd.Series) -> tuple[pd.Series, bool]:
    """A series as numbers (non-numbers become NaN) and whether it arrived with a non-numeric dtype."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return series.astype("float64"), False
    if pd.api.types.is_numeric_dtype(dtype):
        return series, False
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise DataError(f"column {series.name!r} has dtype {dtype}; a numerical feature needs numbers")
    return pd.to_numeric(series, errors="coerce"), True
