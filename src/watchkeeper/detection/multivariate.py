"""Multivariate drift: a change in the joint distribution of the features that per-feature tests miss.

Fitted on the reference: features standardised (numerical) or frequency-encoded (categorical: each value
replaced by its reference frequency), missing values imputed with the reference mean, then a PCA that keeps
``variance`` of the variance. A window's rows are projected and reconstructed; the mean reconstruction
error rises when the correlation structure changes even if every marginal stays the same. The band of
normal errors is learned from the reference's own chunks (:mod:`watchkeeper.detection.bands`).

The window side is streaming and mergeable: :class:`ReconstructionError` adds batches (sum of errors and
row count), so it fits the one-pass window profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from watchkeeper.detection.bands import DEFAULT_K, MIN_CHUNKS, Band, chunk_indices, learn_band

#: Share of the variance the PCA keeps (NannyML's default for its reconstruction-error detector).
DEFAULT_VARIANCE = 0.65
#: Windows with fewer complete rows than this are not judged.
MIN_ROWS = 100


@dataclass(frozen=True)
class PcaDriftModel:
    """The fitted detector, stored with the baseline as JSON (:meth:`to_dict`)."""

    numerical: list[str]
    categorical: list[str]
    means: list[float]
    scales: list[float]
    frequencies: dict[str, dict[str, float]]
    components: list[list[float]]
    reference_error: float
    band: Band | None
    variance: float = DEFAULT_VARIANCE
    n_reference: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "numerical": self.numerical,
            "categorical": self.categorical,
            "means": self.means,
            "scales": self.scales,
            "frequencies": self.frequencies,
            "components": self.components,
            "reference_error": self.reference_error,
            "band": self.band.to_dict() if self.band is not None else None,
            "variance": self.variance,
            "n_reference": self.n_reference,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PcaDriftModel:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["band"] = Band.from_dict(values["band"]) if values.get("band") else None
        return cls(**values)

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        """The rows of ``df`` as the standardised matrix the PCA works on (missing values at the mean: 0)."""
        n = len(df)
        cols: list[np.ndarray] = []
        # means and scales list the numerical columns first, then the categorical ones (offset below)
        for name, mean, scale in zip(self.numerical, self.means, self.scales, strict=False):
            values = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            values = np.where(np.isfinite(values), values, mean)
            cols.append((values - mean) / scale)
        offset = len(self.numerical)
        for i, name in enumerate(self.categorical):
            freq = self.frequencies[name]
            mapped = df[name].astype("string").map(freq).astype("float64").to_numpy(na_value=0.0)
            mean, scale = self.means[offset + i], self.scales[offset + i]
            cols.append((np.nan_to_num(mapped, nan=0.0) - mean) / scale)
        return np.column_stack(cols) if cols else np.zeros((n, 0))

    def row_errors(self, df: pd.DataFrame) -> np.ndarray:
        """Euclidean reconstruction error of each row."""
        x = self.encode(df)
        comps = np.asarray(self.components, dtype="float64")
        recon = (x @ comps.T) @ comps
        return np.asarray(np.sqrt(((x - recon) ** 2).sum(axis=1)), dtype="float64")


def fit_pca_drift(
    reference: pd.DataFrame,
    numerical: list[str],
    categorical: list[str] | None = None,
    *,
    variance: float = DEFAULT_VARIANCE,
    chunk_rows: int | None = None,
    chunks: list[np.ndarray] | None = None,
    k: float = DEFAULT_K,
    min_chunks: int = MIN_CHUNKS,
) -> PcaDriftModel:
    """Fit the detector on the reference and learn its band from the reference's chunks.

    ``chunks`` (row positions, e.g. from :func:`~watchkeeper.detection.bands.chunk_indices` by time) win over
    ``chunk_rows``; with neither, the reference is cut into ``min_chunks * 2`` equal chunks.
    """
    categorical = list(categorical or [])
    means: list[float] = []
    scales: list[float] = []
    frequencies: dict[str, dict[str, float]] = {}
    for name in numerical:
        values = pd.to_numeric(reference[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        finite = values[np.isfinite(values)]
        mean = float(finite.mean()) if finite.size else 0.0
        std = float(finite.std()) if finite.size else 0.0
        means.append(mean)
        scales.append(std if std > 0 else 1.0)
    for name in categorical:
        freq = reference[name].astype("string").value_counts(normalize=True, dropna=True)
        frequencies[name] = {str(k_): float(v) for k_, v in freq.items()}
    # the categorical columns' own mean/scale come from their encoded reference values
    provisional = PcaDriftModel(
        numerical,
        categorical,
        means + [0.0] * len(categorical),
        scales + [1.0] * len(categorical),
        frequencies,
        [],
        0.0,
        None,
        variance,
        len(reference),
    )
    raw = provisional.encode(reference)
    for j in range(len(numerical), raw.shape[1]):
        col = raw[:, j]
        means.append(float(col.mean()))
        std = float(col.std())
        scales.append(std if std > 0 else 1.0)
    base = PcaDriftModel(numerical, categorical, means, scales, frequencies, [], 0.0, None, variance, len(reference))
    x = base.encode(reference)
    _, singular, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    explained = singular**2 / max(float((singular**2).sum()), 1e-300)
    n_comp = int(np.searchsorted(np.cumsum(explained), variance) + 1)
    n_comp = max(1, min(n_comp, vt.shape[0]))
    model = PcaDriftModel(
        numerical, categorical, means, scales, frequencies, vt[:n_comp].tolist(), 0.0, None, variance, len(reference)
    )
    errors = model.row_errors(reference)
    if chunks is None:
        size = chunk_rows or max(1, len(reference) // (min_chunks * 2))
        chunks = chunk_indices(len(reference), chunk_rows=size, min_rows=max(1, size // 2))
    chunk_means = [float(errors[idx].mean()) for idx in chunks if idx.size]
    band = learn_band(chunk_means, k=k, two_sided=True, min_chunks=min_chunks)
    return PcaDriftModel(
        numerical,
        categorical,
        means,
        scales,
        frequencies,
        vt[:n_comp].tolist(),
        float(errors.mean()),
        band,
        variance,
        len(reference),
    )


@dataclass
class ReconstructionError:
    """Mergeable window side: the sum of row errors and the number of rows seen."""

    total: float = 0.0
    rows: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def add_batch(self, model: PcaDriftModel, df: pd.DataFrame) -> None:
        """Add a batch of window rows."""
        if len(df) == 0:
            return
        errors = model.row_errors(df)
        self.total += float(errors.sum())
        self.rows += int(errors.size)

    def merge(self, other: ReconstructionError) -> ReconstructionError:
        """The accumulator of both parts."""
        return ReconstructionError(self.total + other.total, self.rows + other.rows)

    @property
    def mean(self) -> float | None:
        """Mean reconstruction error of the rows seen (None before any row)."""
        return self.total / self.rows if self.rows else None


def judge_reconstruction(model: PcaDriftModel, acc: ReconstructionError, *, min_rows: int = MIN_ROWS) -> dict[str, Any]:
    """``{"value", "status", "message", "band"}`` for one window: ``skipped`` below ``min_rows`` rows or without a
    learned band, ``warning`` outside the band (a band ``k`` of 3 keeps false alarms rare), else ``ok``."""
    value = acc.mean
    if value is None or acc.rows < min_rows:
        return {
            "value": value,
            "status": "skipped",
            "message": f"multivariate drift not judged: {acc.rows} rows < {min_rows}",
            "band": None,
        }
    if model.band is None:
        return {
            "value": value,
            "status": "skipped",
            "message": "multivariate drift not judged: the reference has too few chunks to learn a band from",
            "band": None,
        }
    exceeded = model.band.exceeded(value)
    status = "warning" if exceeded else "ok"
    verb = "outside" if exceeded else "within"
    message = (
        f"PCA reconstruction error {value:.4g} is {verb} the reference's {model.band.describe()} "
        f"(reference mean {model.reference_error:.4g})"
    )
    return {"value": value, "status": status, "message": message, "band": model.band.to_dict()}
