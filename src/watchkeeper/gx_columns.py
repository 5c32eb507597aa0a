"""Bounded-memory building blocks of the whole-column GX expectations on a window fed in chunks.

Used by :class:`watchkeeper.gx_window.WindowColumns` (the state :class:`~watchkeeper.gx_runner.GxRunner`
keeps once a window spans more than one chunk):

- :func:`value_hashes` / :func:`row_hashes`: 64-bit hashes of values (or of rows of several columns), the
  same for equal values whatever dtype a chunk gave the column; counted by
  :class:`~watchkeeper.profile.sketch.DuplicateCounter` (spilled to disk past 2M hashes), they give the
  rows in repeated groups (``unique``) and the distinct count (``unique value count``, ``proportion``);
- :class:`ValueCounts`: per-value counts merged across chunks (memory: the distinct values), from which a
  small frame with the same distinct values and modes is handed to GX;
- :class:`OrderStatistics`: a numeric column's values spilled to a temporary file (8 bytes a value) and
  exact k-th values selected by bucket refinement over the file, read in blocks; median and quantiles
  are then computed from them with numpy's own interpolation (what pandas and GX use).

Hashing is exact up to 64-bit collisions: two distinct values collide with probability ``2^-64``, so a
window of ``n`` distinct values miscounts with probability about ``n^2 / 2^65`` (1e-5 for 20 million).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np  # noqa: TID253 -- task-side module, imported only by GxRunner while it runs
import pandas as pd  # noqa: TID253
from numpy.typing import NDArray  # noqa: TID253

from watchkeeper.spill import SpillDir

#: Values :class:`OrderStatistics` keeps in memory before spilling, and reads per block (8 MB).
ORDER_BUFFER_VALUES = 1_000_000
_BUCKETS = 4096
_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
_FLOAT_TAG = np.uint64(0xC2B2AE3D27D4EB4F)
_MIX = np.uint64(0x100000001B3)


def value_hashes(series: pd.Series) -> NDArray[np.uint64]:
    """One 64-bit hash per row (nulls get one fixed hash), equal for values pandas holds equal.

    Integers and whole floats hash as the integer (a column is int in one chunk and float in another when
    only some chunks have nulls); other floats by their bits; anything else by its text.
    """
    mask = series.isna().to_numpy(dtype=bool)
    out = np.full(len(series), _NULL_HASH, dtype=np.uint64)
    present = series[~mask]
    if len(present) == 0:
        return out
    kind = present.dtype.kind if isinstance(present.dtype, np.dtype) else getattr(present.dtype, "kind", "O")
    if kind in "iu":
        out[~mask] = pd.util.hash_array(present.to_numpy(dtype=np.int64))
    elif kind == "f":
        values = present.to_numpy(dtype=np.float64)
        whole = (np.floor(values) == values) & (np.abs(values) < 2.0**63)
        hashes = np.empty(values.size, dtype=np.uint64)
        hashes[whole] = pd.util.hash_array(values[whole].astype(np.int64))
        hashes[~whole] = pd.util.hash_array(values[~whole].view(np.uint64) ^ _FLOAT_TAG)
        out[~mask] = hashes
    else:
        out[~mask] = pd.util.hash_array(present.astype(str).to_numpy(dtype=object))
    return out


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> NDArray[np.uint64]:
    """One hash per row of ``columns`` taken together (nulls equal to nulls, as ``DataFrame.duplicated``)."""
    combined = np.zeros(len(frame), dtype=np.uint64)
    for name in columns:
        combined = pd.util.hash_array(combined * _MIX + value_hashes(frame[name]))
    return combined


def considered_rows(frame: pd.DataFrame, columns: list[str], ignore_row_if: str) -> pd.DataFrame:
    """The rows GX's multicolumn map expectations judge (``ignore_row_if``, default all values missing)."""
    nulls = frame[columns].isna()
    if ignore_row_if == "any_value_is_missing":
        return frame[~nulls.any(axis=1).to_numpy()]
    if ignore_row_if == "never":
        return frame
    return frame[~nulls.all(axis=1).to_numpy()]


class ValueCounts:
    """Counts of each value of a column (nulls included) merged across chunks; memory: the distinct values."""

    def __init__(self) -> None:
        self.counts: pd.Series | None = None
        self.error: str | None = None
        self.rows = 0  # window rows folded in (several expectations may read the same column)

    def add(self, series: pd.Series) -> None:
        """Merge one chunk's values of the column."""
        if self.error is not None:
            return
        try:
            counts = series.value_counts(dropna=False, sort=False)
            if self.counts is not None:
                counts = pd.concat([self.counts, counts]).groupby(level=0, dropna=False, sort=False).sum()
        except TypeError as exc:  # unhashable values: GX cannot take distinct values either
            self.error = str(exc)
            return
        self.counts = counts

    def frame(self, column: str) -> pd.DataFrame:
        """A frame with the window's distinct values (a null if any) and the same modes.

        Every distinct value appears once and the most frequent ones once more (when they occur more than
        once), so its distinct values, its null presence and its ``mode()`` are the window's.
        """
        counts = self.counts if self.counts is not None else pd.Series(dtype="float64")
        values = counts.index.to_series(index=pd.RangeIndex(len(counts)))
        present = counts[counts.index.notna()]
        top = int(present.max()) if len(present) else 0
        if top > 1:
            modal = present.index[(present == top).to_numpy()]
            modes = modal.to_series(index=pd.RangeIndex(len(modal)))
            values = pd.concat([values, modes], ignore_index=True)
        return pd.DataFrame({column: values})


class OrderStatistics:
    """A numeric column's non-null values, spilled to disk; exact order statistics in bounded memory."""

    def __init__(self, buffer_values: int = ORDER_BUFFER_VALUES) -> None:
        self.buffer_values = max(int(buffer_values), 16)
        self.count = 0  # finite values
        self.neg_inf = 0
        self.pos_inf = 0
        self.low = math.inf
        self.high = -math.inf
        self.integer = True  # every chunk had an integer dtype: the window's column is int64
        self.unsupported: str | None = None  # a chunk's dtype pandas does not order as numbers
        self.rows = 0  # window rows folded in (several expectations may read the same column)
        self.sample: pd.Series | None = None  # a couple of values of a non-numeric chunk (for GX's reason)
        self._buffer: list[NDArray[np.float64]] = []
        self._buffered = 0
        self._dir = SpillDir("watchkeeper-order-")

    @property
    def n(self) -> int:
        """Non-null values (infinities included)."""
        return self.count + self.neg_inf + self.pos_inf

    def add(self, series: pd.Series) -> None:
        """Fold one chunk's values of the column (nulls left out, as GX's median and quantiles leave them)."""
        dtype = series.dtype
        kind = dtype.kind if isinstance(dtype, np.dtype) else getattr(dtype, "kind", "O")
        if kind not in "iuf":
            present = series.dropna()
            if len(present) or kind not in "O":
                self.unsupported = self.unsupported or str(dtype)
            if self.sample is None and len(present):
                self.sample = present.iloc[:2].reset_index(drop=True)
            return
        self.integer = self.integer and kind in "iu"
        values = series.dropna().to_numpy(dtype=np.float64)
        finite = values[np.isfinite(values)]
        self.neg_inf += int(np.count_nonzero(values == -np.inf))
        self.pos_inf += int(np.count_nonzero(values == np.inf))
        if finite.size == 0:
            return
        self.low = min(self.low, float(finite.min()))
        self.high = max(self.high, float(finite.max()))
        self.count += int(finite.size)
        self._buffer.append(finite)
        self._buffered += int(finite.size)
        if self._buffered > self.buffer_values:
            self._spill()

    def _spill(self) -> None:
        if not self._buffer:
            return
        with open(self._dir.file("values.f64"), "ab") as handle:
            for part in self._buffer:
                handle.write(part.tobytes())
        self._buffer, self._buffered = [], 0

    def _blocks(self) -> Any:
        yield from self._buffer
        if self._dir.used:
            with open(self._dir.file("values.f64"), "rb") as handle:
                while True:
                    data = np.fromfile(handle, dtype=np.float64, count=self.buffer_values)
                    if data.size == 0:
                        return
                    yield data

    def values_at(self, ranks: list[int]) -> dict[int, float]:
        """The values at 0-based ``ranks`` of the sorted non-null values (infinities included)."""
        out: dict[int, float] = {}
        finite_ranks = []
        for rank in set(ranks):
            if rank < self.neg_inf:
                out[rank] = -math.inf
            elif rank >= self.neg_inf + self.count:
                out[rank] = math.inf
            else:
                finite_ranks.append(rank - self.neg_inf)
        for rank, value in self._select(sorted(finite_ranks)).items():
            out[rank + self.neg_inf] = value
        return out

    def _select(self, ranks: list[int]) -> dict[int, float]:
        if not ranks:
            return {}
        if not self._dir.used:  # everything fits in the buffer
            data = np.concatenate(self._buffer)
            data.partition(ranks)
            return {k: float(data[k]) for k in ranks}
        # per rank: [low, high] (high included or not), values below low, values inside
        states = {k: [self.low, self.high, True, 0, self.count] for k in ranks}
        found: dict[int, float] = {}
        for _ in range(256):
            active = {k: s for k, s in states.items() if k not in found}
            if not active:
                return found
            self._refine(active, found)
        raise RuntimeError("order statistics did not converge")  # pragma: no cover - floats are finite

    def _refine(self, states: dict[int, list[Any]], found: dict[int, float]) -> None:
        """One pass over the values: narrow each rank's range to one bucket, or select it when small."""
        edges = {k: np.linspace(s[0], s[1], _BUCKETS + 1) for k, s in states.items()}
        hist = {k: np.zeros(_BUCKETS, dtype=np.int64) for k in states}
        kept: dict[int, list[NDArray[np.float64]]] = {k: [] for k in states}
        spread: dict[int, list[float]] = {k: [math.inf, -math.inf] for k in states}
        for block in self._blocks():
            for k, (low, high, closed, _, inside) in states.items():
                keep = (block >= low) & ((block < high) | (closed & (block == high)))
                part = block[keep]
                if part.size == 0:
                    continue
                spread[k] = [min(spread[k][0], float(part.min())), max(spread[k][1], float(part.max()))]
                if inside <= self.buffer_values:
                    kept[k].append(part)
                else:
                    index = np.minimum(np.searchsorted(edges[k], part, side="right") - 1, _BUCKETS - 1)
                    hist[k] += np.bincount(index, minlength=_BUCKETS)
        for k, state in states.items():
            low, high, closed, below, inside = state
            if spread[k][0] == spread[k][1]:
                found[k] = spread[k][0]
            elif inside <= self.buffer_values:
                data = np.concatenate(kept[k])
                data.partition(k - below)
                found[k] = float(data[k - below])
            else:
                ends = np.cumsum(hist[k])
                j = int(np.searchsorted(ends, k - below, side="right"))
                state[0], state[1] = float(edges[k][j]), float(edges[k][j + 1])
                state[2] = bool(closed and j == _BUCKETS - 1)
                state[3] = below + (int(ends[j - 1]) if j else 0)
                state[4] = int(hist[k][j])

    def close(self) -> None:
        """Delete the spill file (it is deleted anyway once this object is garbage collected)."""
        self._dir.close()
        self._buffer, self._buffered = [], 0

    # ------------------------------------------------------------------ pandas' answers

    def _gathered(self, ranks: NDArray[np.intp]) -> NDArray[Any]:
        values = self.values_at([int(r) for r in ranks.ravel()])
        dtype = np.int64 if self.integer else np.float64
        return np.asarray([values[int(r)] for r in ranks.ravel()], dtype=np.float64).astype(dtype)

    def median(self) -> float:
        """``Series.median()`` of the window's non-null values."""
        n = self.n
        if n == 0:
            return math.nan
        middle = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
        values = self._gathered(np.asarray(middle, dtype=np.intp)).astype(np.float64)
        return float(np.median(values))

    def quantiles(self, qs: list[float], method: str) -> list[Any]:
        """``Series.quantile(qs, interpolation=method).tolist()`` of the window's non-null values.

        Replays numpy's ``np.quantile`` (which pandas calls) on the few order statistics it reads: the
        same virtual indexes, neighbours, gamma and interpolation.
        """
        import importlib

        # numpy's own quantile steps (private, so untyped): the same arithmetic as np.quantile, bit for bit
        impl = importlib.import_module("numpy.lib._function_base_impl")
        n = self.n
        if n == 0:
            return [math.nan] * len(qs)
        quantiles = np.asarray(qs, dtype=np.float64)
        props = impl._QuantileMethods[method]
        virtual = np.asanyarray(props["get_virtual_index"](n, quantiles))
        dtype = np.int64 if self.integer else np.float64
        if props["fix_gamma"] is None:
            result = self._gathered(virtual.astype(np.intp))
        else:
            previous, following = impl._get_indexes(np.zeros(0, dtype=dtype), virtual, n)
            previous_values = self._gathered(np.where(previous < 0, n + previous, previous))
            following_values = self._gathered(np.where(following < 0, n + following, following))
            gamma = impl._get_gamma(virtual, previous, props)
            result = impl._lerp(previous_values, following_values, gamma)
        return list(pd.Series(np.asarray(result)).tolist())
