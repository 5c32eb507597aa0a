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
#: A reference whose chunks fire more often than this under the fixed thresholds is called out by the self-check.
SELF_FIRING_SHARE = 0.2


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
    if model.drift.threshold_mode == "learned":
        payload["learned_bands"], payload["learned"] = learn_drift_bands(
            config, df, features, payload.get("rows_per_day")
        )
    return payload


def fit_multivariate(config: LoadedConfig, df: pd.DataFrame, rows_per_day: float | None) -> dict[str, Any]:
    """The joint-distribution drift detector fitted on the reference (``PcaDriftModel.to_dict()``).

    Its band is learned from reference chunks of one window each: by the reference timestamps and the
    schedule's period when that gives enough chunks, else by count (the expected rows of a window, or a
    twentieth of the reference).
    """
    from watchkeeper.detection.bands import MIN_CHUNKS
    from watchkeeper.detection.multivariate import fit_pca_drift

    model = config.model
    settings = model.drift.multivariate
    numerical = [n for n, k in model.predictions.features.items() if k is FeatureKind.NUMERICAL]
    categorical = [n for n, k in model.predictions.features.items() if k is not FeatureKind.NUMERICAL]
    chunks = reference_chunks(config, df, rows_per_day)
    fitted = fit_pca_drift(
        df, numerical, categorical, variance=settings.variance, chunks=chunks, k=settings.k, min_chunks=MIN_CHUNKS
    )
    return fitted.to_dict()


def reference_chunks(config: LoadedConfig, df: pd.DataFrame, rows_per_day: float | None) -> list[np.ndarray]:
    """Row positions of the reference's window-sized chunks: by the reference timestamps and the schedule's
    period when that gives enough chunks, else by count (the expected rows of a window, or a twentieth of the
    reference)."""
    from watchkeeper.detection.bands import MIN_CHUNKS, chunk_indices
    from watchkeeper.performance.trend import window_period

    model = config.model
    period = window_period(model.schedule)
    log_cfg = model.predictions
    if period is not None and log_cfg.timestamp in df.columns:
        ts, _, _ = to_utc(df[log_cfg.timestamp], log_cfg.timezone)
        by_time = chunk_indices(len(df), timestamps=ts, period=period, min_rows=MIN_CHUNK_ROWS)
        if len(by_time) >= MIN_CHUNKS:
            return by_time
    rows = len(df) // TARGET_CHUNKS
    if period is not None and rows_per_day:
        rows = min(rows, int(rows_per_day * period.total_seconds() / 86400.0))
    rows = max(MIN_CHUNK_ROWS, rows)
    return chunk_indices(len(df), chunk_rows=rows, min_rows=rows)


def _drift_features(config: LoadedConfig, profiles: Mapping[str, Any]) -> dict[str, str]:
    """The features whose drift is judged ({name: kind}): profiled and not disabled."""
    overrides = config.model.drift.features
    return {
        n: str(k)
        for n, k in config.model.predictions.features.items()
        if n in profiles and (n not in overrides or overrides[n].enabled)
    }


def chunk_counts(
    config: LoadedConfig, df: pd.DataFrame, profiles: Mapping[str, Any], chunks: list[np.ndarray]
) -> dict[str, list[Any]]:
    """Per judged feature, the counts of each reference chunk against the reference profile (as a window's)."""
    from watchkeeper.drift.counts import coerce_numeric, count_values

    out: dict[str, list[Any]] = {}
    for name, kind in _drift_features(config, profiles).items():
        column = df[name]
        parts = []
        for rows in chunks:
            part = column.iloc[rows]
            if kind == "numerical":
                part = coerce_numeric(part)[0]
            parts.append(count_values(profiles[name], part, f"{kind} feature {name!r}"))
        out[name] = parts
    return out


def chunk_drift_statistics(
    config: LoadedConfig, df: pd.DataFrame, profiles: Mapping[str, Any], chunks: list[np.ndarray]
) -> dict[str, list[tuple[str, float] | None]]:
    """Per judged feature, the drift statistic of each reference chunk against the reference profile
    (``(test, value)``, None where a window would be skipped), computed like the drift family does from counts."""
    from watchkeeper.drift.engine import chunk_statistic
    from watchkeeper.profile.families import config_drift_plan

    features = _drift_features(config, profiles)
    methods, thresholds = config_drift_plan(config, features)
    minimum = config.model.drift.min_sample
    return {
        name: [
            chunk_statistic(name, c, profiles[name], method=methods[name], thresholds=thresholds, min_sample=minimum)
            for c in counts
        ]
        for name, counts in chunk_counts(config, df, profiles, chunks).items()
    }


def fixed_warning(config: LoadedConfig, feature: str, test: str) -> tuple[float, float]:
    """The fixed (warning, critical) levels of ``feature`` judged with drift test ``test``."""
    from watchkeeper.drift.registry import get_drift_test
    from watchkeeper.profile.families import config_drift_plan

    kind = str(config.model.predictions.features[feature])
    _, thresholds = config_drift_plan(config, {feature: kind})
    warning, critical = thresholds.get(feature) or thresholds.get(test) or get_drift_test(test).default_thresholds
    return float(warning), float(critical)


def learn_drift_bands(
    config: LoadedConfig, df: pd.DataFrame, profiles: Mapping[str, Any], rows_per_day: float | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(learned_bands, learned)`` of the baseline: per feature the band of its drift statistic over the
    reference's window-sized chunks (floor: ``floor_share`` x the fixed warning level), and what they were
    learned from (settings, chunk count and size, each band's drift test, each feature's usable chunks).

    A chunk's statistic is measured against the whole reference profile, exactly as a window's is. Only the
    chunks judged with the feature's most common test count; fewer than ``min_chunks``: no band.
    """
    from collections import Counter

    from watchkeeper.detection.bands import learn_band

    settings = config.model.drift.learned
    chunks = reference_chunks(config, df, rows_per_day)
    stats = chunk_drift_statistics(config, df, profiles, chunks)
    bands: dict[str, Any] = {}
    tests: dict[str, str] = {}
    n_chunks: dict[str, int] = {}
    at_fixed: dict[str, float] = {}
    for name, values in stats.items():
        judged = [v for v in values if v is not None]
        if not judged:
            n_chunks[name] = 0
            continue
        test = Counter(t for t, _ in judged).most_common(1)[0][0]
        series = [v for t, v in judged if t == test]
        n_chunks[name] = len(series)
        warning, _ = fixed_warning(config, name, test)
        at_fixed[name] = sum(v >= warning for v in series) / len(series)
        band = learn_band(series, k=settings.k, floor=settings.floor_share * warning, min_chunks=settings.min_chunks)
        if band is not None:
            bands[name] = band.to_dict()
            tests[name] = test
    sizes = [len(c) for c in chunks]
    learned = {
        "k": settings.k,
        "min_chunks": settings.min_chunks,
        "floor_share": settings.floor_share,
        "chunks": len(chunks),
        "chunk_rows": int(np.median(sizes)) if sizes else 0,
        "tests": tests,
        "n_chunks": n_chunks,
        "at_fixed_warning": at_fixed,
    }
    noisy = sorted(n for n, share in at_fixed.items() if share > SELF_FIRING_SHARE)
    if noisy:
        log.warning(
            "model=%s: the reference fires on itself: %s reach the fixed drift warning level on more than %.0f%% of "
            "its own chunks -- run `watchkeeper calibrate %s`",
            config.model.name,
            ", ".join(noisy),
            SELF_FIRING_SHARE * 100,
            config.model.name,
        )
    return bands, learned


def self_check(config: LoadedConfig, df: pd.DataFrame | None = None) -> dict[str, Any]:
    """How often each feature's drift check fires on the reference's own window-sized chunks, under the fixed
    thresholds and under the bands learned from those chunks (``watchkeeper calibrate``).

    Each chunk is judged exactly like a window (same counts, same test, same noise test). The learned bands are
    learned from the same chunks they are then judged on (whatever ``drift.threshold_mode`` says), so their
    firing rate is an in-sample figure. Returns ``{"chunks", "chunk_rows", "features": {name: {...}}}``, each
    feature with its ``test``, ``fixed`` and ``learned`` firing counts (``learned`` None without a band), its
    ``band`` and whether the reference ``fires_on_itself`` (fixed share above :data:`SELF_FIRING_SHARE`).
    """
    from watchkeeper.detection.bands import Band
    from watchkeeper.drift.engine import LearnedBand, feature_drift
    from watchkeeper.profile.families import config_drift_plan
    from watchkeeper.results import Status

    df = read_reference(config) if df is None else df
    payload = build_baseline(config, df)
    profiles = payload["features"]
    if "learned" in payload:
        bands, learned = payload["learned_bands"], payload["learned"]
    else:
        bands, learned = learn_drift_bands(config, df, profiles, payload.get("rows_per_day"))
    chunks = reference_chunks(config, df, payload.get("rows_per_day"))
    features = _drift_features(config, profiles)
    methods, thresholds = config_drift_plan(config, features)
    minimum = config.model.drift.min_sample
    out: dict[str, Any] = {}
    for name, counts in chunk_counts(config, df, profiles, chunks).items():
        band = Band.from_dict(bands[name]) if name in bands else None
        fixed = fired = judged = 0
        test_name = learned["tests"].get(name)
        for current in counts:
            kwargs: dict[str, Any] = {"method": methods[name], "thresholds": thresholds, "min_sample": minimum}
            plain = feature_drift(name, current, profiles[name], **kwargs)
            if plain.status is Status.SKIPPED:
                continue
            judged += 1
            fixed += plain.status.is_finding
            if band is not None:
                lb = LearnedBand(band=band, test=test_name)
                fired += feature_drift(name, current, profiles[name], learned=lb, **kwargs).status.is_finding
        share = fixed / judged if judged else 0.0
        out[name] = {
            "test": test_name or methods[name],
            "chunks": judged,
            "fixed": fixed,
            "learned": fired if band is not None else None,
            "band": band.describe() if band is not None else None,
            "note": None
            if band is not None
            else f"no band: reference has {learned['n_chunks'].get(name, 0)} chunks < {learned['min_chunks']}",
            "fires_on_itself": share > SELF_FIRING_SHARE,
        }
    return {"chunks": len(chunks), "chunk_rows": learned["chunk_rows"], "features": out}


def baseline_is_stale(config: LoadedConfig, payload: Mapping[str, Any]) -> bool:
    """Whether a stored baseline lacks what the config now asks for (the multivariate detector, the learned
    drift bands, or their settings)."""
    drift = config.model.drift
    if drift.threshold_mode == "learned":
        meta = payload.get("learned")
        if not isinstance(meta, Mapping):
            return True
        wanted = (drift.learned.k, drift.learned.min_chunks, drift.learned.floor_share)
        if (meta.get("k"), meta.get("min_chunks"), meta.get("floor_share")) != wanted:
            return True
    settings = drift.multivariate
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
