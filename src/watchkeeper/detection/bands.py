"""Thresholds learned from the reference: split it into window-sized chunks, measure a statistic on each, and
alert outside the band the reference itself shows.

A fixed effect size (PSI 0.1) misses modest real drift on a stable reference and over-flags a reference that
is itself non-stationary. A learned band adapts to both: ``mean + k * std`` of the statistic over the
reference's own chunks (or a high quantile), with the fixed effect size as a floor so huge samples do not
alert on trivia. Too few chunks to learn from: no band, and the caller falls back to the fixed threshold and
says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

#: Fewer reference chunks than this and no band is learned (the fixed threshold applies, with a note).
MIN_CHUNKS = 8
#: Default width of the band in standard deviations of the chunk statistics.
DEFAULT_K = 3.0


@dataclass(frozen=True)
class Band:
    """The range a statistic takes on the reference's own chunks.

    ``upper``/``lower`` are the learned limits (None: that side is not judged); ``floor`` is the fixed
    effect size below which a value is never a finding, however narrow the band.
    """

    upper: float | None
    lower: float | None
    mean: float
    std: float
    n_chunks: int
    method: str
    floor: float | None = None

    def exceeded(self, value: float) -> bool:
        """Whether ``value`` lies outside the band (and above the floor, when one is set)."""
        if not math.isfinite(value):
            return False
        if self.floor is not None and value < self.floor:
            return False
        return (self.upper is not None and value > self.upper) or (self.lower is not None and value < self.lower)

    def describe(self) -> str:
        """``band [0.01, 0.07] from 24 reference chunks (mean+3sd)``: shown next to the value."""
        low = "-inf" if self.lower is None else f"{self.lower:.4g}"
        high = "inf" if self.upper is None else f"{self.upper:.4g}"
        floor = f", floor {self.floor:g}" if self.floor is not None else ""
        return f"band [{low}, {high}] from {self.n_chunks} reference chunks ({self.method}{floor})"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (stored with the baseline)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Band:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


def learn_band(
    values: Sequence[float] | np.ndarray,
    *,
    k: float = DEFAULT_K,
    quantile: float | None = None,
    two_sided: bool = False,
    floor: float | None = None,
    min_chunks: int = MIN_CHUNKS,
) -> Band | None:
    """The band of a statistic over reference chunks, or None when fewer than ``min_chunks`` are finite.

    ``quantile`` (e.g. 0.99) uses that quantile of the chunk values as the upper limit instead of
    ``mean + k * std``; ``two_sided`` also sets a lower limit (for statistics such as a mean error, where a
    fall is as suspicious as a rise).
    """
    arr = np.asarray(values, dtype="float64")
    arr = arr[np.isfinite(arr)]
    if arr.size < min_chunks:
        return None
    mean = float(arr.mean())
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    if quantile is not None:
        upper = float(np.quantile(arr, quantile))
        lower = float(np.quantile(arr, 1 - quantile)) if two_sided else None
        method = f"q{quantile:g}"
    else:
        upper = mean + k * std
        lower = mean - k * std if two_sided else None
        method = f"mean+{k:g}sd" if not two_sided else f"mean+-{k:g}sd"
    return Band(upper=upper, lower=lower, mean=mean, std=std, n_chunks=int(arr.size), method=method, floor=floor)


def chunk_indices(
    n_rows: int,
    *,
    timestamps: pd.Series | None = None,
    period: timedelta | None = None,
    chunk_rows: int | None = None,
    min_rows: int = 1,
) -> list[np.ndarray]:
    """Row positions of the reference's chunks: by ``period`` of ``timestamps`` when both are given, else
    consecutive runs of ``chunk_rows`` rows. Chunks with fewer than ``min_rows`` rows are dropped (a partial
    last chunk would widen the band with noise)."""
    if timestamps is not None and period is not None:
        ts = pd.to_datetime(timestamps, utc=True, errors="coerce")
        valid = ts.notna().to_numpy()
        if valid.any():
            origin = ts[valid].min()
            codes = np.full(n_rows, -1, dtype="int64")
            codes[valid] = ((ts[valid] - origin) // pd.Timedelta(period)).to_numpy(dtype="int64")
            order = np.argsort(codes, kind="stable")
            sorted_codes = codes[order]
            cuts = np.flatnonzero(np.diff(sorted_codes)) + 1
            groups = np.split(order, cuts)
            return [g for g in groups if codes[g[0]] >= 0 and g.size >= min_rows]
    if chunk_rows is None or chunk_rows <= 0:
        raise ValueError("chunk_indices needs timestamps and a period, or chunk_rows > 0")
    starts = range(0, n_rows, chunk_rows)
    return [np.arange(s, min(s + chunk_rows, n_rows)) for s in starts if min(s + chunk_rows, n_rows) - s >= min_rows]
