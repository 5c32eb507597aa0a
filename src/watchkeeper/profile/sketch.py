"""Bounded-memory, mergeable summaries of a window: a relative-error quantile sketch and an exact
duplicate counter.

:class:`QuantileSketch` (for latency) is a DDSketch-style log histogram: a positive value ``x`` falls in
bucket ``ceil(log(x) / log(gamma))`` with ``gamma = (1 + a) / (1 - a)``; every value of a bucket is
represented by ``2 gamma^k / (gamma + 1)``, which is within a relative error ``a`` of it. Quantiles use
the same linear interpolation between order statistics as ``np.percentile``, on represented values, so
a sketch quantile is within ``a`` (relative, :data:`RELATIVE_ACCURACY` = 0.1 %) of ``np.percentile`` on
the raw values whenever the two neighbouring order statistics are. Memory: one counter per occupied
bucket, about ``ln(max / min) / (2 a)`` (under 12,000 counters from 1 microsecond to 1 day in ms).
Zero and negative values are counted apart (as 0 and as their own mirrored buckets).

:class:`DuplicateCounter` counts rows whose id already appeared in the window, exactly up to 64-bit
hash collisions (probability about ``n^2 / 2^65``: 1e-5 for 20 million ids). Hashes are buffered in
memory up to :data:`ID_BUFFER_HASHES` and then spilled to 16 temporary files partitioned by their top
4 bits; counting reads one partition at a time. Memory stays under ``ID_BUFFER_HASHES * 8`` bytes
(plus one partition, 1/16 of the ids, while counting).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from watchkeeper.spill import SpillDir

#: Relative accuracy of :class:`QuantileSketch` quantiles.
RELATIVE_ACCURACY = 0.001
#: Id hashes buffered in memory before :class:`DuplicateCounter` spills them to disk (16 MB).
ID_BUFFER_HASHES = 2_000_000
_PARTITIONS = 16


@dataclass
class QuantileSketch:
    """Relative-error quantile sketch of non-negative values (see the module docstring)."""

    accuracy: float = RELATIVE_ACCURACY
    positive: dict[int, int] = field(default_factory=dict)
    negative: dict[int, int] = field(default_factory=dict)
    zeros: int = 0
    nulls: int = 0

    @property
    def _log_gamma(self) -> float:
        return math.log((1 + self.accuracy) / (1 - self.accuracy))

    @property
    def count(self) -> int:
        """Finite values counted."""
        return self.zeros + sum(self.positive.values()) + sum(self.negative.values())

    def add(self, values: NDArray[np.float64]) -> None:
        """Fold a float array (NaN/inf counted as nulls) into the sketch."""
        finite = values[np.isfinite(values)]
        self.nulls += int(values.size - finite.size)
        if finite.size == 0:
            return
        self.zeros += int(np.count_nonzero(finite == 0))
        for target, part in ((self.positive, finite[finite > 0]), (self.negative, -finite[finite < 0])):
            if part.size:
                keys, counts = np.unique(np.ceil(np.log(part) / self._log_gamma).astype(np.int64), return_counts=True)
                for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
                    target[key] = target.get(key, 0) + count

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """A sketch of both windows."""
        if self.accuracy != other.accuracy:
            raise ValueError("cannot merge quantile sketches of different accuracies")
        positive, negative = dict(self.positive), dict(self.negative)
        for target, source in ((positive, other.positive), (negative, other.negative)):
            for key, count in source.items():
                target[key] = target.get(key, 0) + count
        return QuantileSketch(self.accuracy, positive, negative, self.zeros + other.zeros, self.nulls + other.nulls)

    def _sorted_buckets(self) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        gamma = math.exp(self._log_gamma)
        neg = sorted(self.negative.items(), reverse=True)
        pos = sorted(self.positive.items())
        values = [-2 * gamma**k / (gamma + 1) for k, _ in neg] + ([0.0] if self.zeros else [])
        values += [2 * gamma**k / (gamma + 1) for k, _ in pos]
        counts = [c for _, c in neg] + ([self.zeros] if self.zeros else []) + [c for _, c in pos]
        return np.asarray(values, dtype=np.float64), np.asarray(counts, dtype=np.int64)

    def quantile(self, q: float) -> float | None:
        """The ``q``-quantile (0..1) with ``np.percentile``'s linear interpolation; None when empty."""
        values, counts = self._sorted_buckets()
        n = int(counts.sum())
        if n == 0:
            return None
        rank = q * (n - 1)
        low, high = math.floor(rank), math.ceil(rank)
        ends = np.cumsum(counts)
        lo_value = float(values[int(np.searchsorted(ends, low, side="right"))])
        hi_value = float(values[int(np.searchsorted(ends, high, side="right"))])
        return lo_value + (hi_value - lo_value) * (rank - low)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "accuracy": self.accuracy,
            "positive": {str(k): v for k, v in self.positive.items()},
            "negative": {str(k): v for k, v in self.negative.items()},
            "zeros": self.zeros,
            "nulls": self.nulls,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuantileSketch:
        """Rebuild a sketch from :meth:`to_dict`."""
        return cls(
            float(data["accuracy"]),
            {int(k): int(v) for k, v in (data.get("positive") or {}).items()},
            {int(k): int(v) for k, v in (data.get("negative") or {}).items()},
            int(data.get("zeros", 0)),
            int(data.get("nulls", 0)),
        )


def id_hashes(values: pd.Series) -> tuple[NDArray[np.uint64], int]:
    """64-bit hashes of the non-null ids of a batch, and the number of null ids.

    Integer ids (also whole floats, e.g. an int column with a null) hash as integers, anything else as
    its string, so an id hashes the same in every batch whatever dtype the batch gave it.
    """
    present = values.dropna()
    nulls = len(values) - len(present)
    if pd.api.types.is_numeric_dtype(present.dtype) and not pd.api.types.is_bool_dtype(present.dtype):
        array = present.to_numpy()
        if array.dtype.kind == "f" and np.all(np.mod(array, 1) == 0):
            present = pd.Series(array.astype(np.int64))
    elif not (pd.api.types.is_string_dtype(present.dtype) and not pd.api.types.is_object_dtype(present.dtype)):
        present = present.astype(str)
    hashes = pd.util.hash_pandas_object(present, index=False).to_numpy(dtype=np.uint64)
    return hashes, nulls


def _repeats(data: NDArray[np.uint64]) -> int:
    """Values equal to an earlier one: a sort and a neighbour compare (numpy's hash-based unique is slower)."""
    if data.size < 2:
        return 0
    data = np.sort(data)
    return int(np.count_nonzero(data[1:] == data[:-1]))


class DuplicateCounter:
    """Exact count of repeated ids in a window in bounded memory (see the module docstring)."""

    def __init__(self, buffer_hashes: int = ID_BUFFER_HASHES) -> None:
        self.buffer_hashes = buffer_hashes
        self.nulls = 0
        self.ids = 0
        self._buffer: list[NDArray[np.uint64]] = []
        self._buffered = 0
        self._spill = SpillDir("watchkeeper-ids-")

    def add(self, values: pd.Series) -> None:
        """Fold a batch of ids into the counter."""
        hashes, nulls = id_hashes(values)
        self.add_hashes(hashes, nulls)

    def add_hashes(self, hashes: NDArray[np.uint64], nulls: int = 0) -> None:
        """Fold already hashed ids into the counter."""
        self.nulls += nulls
        self.ids += int(hashes.size)
        if hashes.size:
            self._buffer.append(hashes)
            self._buffered += int(hashes.size)
        if self._buffered > self.buffer_hashes:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        data = np.concatenate(self._buffer)
        part = (data >> np.uint64(60)).astype(np.int64)
        order = np.argsort(part, kind="stable")
        data, part = data[order], part[order]
        bounds = np.searchsorted(part, np.arange(_PARTITIONS + 1))
        for p in range(_PARTITIONS):
            chunk = data[bounds[p] : bounds[p + 1]]
            if chunk.size:
                with open(self._spill.file(f"{p:02d}.u64"), "ab") as handle:
                    handle.write(chunk.tobytes())
        self._buffer, self._buffered = [], 0

    def merge(self, other: DuplicateCounter) -> DuplicateCounter:
        """A counter of both windows' ids (both operands are consumed)."""
        merged = DuplicateCounter(min(self.buffer_hashes, other.buffer_hashes))
        for source in (self, other):
            for chunk in source._iter_chunks():
                merged.add_hashes(chunk)
            merged.nulls += source.nulls
            source.close()
        return merged

    def _iter_chunks(self) -> Any:
        yield from self._buffer
        if self._spill.used:
            for p in range(_PARTITIONS):
                path = self._spill.file(f"{p:02d}.u64")
                if path.exists():
                    yield np.fromfile(path, dtype=np.uint64)

    def duplicates(self) -> int:
        """Rows whose id appeared earlier in the window (non-null ids only)."""
        if not self._spill.used:
            data = np.concatenate(self._buffer) if self._buffer else np.zeros(0, dtype=np.uint64)
            return _repeats(data)
        self._flush()  # the buffer is empty now: the chunks are the spilled partitions, one at a time
        return sum(_repeats(chunk) for chunk in self._iter_chunks())

    def group_counts(self) -> tuple[int, int]:
        """(distinct ids, ids whose value occurs more than once -- every occurrence counted), non-null ids only.

        Reads one partition at a time (all the buffered ids when nothing was spilled).
        """
        if not self._spill.used:
            parts: list[NDArray[np.uint64]] = [np.concatenate(self._buffer)] if self._buffer else []
        else:
            self._flush()
            parts = []
        distinct = repeated = 0
        for data in parts or self._iter_chunks():
            _, counts = np.unique(data, return_counts=True)
            distinct += int(counts.size)
            repeated += int(counts[counts > 1].sum())
        return distinct, repeated

    def close(self) -> None:
        """Delete the spill files (they are deleted anyway once this object is garbage collected)."""
        self._spill.close()
        self._buffer, self._buffered = [], 0
