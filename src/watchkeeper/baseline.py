"""Reference baseline: statistics of the reference data, built once, stored, reused by every run.

The payload is plain JSON: per-feature profiles (bin edges and counts, quantiles, category
frequencies, summary statistics), the score and predicted-class distribution, the confidence
profile, the reference's column types and its rows per day. It is keyed by a content hash of the
reference data, and rebuilt when that hash changes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from watchkeeper.config import FeatureKind, TaskType
from watchkeeper.drift.profile import profile_categorical, profile_numerical
from watchkeeper.exceptions import BaselineError
from watchkeeper.sources import read_reference, reference_fingerprint, to_utc

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig
    from watchkeeper.store import MetricStore

log = logging.getLogger(__name__)

BASELINE_VERSION = 1
#: Reference chunks of the multivariate detector's band: fewer rows than this and a chunk is dropped.
MIN_CHUNK_ROWS = 30
#: Chunks aimed for when the reference is split by count.
TARGET_CHUNKS = 20


def column_kind(series: pd.Series) -> str:
    """Coarse type of a column: numerical, boolean, datetime or categorical."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numerical"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "categorical"


def confidence(scores: np.ndarray, task: TaskType) -> np.ndarray:
    """Confidence of each prediction: max(p, 1-p) for binary scores, the score itself otherwise."""
    if task is TaskType.BINARY_CLASSIFICATION:
        both: np.ndarray = np.maximum(scores, 1.0 - scores)
        return both
    return scores


def class_rates(values: pd.Series) -> dict[str, float]:
    """Share of each predicted class (classes as category labels: whole floats without fraction), nulls excluded."""
    from watchkeeper.drift.profile import count_categories

    counts = count_categories(values).counts
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {k: v / total for k, v in ordered} if total else {}


def build_baseline(config: LoadedConfig, df: pd.DataFrame | None = None) -> dict[str, Any]:
    """Build the baseline payload from the reference data."""
    model = config.model
    df = read_reference(config) if df is None else df
    if df.empty:
        raise BaselineError(f"{config.path}: reference: the reference data has no rows -- point it at training data")
    missing = [c for c in model.predictions.features if c not in df.columns]
    if missing:
        raise BaselineError(
            f"{config.path}: predictions.features: {missing} not in the reference data "
            f"(columns: {', '.join(map(str, df.columns))}) -- fix the names or the reference"
        )
    features: dict[str, Any] = {}
    for name, kind in model.predictions.features.items():
        col = df[name]
        if kind is FeatureKind.NUMERICAL:
            if column_kind(col) not in {"numerical", "boolean"}:
                raise BaselineError(
                    f"{config.path}: predictions.features.{name}: reference column is {col.dtype}, not numerical "
                    "-- type the feature 'categorical'"
                )
            features[name] = profile_numerical(col.astype("float64"))
        else:
            features[name] = profile_categorical(col)
    payload: dict[str, Any] = {
        "version": BASELINE_VERSION,
        "built_at": datetime.now(UTC).isoformat(),
        "n_rows": len(df),
        "columns": {str(c): column_kind(df[c]) for c in df.columns},
        "features": features,
        "score": None,
        "confidence": None,
        "class_rates": None,
        "rows_per_day": None,
    }
    log_cfg = model.predictions
    if log_cfg.score and log_cfg.score in df.columns:
        scores = pd.to_numeric(df[log_cfg.score], errors="coerce").to_numpy(dtype="float64")
        payload["score"] = profile_numerical(scores)
        conf = confidence(scores[np.isfinite(scores)], model.task)
        if conf.size:
            payload["confidence"] = {
                "mean": float(conf.mean()),
                "low_share": float((conf < model.prediction_checks.low_confidence).mean()),
            }
    class_columns = {c: col for c, col in log_cfg.score_columns().items() if col in df.columns}
    if class_columns:
        payload["class_scores"] = {
            c: profile_numerical(pd.to_numeric(df[col], errors="coerce")) for c, col in class_columns.items()
        }
        if not log_cfg.score:
            probs = np.vstack(
                [pd.to_numeric(df[col], errors="coerce").to_numpy(dtype="float64") for col in class_columns.values()]
            )
            conf = np.max(np.where(np.isnan(probs), -np.inf, probs), axis=0)
            conf = conf[np.isfinite(conf)]
            if conf.size:
                payload["confidence"] = {
                    "mean": float(conf.mean()),
                    "low_share": float((conf < model.prediction_checks.low_confidence).mean()),
                }
    if model.task is not TaskType.REGRESSION and log_cfg.prediction in df.columns:
        payload["class_rates"] = class_rates(df[log_cfg.prediction])
    elif model.task is TaskType.REGRESSION and log_cfg.prediction in df.columns:
        payload["prediction"] = profile_numerical(pd.to_numeric(df[log_cfg.prediction], errors="coerce"))
    if model.performance is not None:
        from watchkeeper.scoring import reference_performance

        payload["performance"] = reference_performance(config, df)
    if model.quality.volume.expected_rows_per_day:
        payload["rows_per_day"] = model.quality.volume.expected_rows_per_day
    elif log_cfg.timestamp in df.columns:
        ts, _, _ = to_utc(df[log_cfg.timestamp], log_cfg.timezone)
        ts = ts.dropna()
        if len(ts) > 1:
            days = max((ts.max() - ts.min()).total_seconds() / 86400.0, 1.0)
            payload["rows_per_day"] = len(ts) / days
    if model.drift.multivariate.enabled:
        payload["multivariate"] = fit_multivariate(config, df, payload.get("rows_per_day"))
    return payload


def fit_multivariate(config: LoadedConfig, df: pd.DataFrame, rows_per_day: float | None) -> dict[str, Any]:
    """The joint-distribution drift detector fitted on the reference (``PcaDriftModel.to_dict()``).

    Its band is learned from reference chunks of one window each: by the reference timestamps and the
    schedule's period when that gives enough chunks, else by count (the expected rows of a window, or a
    twentieth of the reference).
    """
    from watchkeeper.detection.bands import MIN_CHUNKS, chunk_indices
    from watchkeeper.detection.multivariate import fit_pca_drift
    from watchkeeper.performance.trend import window_period

    model = config.model
    settings = model.drift.multivariate
    numerical = [n for n, k in model.predictions.features.items() if k is FeatureKind.NUMERICAL]
    categorical = [n for n, k in model.predictions.features.items() if k is not FeatureKind.NUMERICAL]
    period = window_period(model.schedule)
    chunks = None
    log_cfg = model.predictions
    if period is not None and log_cfg.timestamp in df.columns:
        ts, _, _ = to_utc(df[log_cfg.timestamp], log_cfg.timezone)
        by_time = chunk_indices(len(df), timestamps=ts, period=period, min_rows=MIN_CHUNK_ROWS)
        if len(by_time) >= MIN_CHUNKS:
            chunks = by_time
    if chunks is None:
        rows = len(df) // TARGET_CHUNKS
        if period is not None and rows_per_day:
            rows = min(rows, int(rows_per_day * period.total_seconds() / 86400.0))
        rows = max(MIN_CHUNK_ROWS, rows)
        chunks = chunk_indices(len(df), chunk_rows=rows, min_rows=rows)
    fitted = fit_pca_drift(
        df, numerical, categorical, variance=settings.variance, chunks=chunks, k=settings.k, min_chunks=MIN_CHUNKS
    )
    return fitted.to_dict()


def baseline_is_stale(config: LoadedConfig, payload: Mapping[str, Any]) -> bool:
    """Whether a stored baseline lacks what the config now asks for (the multivariate detector, or its settings)."""
    settings = config.model.drift.multivariate
    if not settings.enabled:
        return False
    fitted = payload.get("multivariate")
    if not isinstance(fitted, Mapping):
        return True
    band = fitted.get("band") or {}
    method = str(band.get("method") or "")
    return fitted.get("variance") != settings.variance or (bool(method) and method != f"mean+-{settings.k:g}sd")


def ensure_baseline(config: LoadedConfig, store: MetricStore, *, force: bool = False) -> tuple[str, dict[str, Any]]:
    """The current baseline of the model, rebuilt when the reference changed or when ``force``."""
    fingerprint = reference_fingerprint(config)
    current = store.get_baseline(config.model.name)
    stale = current is not None and current[0] == fingerprint and baseline_is_stale(config, current[1])
    if current is not None and current[0] == fingerprint and not force and not stale:
        return current
    log.info("model=%s: building baseline from the reference data (hash %s)", config.model.name, fingerprint)
    payload = build_baseline(config)
    payload["hash"] = fingerprint
    store.save_baseline(config.model.name, fingerprint, payload, replace=force or stale)
    return fingerprint, payload
