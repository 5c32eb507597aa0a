"""Score a prediction window on its ground-truth labels: coverage, metrics with intervals, segments,
baseline rules and change detection. The performance DAG and ``watchkeeper check`` both call
:func:`score_window`; results are recorded as the window's ``performance`` rows (replacing earlier
ones, so labels that arrive late recompute the window idempotently).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from watchkeeper.baseline import ensure_baseline
from watchkeeper.catalogs import performance as catalog
from watchkeeper.config import TaskType
from watchkeeper.labels import TRUE, join_labels, read_labels
from watchkeeper.results import CheckResult, Status, Window
from watchkeeper.rules import apply_rules
from watchkeeper.sources import read_window

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig, ModelConfig
    from watchkeeper.performance.trend import Point
    from watchkeeper.store import MetricStore

log = logging.getLogger(__name__)

CHECK = "performance"
#: Metrics whose history is watched by the change detector by default (``performance.trend.metrics``).
TREND_METRICS = {task: catalog.TREND_DEFAULT[str(task)] for task in TaskType}
DEFAULT_SEGMENT_METRIC = {task: catalog.SEGMENT_DEFAULT[str(task)] for task in TaskType}


@dataclass
class PerformanceReport:
    """The outcome of scoring one window."""

    model: str
    window: Window
    scored: bool
    reason: str
    coverage: float
    n_labelled: int
    results: list[CheckResult]


def _result(
    metric: str,
    value: float | None,
    status: Status,
    message: str,
    *,
    subject: str = "",
    threshold: float | None = None,
    **details: Any,
) -> CheckResult:
    return CheckResult(CHECK, metric, subject, value, threshold, status, message, details)


def reference_performance(config: LoadedConfig, reference: pd.DataFrame) -> dict[str, Any] | None:
    """Performance on the reference (validation) data, its window-sized chunks (for trends) and the fitted
    estimator of performance while labels are pending (see :mod:`watchkeeper.performance.estimators`).

    Without the label column (``performance.labels.label``) or the prediction column in the reference there is
    no reference performance: only the estimator entry, which says why it was skipped.
    """
    from watchkeeper.performance import compute_metrics
    from watchkeeper.performance.estimators import fit_estimator

    model = config.model
    perf = model.performance
    if perf is None:
        return None
    estimator = fit_estimator(config, reference)
    log_cfg = model.predictions
    if perf.labels.label not in reference.columns or log_cfg.prediction not in reference.columns:
        return {"metrics": {}, "estimator": estimator}
    y_score = reference[log_cfg.score] if log_cfg.score and log_cfg.score in reference.columns else None
    values = compute_metrics(
        str(model.task),
        reference[perf.labels.label],
        reference[log_cfg.prediction],
        y_score,
        positive_label=model.prediction_checks.positive_class,
    )
    out: dict[str, Any] = {"metrics": {k: v.value for k, v in values.items() if v.value is not None}}
    out["chunks"] = _reference_chunks(config, reference, y_score)
    out["estimator"] = estimator
    if estimator.get("kind") == "binary" and "calibrator" in estimator:
        out["calibrator"] = estimator["calibrator"]  # read by the window profile (binary estimation counts)
    return out


def _reference_chunks(config: LoadedConfig, reference: pd.DataFrame, y_score: pd.Series | None) -> dict[str, Any]:
    """Metrics over window-sized chunks of the reference, for the trend detector (``{"error": ...}`` on failure)."""
    from watchkeeper.performance.trend import reference_chunk_stats, window_period

    model = config.model
    perf = model.performance
    assert perf is not None
    period = window_period(model.schedule)
    ts_col = model.predictions.timestamp
    per_day = model.quality.volume.expected_rows_per_day
    target = int(per_day * period.total_seconds() / 86400) if per_day and period else None
    try:
        return reference_chunk_stats(
            str(model.task),
            reference[perf.labels.label],
            reference[model.predictions.prediction],
            y_score,
            positive_label=model.prediction_checks.positive_class,
            timestamps=reference[ts_col] if ts_col in reference.columns else None,
            period=period,
            target_rows=target,
            min_chunks=perf.trend.min_chunks,
        )
    except Exception as exc:  # trend standardisation is optional: the history then sets the noise
        log.warning("model=%s: no reference chunks for trend detection (%s)", model.name, exc)
        return {"error": str(exc), "metrics": {}}


def estimated_results(config: LoadedConfig, df: pd.DataFrame, baseline: dict[str, Any]) -> list[CheckResult]:
    """``estimated_*`` metrics of a window while labels are pending -- binary, multiclass or regression -- or one
    ``skipped`` row saying why the model has none. For a stream of batches use
    :func:`watchkeeper.performance.estimators.window_estimator` (``update`` per batch, then ``results``)."""
    from watchkeeper.performance.estimators import estimated_results as estimate

    return estimate(config, df, baseline)


def _trend_results(
    config: LoadedConfig, window: Window, current: dict[str, Point], store: MetricStore, baseline: dict[str, Any]
) -> list[CheckResult]:
    from watchkeeper.performance.trend import Point, trend_result

    perf = config.model.performance
    assert perf is not None
    trend = perf.trend
    chunks = ((baseline.get("performance") or {}).get("chunks") or {}).get("metrics", {})
    out = []
    for name in trend.metrics or TREND_METRICS[config.model.task]:
        if name not in current:
            continue
        rows = store.metrics(config.model.name, end=window.start, check=CHECK, metric=name, subject="")
        history = [
            Point(r.value, r.details.get("n"))
            for r in rows
            if r.value is not None and r.status is not Status.SKIPPED and r.window_end <= window.start
        ]
        out.append(
            trend_result(
                name,
                [*history, current[name]],
                higher_is_better=catalog.higher_is_better(name) is not False,
                method=trend.method,
                standardise_from=trend.standardise_from,
                warmup=trend.warmup,
                reference=chunks.get(name),
                min_chunks=trend.min_chunks,
                threshold=trend.threshold,
                params=trend.params,
            )
        )
    return out


def score_window(config: LoadedConfig, window: Window, store: MetricStore, *, record: bool = True) -> PerformanceReport:
    """Score ``window`` on its labels and (by default) record the results as its performance rows."""
    from watchkeeper.performance import compute_metrics, confidence_intervals, segment_findings, validate_labels
    from watchkeeper.performance.trend import Point

    model = config.model
    perf = model.performance
    if perf is None:
        raise ValueError(f"model {model.name} has no performance section")
    _, baseline = ensure_baseline(config, store)
    frame = read_window(config, window)
    labels = read_labels(config, window)
    join = join_labels(
        frame.df, labels, prediction_id=model.predictions.id, label_id=perf.labels.id, label=perf.labels.label
    )
    results: list[CheckResult] = []
    coverage_status = Status.OK if join.coverage >= perf.labels.min_coverage else Status.SKIPPED
    results.append(
        _result(
            "label_coverage",
            join.coverage,
            coverage_status,
            f"{join.n_labelled} of {join.n_predictions} predictions labelled ({join.coverage:.0%}; "
            f"minimum {perf.labels.min_coverage:.0%})",
            threshold=perf.labels.min_coverage,
            **join.stats(),
        )
    )
    if join.conflicts:
        results.append(
            _result(
                "label_conflicts",
                float(join.conflicts),
                Status.WARNING,
                f"{join.conflicts} prediction ids have conflicting labels (the last one was kept)",
            )
        )

    def finish(scored: bool, reason: str, n: int) -> PerformanceReport:
        if record:
            store.record_results(model.name, window, results, checks={CHECK})
        return PerformanceReport(model.name, window, scored, reason, join.coverage, n, results)

    if join.n_predictions == 0:
        return finish(False, "no predictions in window", 0)
    if coverage_status is Status.SKIPPED:
        return finish(
            False,
            f"label coverage {join.coverage:.0%} is below the minimum "
            f"{perf.labels.min_coverage:.0%}: waiting for labels (expected after {perf.labels.delay})",
            join.n_labelled,
        )
    df = join.df
    positive = model.prediction_checks.positive_class
    report = validate_labels(str(model.task), df[TRUE], positive_label=positive, classes=None)
    if report.n_invalid:
        results.append(
            _result(
                "unexpected_labels",
                float(report.n_invalid),
                Status.WARNING,
                report.message,
                invalid=report.invalid,
            )
        )
        df = df[report.valid_mask].reset_index(drop=True)
    orphans = _classes_without_probability(model, df[TRUE])
    if orphans:
        results.append(
            _result(
                "label_without_probability",
                float(sum(orphans.values())),
                Status.WARNING,
                f"{sum(orphans.values())} labelled rows have a class with no probability column in "
                f"predictions.scores ({', '.join(sorted(orphans)[:10])}) -- add it (class: column) so that "
                "estimation and per-class score drift cover it",
                counts=orphans,
            )
        )
    if len(df) < perf.min_samples:
        results.append(
            _result(
                "sample_size",
                float(len(df)),
                Status.SKIPPED,
                f"{len(df)} labelled rows < min_samples {perf.min_samples}: not judged",
                threshold=float(perf.min_samples),
            )
        )
        return finish(False, f"only {len(df)} usable labelled rows (minimum {perf.min_samples})", len(df))
    y_true, y_pred = df[TRUE], df[model.predictions.prediction]
    y_score = df[model.predictions.score] if model.predictions.score else None
    values = compute_metrics(str(model.task), y_true, y_pred, y_score, positive_label=positive)
    intervals = confidence_intervals(
        str(model.task), y_true, y_pred, y_score, list(values), level=perf.confidence_level, positive_label=positive
    )
    reference = (baseline.get("performance") or {}).get("metrics", {})
    estimates = {
        r.metric.removeprefix("estimated_"): r.value
        for r in store.metrics(model.name, window=window, check="prediction")
        if r.metric.startswith("estimated_") and r.value is not None
    }
    current: dict[str, Point] = {}
    for name, mv in values.items():
        if mv.value is None:
            results.append(_result(name, None, Status.SKIPPED, f"{name} undefined: {mv.reason}", n=mv.n))
            continue
        current[name] = Point(mv.value, mv.n)
        lo, hi = intervals.get(name, (None, None))
        details: dict[str, Any] = {"n": mv.n, "ci": [lo, hi], "reference": reference.get(name)}
        msg = f"{name} {mv.value:.4g}"
        if lo is not None and hi is not None:
            msg += f" [{lo:.3g}, {hi:.3g}]"
        if name in estimates:
            details["estimated"] = estimates[name]
            details["estimation_error"] = estimates[name] - mv.value
        results.append(_result(name, mv.value, Status.OK, msg, **details))
    if perf.segments:
        metric = perf.segment_metric or DEFAULT_SEGMENT_METRIC[model.task]
        seg_df = df.rename(columns={TRUE: "__y_true__"})
        for seg in segment_findings(
            seg_df,
            perf.segments,
            task=str(model.task),
            metric=metric,
            y_true_col="__y_true__",
            y_pred_col=model.predictions.prediction,
            y_score_col=model.predictions.score,
            alpha=perf.segment_alpha,
            positive_label=positive,
        ):
            status = Status.WARNING if seg.is_finding else (Status.SKIPPED if seg.skipped else Status.OK)
            results.append(
                _result(
                    f"segment_{metric}",
                    seg.metric_value,
                    status,
                    seg.message,
                    subject=f"{seg.column}={seg.value}",
                    n=seg.n,
                    overall=seg.overall,
                    p_value=seg.p_value,
                    p_adjusted=seg.p_adjusted,
                )
            )
    results = apply_rules(results, perf.rules, model=model.name, window=window, store=store, reference=reference)
    if perf.trend_enabled:
        results += _trend_results(config, window, current, store, baseline)
    return finish(True, f"scored {len(df)} labelled predictions ({join.coverage:.0%} coverage)", len(df))


def _classes_without_probability(model: ModelConfig, y_true: pd.Series) -> dict[str, int]:
    """Multiclass with ``predictions.scores``: rows per true class that has no probability column."""
    scores = model.predictions.score_columns()
    if model.task is not TaskType.MULTICLASS_CLASSIFICATION or not scores:
        return {}
    from watchkeeper.performance.labels import normalize_labels

    labels = pd.Series(normalize_labels(y_true)).dropna()
    counts = labels[~labels.isin(list(scores))].value_counts()
    return {str(k): int(v) for k, v in counts.items()}
