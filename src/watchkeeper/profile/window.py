"""The window profile: everything the checks need from one window, built in one streamed pass.

:class:`ProfileSpec` says what to count (from the model config and its stored baseline: the features'
reference grids and categories, the score grid, the fitted performance estimator...).
:class:`WindowProfile` holds the counts: per feature its :mod:`~watchkeeper.drift.counts`, the
score/prediction/confidence aggregates, the running state of the performance estimator (binary,
multiclass or regression: see :mod:`watchkeeper.performance.estimators`), a latency sketch, status
counts, row count, newest timestamp and the duplicate-id count. ``WindowProfile.add_batch(df)`` folds one batch in;
``merge`` combines two profiles (associative; a profile of concatenated batches equals the merge of
the batches' profiles, floating sums up to rounding). The four check families are computed from it
(:mod:`watchkeeper.profile.families`) and it is stored with the run (:mod:`watchkeeper.profile.codec`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from watchkeeper.config import FeatureKind, TaskType
from watchkeeper.detection.multivariate import PcaDriftModel, ReconstructionError
from watchkeeper.drift.counts import (
    CategoricalCounts,
    FeatureCounts,
    NumericalCounts,
    coerce_numeric,
    empty_counts,
)
from watchkeeper.drift.engine import LearnedBand
from watchkeeper.drift.profile import category_label, to_float_array
from watchkeeper.profile.probabilities import ProbabilityCounts
from watchkeeper.profile.sketch import DuplicateCounter, QuantileSketch

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig
    from watchkeeper.performance.estimators import Estimator

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ProfileSpec:
    """What a window profile counts, resolved once per run from the config and the baseline."""

    baseline_hash: str
    task: TaskType
    timestamp: str
    id: str
    features: dict[str, str]
    profiles: dict[str, dict[str, Any]]
    prediction: str
    score: str | None
    score_profile: dict[str, Any] | None
    class_scores: dict[str, str]
    class_score_profiles: dict[str, dict[str, Any]]
    prediction_profile: dict[str, Any] | None
    classes: tuple[str, ...]
    positive_class: str
    low_confidence: float
    #: Multiclass ``scores``: allowed ``|sum of the class probabilities - 1|``.
    probability_tolerance: float
    latency: str | None
    status: str | None
    error_values: frozenset[str]
    #: The window estimator fitted on the reference (a template: profiles hold ``estimator.fresh()``), or None
    #: when the model has no performance section. A model that cannot be estimated gets the estimator that
    #: reports one ``skipped`` row with the reason.
    estimator: Estimator | None = None
    #: The multivariate drift detector fitted with the baseline (None unless ``drift.multivariate.enabled`` and
    #: the baseline holds it).
    multivariate: PcaDriftModel | None = None
    #: Per-feature drift thresholds learned from the reference (``drift.threshold_mode: learned``), else None.
    learned: dict[str, LearnedBand] | None = None

    @classmethod
    def from_config(cls, config: LoadedConfig, baseline: Mapping[str, Any], baseline_hash: str = "") -> ProfileSpec:
        """The spec of ``config``'s windows against ``baseline``."""
        model = config.model
        log = model.predictions
        ref_features: Mapping[str, Any] = baseline.get("features") or {}
        features = {n: str(k) for n, k in log.features.items() if n in ref_features}
        class_profiles: Mapping[str, Any] = baseline.get("class_scores") or {}
        class_scores = {c: col for c, col in log.score_columns().items() if c in class_profiles}
        estimator = None
        if model.performance is not None:
            from watchkeeper.performance.estimators import window_estimator

            estimator = window_estimator(config, baseline)
        fitted = baseline.get("multivariate")
        multivariate = None
        if model.drift.multivariate.enabled and isinstance(fitted, Mapping):
            multivariate = PcaDriftModel.from_dict(dict(fitted))
        learned = learned_bands(config, baseline, features) if model.drift.threshold_mode == "learned" else None
        return cls(
            baseline_hash=str(baseline_hash or baseline.get("hash") or ""),
            task=model.task,
            timestamp=log.timestamp,
            id=log.id,
            features=features,
            profiles={n: dict(ref_features[n]) for n in features},
            prediction=log.prediction,
            score=log.score,
            score_profile=baseline.get("score") if log.score else None,
            class_scores=class_scores,
            class_score_profiles={c: dict(class_profiles[c]) for c in class_scores},
            prediction_profile=baseline.get("prediction") if model.task is TaskType.REGRESSION else None,
            classes=tuple(str(c) for c in (baseline.get("class_rates") or {})),
            positive_class=str(model.prediction_checks.positive_class),
            low_confidence=float(model.prediction_checks.low_confidence),
            probability_tolerance=float(model.quality.probability_tolerance),
            latency=log.latency,
            status=log.status,
            error_values=frozenset(v.lower() for v in log.error_values),
            estimator=estimator,
            multivariate=multivariate,
            learned=learned,
        )

    def columns(self) -> list[str]:
        """Columns the profile reads."""
        cols = [self.timestamp, self.id, self.prediction, *self.features, *self.class_scores.values()]
        cols += [c for c in (self.score, self.latency, self.status) if c]
        if self.estimator is not None:
            cols += self.estimator.columns
        return list(dict.fromkeys(cols))


def learned_bands(
    config: LoadedConfig, baseline: Mapping[str, Any], features: Mapping[str, str]
) -> dict[str, LearnedBand]:
    """The features' learned bands stored with the baseline (``learned_bands``), each with why it is absent."""
    from watchkeeper.detection.bands import Band

    stored: Mapping[str, Any] = baseline.get("learned_bands") or {}
    meta: Mapping[str, Any] = baseline.get("learned") or {}
    tests: Mapping[str, Any] = meta.get("tests") or {}
    n_chunks: Mapping[str, Any] = meta.get("n_chunks") or {}
    minimum = config.model.drift.learned.min_chunks
    out: dict[str, LearnedBand] = {}
    for name in features:
        data = stored.get(name)
        if isinstance(data, Mapping):
            out[name] = LearnedBand(band=Band.from_dict(dict(data)), test=tests.get(name))
        elif not meta:
            note = "fixed threshold: the baseline has no learned bands -- rebuild it (`watchkeeper baseline`)"
            out[name] = LearnedBand(note=note)
        else:
            count = int(n_chunks.get(name, meta.get("chunks", 0)) or 0)
            out[name] = LearnedBand(note=f"fixed threshold: reference has {count} chunks < {minimum}")
    return out


def _merge_optional(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a.merge(b)


@dataclass
class WindowProfile:
    """Counts of one window (see the module docstring). Build with :meth:`empty` then :meth:`add_batch`."""

    spec: ProfileSpec
    rows: int = 0
    newest: datetime | None = None
    features: dict[str, FeatureCounts] = field(default_factory=dict)
    #: Rows of batches that lacked a feature column (counted as nulls if it appears elsewhere).
    absent_rows: dict[str, int] = field(default_factory=dict)
    #: Numerical features that arrived with a non-numeric dtype: ``{feature: dtype}``.
    mistyped: dict[str, str] = field(default_factory=dict)
    score: NumericalCounts | None = None
    class_scores: dict[str, NumericalCounts] = field(default_factory=dict)
    prediction_values: NumericalCounts | None = None
    predicted: CategoricalCounts | None = None
    confidence_n: int = 0
    confidence_sum: float = 0.0
    low_confidence: int = 0
    #: Running state of the performance estimator (None when the model has no performance section).
    estimation: Estimator | None = None
    latency: QuantileSketch | None = None
    status: CategoricalCounts | None = None
    status_errors: int = 0
    ids: DuplicateCounter | None = None
    #: Set once the profile is final (or loaded from the store); then ``ids`` is gone.
    id_summary: dict[str, int] | None = None
    #: What the reader noticed (missing/extra columns, unparseable timestamps, files read...).
    scan: dict[str, Any] = field(default_factory=dict)
    #: GX results of the window (dicts of :class:`~watchkeeper.results.CheckResult`), from the pass.
    gx: list[dict[str, Any]] | None = None
    #: Sum and count of the multivariate detector's row errors (None without the detector, or when a stored
    #: profile predates it). Batches that lack one of its feature columns are not counted.
    multivariate: ReconstructionError | None = None
    #: Multiclass ``scores``: rows whose class probabilities are outside [0, 1] or do not sum to 1 (else None).
    probabilities: ProbabilityCounts | None = None

    @classmethod
    def empty(cls, spec: ProfileSpec) -> WindowProfile:
        """A profile with zero counts."""
        score_profile = spec.score_profile
        return cls(
            spec,
            features={name: empty_counts(profile) for name, profile in spec.profiles.items()},
            score=NumericalCounts.empty(score_profile) if score_profile else None,
            class_scores={c: NumericalCounts.empty(p) for c, p in spec.class_score_profiles.items()},
            prediction_values=NumericalCounts.empty(spec.prediction_profile) if spec.prediction_profile else None,
            predicted=CategoricalCounts(spec.classes) if spec.task is not TaskType.REGRESSION else None,
            estimation=spec.estimator.fresh() if spec.estimator is not None else None,
            latency=QuantileSketch() if spec.latency else None,
            status=CategoricalCounts(()) if spec.status else None,
            ids=DuplicateCounter(),
            multivariate=ReconstructionError() if spec.multivariate is not None else None,
            probabilities=ProbabilityCounts(spec.probability_tolerance) if len(spec.class_scores) > 1 else None,
        )

    # -- folding batches ---------------------------------------------------------------------------

    def add_batch(self, df: pd.DataFrame) -> None:
        """Fold one batch of the window's rows (timestamps already in UTC and in the window) in."""
        spec = self.spec
        n = len(df)
        self.rows += n
        if n and spec.timestamp in df.columns:
            newest = df[spec.timestamp].max()
            if newest is not None and not pd.isna(newest):
                value = pd.Timestamp(newest).to_pydatetime(warn=False)
                value = value if value.tzinfo else value.replace(tzinfo=UTC)
                self.newest = value if self.newest is None else max(self.newest, value)
        for name, counts in self.features.items():
            if name not in df.columns:
                self.absent_rows[name] = self.absent_rows.get(name, 0) + n
                continue
            series = df[name]
            if isinstance(counts, NumericalCounts):
                numbers, mistyped = coerce_numeric(series)
                if mistyped and n and series.notna().any():
                    self.mistyped.setdefault(name, str(series.dtype))
                counts.add(numbers, f"numerical feature {name!r}")
            else:
                counts.add(series)
        self._add_predictions(df)
        if self.estimation is not None:
            self.estimation.update(df)
        self._add_service(df)
        if self.ids is not None and spec.id in df.columns:
            self.ids.add(df[spec.id])
        fitted = spec.multivariate
        if self.multivariate is not None and fitted is not None and n:
            if all(c in df.columns for c in (*fitted.numerical, *fitted.categorical)):
                self.multivariate.add_batch(fitted, df)

    def _numbers(self, df: pd.DataFrame, column: str | None) -> FloatArray | None:
        if column is None or column not in df.columns:
            return None
        series = df[column]
        if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            series = pd.to_numeric(series, errors="coerce")
        return to_float_array(series, f"column {column!r}")

    def _add_predictions(self, df: pd.DataFrame) -> None:
        spec = self.spec
        scores = self._numbers(df, spec.score)
        if scores is not None and self.score is not None:
            self.score.add_floats(scores)
        for cls_label, column in spec.class_scores.items():
            values = self._numbers(df, column)
            if values is not None:
                self.class_scores[cls_label].add_floats(values)
        if self.prediction_values is not None:
            values = self._numbers(df, spec.prediction)
            if values is not None:
                self.prediction_values.add_floats(values)
        if self.predicted is not None and spec.prediction in df.columns:
            self.predicted.add(df[spec.prediction])
        if self.probabilities is not None:
            self.probabilities.add_frame(df, list(spec.class_scores.values()))
        self._add_confidence(self._confidence(df, scores))

    def _add_confidence(self, confidence: FloatArray | None) -> None:
        if confidence is not None:
            finite = confidence[np.isfinite(confidence)]
            self.confidence_n += int(finite.size)
            self.confidence_sum += float(finite.sum())
            self.low_confidence += int(np.count_nonzero(finite < self.spec.low_confidence))

    def add_row_level(self, df: pd.DataFrame, *, confidence: bool = False) -> None:
        """Fold in only the parts that need each row: the performance estimator, the multivariate detector,
        the latency sketch, the class-probability checks and, with ``confidence``, the confidence of the
        class-score columns. The profile of a SQL log computed in the database
        (:mod:`watchkeeper.profile.pushdown`) streams those columns through this."""
        spec = self.spec
        if self.estimation is not None:
            self.estimation.update(df)
        if self.latency is not None:
            values = self._numbers(df, spec.latency)
            if values is not None:
                self.latency.add(values)
        fitted = spec.multivariate
        if self.multivariate is not None and fitted is not None and len(df):
            if all(c in df.columns for c in (*fitted.numerical, *fitted.categorical)):
                self.multivariate.add_batch(fitted, df)
        if self.probabilities is not None:
            self.probabilities.add_frame(df, list(spec.class_scores.values()))
        if confidence:
            self._add_confidence(self._confidence(df, None))

    def _confidence(self, df: pd.DataFrame, scores: FloatArray | None) -> FloatArray | None:
        spec = self.spec
        if spec.task is TaskType.REGRESSION:
            return None
        if scores is not None:
            if spec.task is TaskType.BINARY_CLASSIFICATION:
                both: FloatArray = np.maximum(scores, 1.0 - scores)
                return both
            return scores
        if spec.class_scores:
            columns = [self._numbers(df, c) for c in spec.class_scores.values()]
            present = [c for c in columns if c is not None]
            if present:
                stacked = np.vstack(present)
                out: FloatArray = np.max(np.where(np.isnan(stacked), -np.inf, stacked), axis=0)
                out[~np.isfinite(out)] = np.nan
                return out
        return None

    def _add_service(self, df: pd.DataFrame) -> None:
        spec = self.spec
        if self.latency is not None:
            values = self._numbers(df, spec.latency)
            if values is not None:
                self.latency.add(values)
        if self.status is not None and spec.status and spec.status in df.columns:
            column = df[spec.status]
            counted = column.value_counts(dropna=True, sort=False)
            labels: dict[str, int] = {}
            for key, count in zip(counted.index.tolist(), counted.to_numpy().tolist(), strict=True):
                if count:
                    label = category_label(key)
                    labels[label] = labels.get(label, 0) + int(count)
                    if str(key).lower() in spec.error_values:
                        self.status_errors += int(count)
            self.status.add_counts(labels, len(column))

    # -- combining and finishing ---------------------------------------------------------------------

    def merge(self, other: WindowProfile) -> WindowProfile:
        """A profile of both windows' rows (the operands' duplicate counters are consumed)."""
        if self.spec.baseline_hash != other.spec.baseline_hash:
            raise ValueError("cannot merge window profiles built against different baselines")
        newest = [t for t in (self.newest, other.newest) if t is not None]
        absent = dict(self.absent_rows)
        for k, v in other.absent_rows.items():
            absent[k] = absent.get(k, 0) + v
        ids = _merge_optional(self.ids, other.ids)
        id_summary = None
        if self.id_summary is not None or other.id_summary is not None:
            a = self.id_summary or {"n": 0, "nulls": 0, "duplicates": 0}
            b = other.id_summary or {"n": 0, "nulls": 0, "duplicates": 0}
            id_summary = {k: int(a.get(k, 0)) + int(b.get(k, 0)) for k in ("n", "nulls", "duplicates")}
        return WindowProfile(
            self.spec,
            self.rows + other.rows,
            max(newest) if newest else None,
            {name: counts.merge(other.features[name]) for name, counts in self.features.items()},  # type: ignore[arg-type]
            absent,
            {**other.mistyped, **self.mistyped},
            _merge_optional(self.score, other.score),
            {c: v.merge(other.class_scores[c]) for c, v in self.class_scores.items()},
            _merge_optional(self.prediction_values, other.prediction_values),
            _merge_optional(self.predicted, other.predicted),
            self.confidence_n + other.confidence_n,
            self.confidence_sum + other.confidence_sum,
            self.low_confidence + other.low_confidence,
            _merge_estimation(self.estimation, other.estimation),
            _merge_optional(self.latency, other.latency),
            _merge_optional(self.status, other.status),
            self.status_errors + other.status_errors,
            ids,
            id_summary,
            _merge_scan(self.scan, other.scan),
            None if self.gx is None and other.gx is None else [*(self.gx or []), *(other.gx or [])],
            _merge_optional(self.multivariate, other.multivariate),
            _merge_optional(self.probabilities, other.probabilities),
        )

    def finish(self) -> WindowProfile:
        """Settle what needs the whole window: duplicate ids, and features absent from some batches.

        Returns ``self``. A feature absent from every batch of a non-empty window is dropped (the
        schema check reports it); absent from some batches, its rows there count as nulls.
        """
        if self.ids is not None:
            self.id_summary = {"n": self.ids.ids, "nulls": self.ids.nulls, "duplicates": self.ids.duplicates()}
            self.ids.close()
            self.ids = None
        for name, absent in list(self.absent_rows.items()):
            counts = self.features.get(name)
            if counts is None or not absent:
                continue
            if absent >= self.rows:
                del self.features[name]
            else:
                counts.rows += absent
                counts.null_count += absent
        self.absent_rows = {}
        return self

    @property
    def duplicate_ids(self) -> int:
        """Rows whose id already appeared in the window."""
        if self.id_summary is not None:
            return int(self.id_summary.get("duplicates", 0))
        return self.ids.duplicates() if self.ids is not None else 0

    @property
    def ids_counted(self) -> int:
        """Non-null ids counted."""
        if self.id_summary is not None:
            return int(self.id_summary.get("n", 0))
        return self.ids.ids if self.ids is not None else 0


def _merge_estimation(a: Estimator | None, b: Estimator | None) -> Estimator | None:
    """A new estimator holding both states (the estimators' ``merge`` mutates in place: the operands stay)."""
    if a is None or b is None:
        return a if b is None else b
    merged = a.fresh()
    merged.merge(a)
    merged.merge(b)
    return merged


def _merge_scan(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        elif isinstance(value, bool):
            out[key] = bool(out[key]) or value
        elif isinstance(value, int | float):
            out[key] = out[key] + value
        elif isinstance(value, list):
            out[key] = list(dict.fromkeys([*out[key], *value]))
    return out


def feature_kind(spec: ProfileSpec, name: str) -> FeatureKind:
    """The kind of a profiled feature."""
    return FeatureKind(spec.features[name])
