"""Whole-column GX expectations on a window fed in chunks, exactly and in bounded memory.

Used by :class:`watchkeeper.gx_runner.GxRunner` once a window spans more than one chunk:

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
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np  # noqa: TID253 -- task-side module, imported only by GxRunner while it runs
import pandas as pd  # noqa: TID253
from numpy.typing import NDArray  # noqa: TID253

from watchkeeper.gx_runner import ColumnStats, Handling, NotMergeable, _Outcome, expectation_columns, judge_value
from watchkeeper.profile.sketch import DuplicateCounter

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
        self._dir: Path | None = None

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
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="watchkeeper-order-"))
        with open(self._dir / "values.f64", "ab") as handle:
            for part in self._buffer:
                handle.write(part.tobytes())
        self._buffer, self._buffered = [], 0

    def _blocks(self) -> Any:
        yield from self._buffer
        if self._dir is not None:
            with open(self._dir / "values.f64", "rb") as handle:
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
        if self._dir is None:  # everything fits in the buffer
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
        """Delete the spill file."""
        if self._dir is not None:
            for path in self._dir.glob("*.f64"):
                path.unlink()
            os.rmdir(self._dir)
            self._dir = None
        self._buffer, self._buffered = [], 0

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: best effort
            pass

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


# --------------------------------------------------------------------------- the runner's state

Validate = Callable[[list[int], pd.DataFrame], dict[int, _Outcome]]
_QUANTILE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


class WindowColumns:
    """Bounded state of a window's whole-column expectations, fed chunk by chunk (see the module docstring)."""

    def __init__(self, expectations: list[dict[str, Any]], handling: list[Handling], memory_values: int) -> None:
        self.expectations = expectations
        self.memory_values = memory_values
        self.by_how: dict[Handling, list[int]] = {}
        for i, how in enumerate(handling):
            self.by_how.setdefault(how, []).append(i)
        self.rows = 0
        self.seen: set[str] = set()
        self.counters: dict[tuple[str, ...], DuplicateCounter] = {}
        self.carry: dict[str, pd.Series] = {}
        self.values: dict[str, ValueCounts] = {}
        self.order: dict[str, OrderStatistics] = {}
        self.stats: dict[str, ColumnStats] = {}

    def _columns(self, i: int) -> list[str]:
        return expectation_columns(self.expectations[i]) or []

    def _key(self, i: int) -> tuple[str, ...]:
        """The hash counter an expectation reads: one column's values, or rows of a column list."""
        kwargs = self.expectations[i].get("kwargs") or {}
        if "column_list" in kwargs:
            return (*self._columns(i), f"ignore_row_if={kwargs.get('ignore_row_if') or 'all_values_are_missing'}")
        return tuple(self._columns(i))

    def add(self, chunk: pd.DataFrame) -> None:
        """Fold one chunk into the hash counters, value counts and order statistics."""
        self.rows += len(chunk)
        self.seen.update(str(c) for c in chunk.columns)
        for i in self.by_how.get(Handling.REPEATS, []) + self.by_how.get(Handling.DISTINCT, []):
            key = self._key(i)
            if key in self.counters and self.counters[key].ids + self.counters[key].nulls >= self.rows:
                continue  # already folded for another expectation on the same key
            counter = self.counters.setdefault(key, DuplicateCounter(self.memory_values))
            self._add_hashes(counter, key, chunk)
        for i in self.by_how.get(Handling.VALUES, []):
            column = self._columns(i)[0]
            counts = self.values.setdefault(column, ValueCounts())
            if counts.rows < self.rows:
                counts.add(chunk[column] if column in chunk.columns else pd.Series([None] * len(chunk), dtype=object))
                counts.rows = self.rows
        for i in self.by_how.get(Handling.ZSCORES, []):
            column = self._columns(i)[0]
            stats = self.stats.setdefault(column, ColumnStats(column))
            if stats.rows < self.rows:
                stats.add(chunk[column] if column in chunk.columns else None, len(chunk))
        for i in self.by_how.get(Handling.ORDER, []) + self.by_how.get(Handling.ZSCORES, []):
            column = self._columns(i)[0]
            order = self.order.setdefault(column, OrderStatistics(self.memory_values))
            if order.rows < self.rows:
                if column in chunk.columns:
                    order.add(chunk[column])
                order.rows = self.rows

    def _add_hashes(self, counter: DuplicateCounter, key: tuple[str, ...], chunk: pd.DataFrame) -> None:
        columns = [c for c in key if not c.startswith("ignore_row_if=")]
        if not all(c in chunk.columns for c in columns):
            counter.nulls += len(chunk)  # GX reports the missing column for this chunk
            return
        if len(columns) < len(key):
            rows = considered_rows(chunk, columns, key[-1].split("=", 1)[1])
            counter.nulls += len(chunk) - len(rows)
            counter.add_hashes(row_hashes(rows, columns))
            return
        present = chunk[columns[0]].notna().to_numpy(dtype=bool)
        counter.add_hashes(value_hashes(chunk[columns[0]])[present], int(len(chunk) - present.sum()))

    def sequence_frames(self, chunk: pd.DataFrame) -> list[tuple[list[int], pd.DataFrame, bool]]:
        """Per column of the increasing/decreasing expectations: the frame GX judges for this chunk (the
        previous chunk's last non-null value first, when there is one) and whether that value was added."""
        frames = []
        by_column: dict[str, list[int]] = {}
        for i in self.by_how.get(Handling.SEQUENCE, []):
            by_column.setdefault(self._columns(i)[0], []).append(i)
        for column, indices in by_column.items():
            if column not in chunk.columns:  # GX reports the missing column for this chunk
                frames.append((indices, pd.DataFrame(index=pd.RangeIndex(len(chunk))), False))
                continue
            values = chunk[column].reset_index(drop=True)
            carry = self.carry.get(column)
            frame = values if carry is None else pd.concat([carry, values], ignore_index=True)
            frames.append((indices, pd.DataFrame({column: frame}), carry is not None))
            present = values.dropna()
            if len(present):
                self.carry[column] = present.iloc[-1:].reset_index(drop=True)
        return frames

    # ------------------------------------------------------------------ outcomes

    def outcomes(self, validate: Validate, parameters: dict[str, Any]) -> dict[int, _Outcome]:
        """Outcomes of the VALUES, DISTINCT and ORDER expectations; REPEATS' unexpected counts in ``repeats``."""
        out: dict[int, _Outcome] = {}
        pending = [i for how in (Handling.VALUES, Handling.DISTINCT, Handling.ORDER) for i in self.by_how.get(how, [])]
        unseen = [i for i in pending if not all(c in self.seen for c in self._columns(i))]
        out.update(validate(unseen, pd.DataFrame(index=pd.RangeIndex(self.rows))))  # GX names the missing column
        pending = [i for i in pending if i not in unseen]
        by_column: dict[str, list[int]] = {}
        for i in pending:
            kind = str(self.expectations[i].get("type"))
            column = self._columns(i)[0]
            if i in self.by_how.get(Handling.VALUES, []):
                by_column.setdefault(column, []).append(i)
            elif i in self.by_how.get(Handling.DISTINCT, []):
                out[i] = self._distinct(i, kind, parameters)
            else:
                out[i] = self._order(i, kind, parameters, validate)
        for column, indices in by_column.items():
            counts = self.values[column]
            if counts.error is not None:  # values pandas cannot count: GX fails on the whole window the same way
                for i in indices:
                    kwargs = dict(self.expectations[i].get("kwargs") or {})
                    out[i] = _Outcome(str(self.expectations[i].get("type")), kwargs, False, {}, None, counts.error)
                continue
            out.update(validate(indices, counts.frame(column)))
        return out

    def repeated_rows(self, i: int) -> int:
        """Rows of a uniqueness expectation whose value (or row of values) occurs more than once."""
        return self.counters[self._key(i)].group_counts()[1]

    def z_score_unexpected(self, i: int, parameters: dict[str, Any]) -> int | str:
        """Non-null rows whose z-score against the window's mean and standard deviation (merged statistics)
        is not under the threshold, as GX's condition judges them; a reason when they cannot be judged."""
        from great_expectations.core.suite_parameters import build_suite_parameters

        column = self._columns(i)[0]
        order, stats = self.order[column], self.stats[column]
        kwargs, _ = build_suite_parameters(dict(self.expectations[i].get("kwargs") or {}), parameters)
        try:
            mean, std = stats.metric("column.mean"), stats.metric("column.standard_deviation")
        except (NotMergeable, TypeError) as exc:
            return f"the z-scores of this column are not computed across chunks: {exc}"
        if order.unsupported is not None:
            return f"the z-scores of a {order.unsupported} column are not computed across chunks"
        if std is None or std == 0 or math.isnan(std) or order.neg_inf or order.pos_inf:
            return 0  # undefined z-scores meet the expectation (GX treats NaN as under the threshold)
        threshold = float(kwargs["threshold"])
        double_sided = bool(kwargs.get("double_sided", True))
        unexpected = 0
        dtype = np.int64 if order.integer else np.float64
        for block in order._blocks():
            with np.errstate(all="ignore"):
                z = (block.astype(dtype) - mean) / std
                under = np.abs(z) < abs(threshold) if double_sided else z < threshold
            unexpected += int(np.count_nonzero(~(under | np.isnan(z))))
        return unexpected

    def _distinct(self, i: int, kind: str, parameters: dict[str, Any]) -> _Outcome:
        counter = self.counters[self._key(i)]
        distinct = counter.group_counts()[0]
        if kind == "expect_column_unique_value_count_to_be_between":
            return judge_value(self.expectations[i], "column.distinct_values.count", distinct, parameters)
        non_null = self.rows - counter.nulls
        proportion = distinct / non_null if self.rows > 0 and non_null else 0
        return judge_value(self.expectations[i], "column.unique_proportion", proportion, parameters)

    def _order(self, i: int, kind: str, parameters: dict[str, Any], validate: Validate) -> _Outcome:
        from great_expectations.core.suite_parameters import build_suite_parameters

        exp = self.expectations[i]
        column = self._columns(i)[0]
        order = self.order[column]
        if order.unsupported is not None:
            if order.sample is not None:  # text, dates...: where GX fails on them, it fails on a few of them alike
                tried = validate([i], pd.DataFrame({column: order.sample}))[i]
                if tried.error is not None or tried.metric_error is not None:
                    return tried
            reason = f"order statistics of a {order.unsupported} column are not computed across chunks"
            return _Outcome(kind, dict(exp.get("kwargs") or {}), True, {}, skipped=reason)
        if kind == "expect_column_median_to_be_between":
            with np.errstate(all="ignore"):
                return judge_value(exp, "column.median", order.median(), parameters)
        kwargs, _ = build_suite_parameters(dict(exp.get("kwargs") or {}), parameters)
        method = kwargs.get("allow_relative_error") or "nearest"
        quantiles = list((kwargs.get("quantile_ranges") or {}).get("quantiles") or [])
        if method not in _QUANTILE_METHODS:
            reason = (
                "If specified for pandas, allow_relative_error must be one an allowed value for the 'interpolation'"
                f"parameter of .quantile() (one of {_QUANTILE_METHODS})"
            )
            return _Outcome(kind, kwargs, False, {}, None, reason)
        with np.errstate(all="ignore"):
            values = order.quantiles([float(q) for q in quantiles], str(method))
        return judge_value(exp, "column.quantile_values", values, parameters)

    def close(self) -> None:
        """Delete every spill file."""
        for counter in self.counters.values():
            counter.close()
        for order in self.order.values():
            order.close()
