"""The four check families computed from a window profile: quality, drift, prediction, service.

Each function takes the profile (never the rows) with the config and the baseline, so the CLI, the
Airflow tasks (which load the stored profile) and the tests produce the same results. The drift
statistics are computed only by the drift family; the quality family reads the same counts for the
shares.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from watchkeeper.config import TaskType, Threshold
from watchkeeper.drift.counts import NumericalCounts
from watchkeeper.drift.engine import FeatureLimits, analyze_counts, feature_drift, judge_share, validate_plan
from watchkeeper.quality import crossed, freshness_result, judge, schema_results, volume_result
from watchkeeper.results import CheckResult, Status, Window

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig
    from watchkeeper.profile.window import WindowProfile

#: |z| of a two-proportion test below which a change in a predicted-class rate is noise.
RATE_Z_MIN = 3.0


def limits_of(config: LoadedConfig) -> FeatureLimits:
    """The per-column quality levels and drift's minimum sample of a model."""
    quality = config.model.quality
    return FeatureLimits(
        missing_share=quality.missing_share,
        out_of_range_share=quality.out_of_range_share,
        unseen_category_share=quality.unseen_category_share,
        nonfinite_count=quality.nonfinite_count,
        min_sample=config.model.drift.min_sample,
    )


def _pair(threshold: Threshold) -> tuple[float, float]:
    """(warning, critical) for the drift engine; a missing bound never triggers (a huge finite value)."""
    never = 1e300
    warning = threshold.warning if threshold.warning is not None else threshold.critical
    critical = threshold.critical if threshold.critical is not None else never
    return (warning if warning is not None else never, critical)


def drift_plan(config: LoadedConfig, profile: WindowProfile) -> tuple[dict[str, str], dict[str, tuple[float, float]]]:
    """Drift methods per profiled feature and thresholds per feature or test, from the config."""
    return config_drift_plan(config, {n: profile.spec.features[n] for n in profile.features})


def config_drift_plan(
    config: LoadedConfig, features: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, tuple[float, float]]]:
    """Drift methods and thresholds of ``features`` ({name: kind}) from the config (also used on reference chunks)."""
    model = config.model
    overrides = model.drift.features
    methods: dict[str, str] = {}
    thresholds: dict[str, tuple[float, float]] = {}
    for name, kind in features.items():
        override = overrides.get(name)
        default = model.drift.numerical_method if kind == "numerical" else model.drift.categorical_method
        methods[name] = override.method if override is not None and override.method else default
        if override is not None and override.threshold is not None:
            thresholds[name] = _pair(override.threshold)
    for method, threshold in model.drift.thresholds.items():
        thresholds.setdefault(method, _pair(threshold))
    return methods, thresholds


def _enabled(config: LoadedConfig, profile: WindowProfile) -> list[str]:
    overrides = config.model.drift.features
    return [n for n in profile.features if n not in overrides or overrides[n].enabled]


# --------------------------------------------------------------------------- quality


def quality_results(
    config: LoadedConfig, window: Window, profile: WindowProfile, baseline: Mapping[str, Any], now: datetime
) -> list[CheckResult]:
    """Schema, volume, freshness, per-column quality, duplicate ids and the GX suite's results."""
    results = schema_results(config, profile.scan, profile.mistyped, dict(baseline))
    results.append(volume_result(config, profile.rows, window.hours, dict(baseline)))
    results.append(freshness_result(config, profile.newest, window.end, now))
    names = _enabled(config, profile)
    counts = {n: profile.features[n] for n in names}
    results += analyze_counts(counts, profile.spec.profiles, limits=limits_of(config), families=("quality",))
    results.append(duplicate_ids_result(config, profile))
    results += probability_results(config, profile)
    results += [_result_from(r) for r in profile.gx or []]
    return results


def duplicate_ids_result(config: LoadedConfig, profile: WindowProfile) -> CheckResult:
    """Share of rows whose prediction id already appeared in the window."""
    column = config.model.predictions.id
    threshold = config.model.quality.duplicate_id_share
    n = profile.ids_counted
    if n == 0:
        return CheckResult(
            "quality", "duplicate_id_share", column, None, threshold.warning, Status.SKIPPED, "no ids in window"
        )
    duplicates = profile.duplicate_ids
    share = duplicates / n
    judged = judge_share(share, threshold, n=n, rate=0.0)
    message = f"{duplicates} of {n} rows repeat a prediction id already seen in the window ({share:.3g})"
    if judged.status.is_finding:
        message += f" ({judged.status})"
    return CheckResult(
        "quality",
        "duplicate_id_share",
        column,
        share,
        judged.crossed,
        judged.status,
        message,
        {
            "duplicates": duplicates,
            "ids": n,
            "null_ids": int((profile.id_summary or {}).get("nulls", 0)),
            "critical": judged.critical,
        },  # fmt: skip
    )


def probability_results(config: LoadedConfig, profile: WindowProfile) -> list[CheckResult]:
    """Multiclass ``scores``: shares of rows whose class probabilities lie outside [0, 1]
    (``probability_out_of_range_share``) or do not sum to 1 within the tolerance (``probability_sum_share``).

    Nothing for a model without per-class probabilities; ``skipped`` when no row had all of them.
    """
    counts = profile.probabilities
    if counts is None:
        return []
    quality = config.model.quality
    threshold = quality.invalid_probability_share
    subject = ",".join(profile.spec.class_scores.values())
    n = counts.checked
    if n == 0:
        why = "no row has a value in every probability column of predictions.scores"
        return [
            CheckResult("quality", metric, subject, None, threshold.warning, Status.SKIPPED, why)
            for metric in ("probability_out_of_range_share", "probability_sum_share")
        ]
    cases = (
        ("probability_out_of_range_share", counts.out_of_range, "have a class probability outside [0, 1]"),
        (
            "probability_sum_share",
            counts.off,
            f"have class probabilities that do not sum to 1 (+/- {counts.tolerance:g}; worst off by "
            f"{counts.worst_sum_error:.3g})",
        ),
    )
    out = []
    for metric, bad, what in cases:
        share = bad / n
        judged = judge_share(share, threshold, n=n, rate=0.0)
        message = f"{bad} of {n} rows {what}"
        if judged.status.is_finding:
            message += (
                f" ({judged.status}) -- predictions.scores must name per-class probabilities (e.g. softmax "
                "outputs); check the columns and the model's output layer"
            )
        details = {"rows": bad, "checked": n, "incomplete": counts.incomplete, "critical": judged.critical}
        if metric == "probability_sum_share":
            details |= {"tolerance": counts.tolerance, "worst_sum_error": counts.worst_sum_error}
        out.append(CheckResult("quality", metric, subject, share, judged.crossed, judged.status, message, details))
    return out


def _result_from(data: Mapping[str, Any]) -> CheckResult:
    return CheckResult(
        data["check"],
        data["metric"],
        data["subject"],
        data["value"],
        data["threshold"],
        Status(data["status"]),
        data.get("message", ""),
        dict(data.get("details") or {}),
    )


# --------------------------------------------------------------------------- drift


def drift_results(config: LoadedConfig, profile: WindowProfile) -> list[CheckResult]:
    """Feature drift, one result per enabled feature (the only place drift statistics are computed)."""
    names = _enabled(config, profile)
    methods, thresholds = drift_plan(config, profile)
    methods = {n: methods[n] for n in names}
    validate_plan({n: profile.spec.features[n] for n in names}, profile.spec.profiles, methods, thresholds)
    counts = {n: profile.features[n] for n in names}
    results = analyze_counts(
        counts,
        profile.spec.profiles,
        methods,
        thresholds,
        limits=limits_of(config),
        families=("drift",),
        learned=profile.spec.learned,
    )
    if config.model.drift.multivariate.enabled:
        results.append(multivariate_result(config, profile))
    return results


def multivariate_result(config: LoadedConfig, profile: WindowProfile) -> CheckResult:
    """The joint-distribution drift of the window: its mean PCA reconstruction error against the reference band."""
    from watchkeeper.detection.multivariate import judge_reconstruction

    fitted, acc = profile.spec.multivariate, profile.multivariate
    if fitted is None or acc is None:
        reason = (
            "the baseline has no fitted detector -- rebuild it (`watchkeeper baseline`)"
            if fitted is None
            else "the stored window profile predates the detector -- re-run the window"
        )
        return CheckResult(
            "drift", "multivariate_pca", "", None, None, Status.SKIPPED, f"multivariate drift not judged: {reason}"
        )
    verdict = judge_reconstruction(fitted, acc, min_rows=config.model.drift.min_sample)
    band = verdict["band"]
    return CheckResult(
        "drift",
        "multivariate_pca",
        "",
        verdict["value"],
        band.get("upper") if band else None,
        Status(verdict["status"]),
        verdict["message"],
        {"band": band, "rows": acc.rows, "reference_error": fitted.reference_error},
    )


# --------------------------------------------------------------------------- prediction


def _distribution_drift(
    config: LoadedConfig, counts: NumericalCounts, reference: Mapping[str, Any], role: str, column: str
) -> CheckResult:
    model = config.model
    thresholds = {k: _pair(v) for k, v in model.drift.thresholds.items()}
    r = feature_drift(
        role,
        counts,
        reference,
        method=model.drift.numerical_method,
        thresholds=thresholds,
        min_sample=model.drift.min_sample,
    )
    return CheckResult(
        "prediction",
        f"{role}_{r.metric}",
        column,
        r.value,
        r.threshold,
        r.status,
        r.message.replace(role, f"{role} {column!r}", 1),
        r.details,
    )


def rate_change_is_real(cur: float, n: int, ref: float, ref_n: int) -> bool:
    """Whether a rate moved beyond sampling noise (two-proportion z-test, |z| >= 3).

    A relative threshold alone cries wolf on rare classes: 1 flagged row in 1,000 against a
    reference rate of 0.02 % is a +400 % change and pure chance.
    """
    if n == 0 or ref_n == 0:
        return False
    pooled = (cur * n + ref * ref_n) / (n + ref_n)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / ref_n))
    return se > 0 and abs(cur - ref) / se >= RATE_Z_MIN


def prediction_results(config: LoadedConfig, profile: WindowProfile, baseline: Mapping[str, Any]) -> list[CheckResult]:
    """Score drift, predicted-class rates, mean confidence, low-confidence share and estimated performance."""
    model = config.model
    spec = profile.spec
    if profile.rows == 0:
        return [CheckResult("prediction", "score_drift", "", None, None, Status.SKIPPED, "no data in window")]
    out: list[CheckResult] = []
    if profile.score is not None and spec.score_profile and spec.score:
        out.append(_distribution_drift(config, profile.score, spec.score_profile, "score", spec.score))
    for cls_label, counts in profile.class_scores.items():
        column = spec.class_scores[cls_label]
        out.append(_distribution_drift(config, counts, spec.class_score_profiles[cls_label], "score", column))
    if profile.prediction_values is not None and spec.prediction_profile:
        out.append(
            _distribution_drift(
                config, profile.prediction_values, spec.prediction_profile, "prediction", spec.prediction
            )
        )
    out += _confidence_results(config, profile, baseline)
    if model.performance is not None:
        out += estimated_results(profile, baseline)
    out += _class_rate_results(config, profile, baseline)
    return out


def _confidence_results(config: LoadedConfig, profile: WindowProfile, baseline: Mapping[str, Any]) -> list[CheckResult]:
    cfg = config.model.prediction_checks
    n = profile.confidence_n
    if n == 0:
        return []
    ref_conf = baseline.get("confidence") or {}
    mean_conf = profile.confidence_sum / n
    ref_mean = ref_conf.get("mean")
    msg = f"mean confidence {mean_conf:.3f}" + (f" vs {ref_mean:.3f} in reference" if ref_mean else "")
    out = [
        CheckResult(
            "prediction", "mean_confidence", "", mean_conf, None, Status.OK, msg, {"reference": ref_mean, "n": n}
        )
    ]
    low = profile.low_confidence / n
    minimum = config.model.drift.min_sample
    details = {"reference": ref_conf.get("low_share"), "n": n, "critical": cfg.low_confidence_share.critical}
    if n < minimum:
        message = f"only {n} predictions with a confidence; judged from {minimum} (drift.min_sample)"
        out.append(
            CheckResult(
                "prediction",
                "low_confidence_share",
                "",
                low,
                cfg.low_confidence_share.warning,
                Status.SKIPPED,
                message,
                details,
            )  # fmt: skip
        )
        return out
    status = judge(low, cfg.low_confidence_share)
    out.append(
        CheckResult(
            "prediction",
            "low_confidence_share",
            "",
            low,
            crossed(cfg.low_confidence_share, status),
            status,
            f"{low:.1%} of predictions have confidence < {cfg.low_confidence}",
            details,
        )
    )
    return out


def estimated_results(profile: WindowProfile, baseline: Mapping[str, Any]) -> list[CheckResult]:
    """``estimated_*`` metrics of the window while labels are pending, from the estimator's running state
    (binary, multiclass or regression), or one ``skipped`` row saying why the window has no estimate."""
    est = profile.estimation
    if est is None:
        from watchkeeper.performance.estimators import CHECK, SKIPPED_METRIC

        reason = (
            "the window's stored profile has no estimation state (stored before estimation was part of the "
            "profile, or unreadable) -- re-run the window"
            if profile.spec.estimator is not None
            else "the model has no performance section"
        )
        kind = profile.spec.estimator.kind if profile.spec.estimator is not None else str(profile.spec.task)
        return [
            CheckResult(
                CHECK,
                SKIPPED_METRIC,
                "",
                None,
                None,
                Status.SKIPPED,
                f"performance not estimated: {reason}",
                {"reason": reason, "kind": kind},
            )  # fmt: skip
        ]
    return est.results((baseline.get("performance") or {}).get("metrics") or {})


def _class_rate_results(config: LoadedConfig, profile: WindowProfile, baseline: Mapping[str, Any]) -> list[CheckResult]:
    cfg = config.model.prediction_checks
    ref_rates: Mapping[str, float] = baseline.get("class_rates") or {}
    predicted = profile.predicted
    if config.model.task is TaskType.REGRESSION or not ref_rates or predicted is None or predicted.n == 0:
        return []
    n_pred = predicted.n
    cur_counts = predicted.as_dict()
    cur_rates = {k: v / n_pred for k, v in cur_counts.items()}
    ref_n = int(baseline.get("n_rows") or 0)
    out = []
    for cls in sorted(set(ref_rates) | set(cur_rates)):
        ref, cur = float(ref_rates.get(cls, 0.0)), cur_rates.get(cls, 0.0)
        change = abs(cur - ref) / ref if ref > 0 else (float("inf") if cur > 0 else 0.0)
        status = judge(change, cfg.class_rate_change)
        if status is not Status.OK and not rate_change_is_real(cur, n_pred, ref, ref_n):
            status = Status.OK  # large relative change, but within sampling noise
        out.append(
            CheckResult(
                "prediction",
                "class_rate_change",
                f"class={cls}",
                change if math.isfinite(change) else 1e9,
                crossed(cfg.class_rate_change, status),
                status,
                f"predicted class {cls}: {cur:.2%} of rows vs {ref:.2%} in reference",
                {"current_rate": cur, "reference_rate": ref, "critical": cfg.class_rate_change.critical},
            )
        )
    return out


# --------------------------------------------------------------------------- service


def _bounds_text(threshold: Threshold | None, unit: str, status: Status) -> str:
    """`` >= 500 ms (critical)`` for a finding, `` (warning at 200 ms)`` otherwise."""
    if threshold is None:
        return ""
    if status is Status.CRITICAL and threshold.critical is not None:
        return f" >= {threshold.critical:g}{unit} (critical)"
    if status is Status.WARNING and threshold.warning is not None:
        return f" >= {threshold.warning:g}{unit} (warning)"
    return f" (warning at {threshold.warning:g}{unit})" if threshold.warning is not None else ""


def service_results(config: LoadedConfig, profile: WindowProfile) -> list[CheckResult]:
    """Latency p50/p95/p99 (from the latency sketch, within 0.1 %) and error rate, when the log has those columns."""
    cfg = config.model.service
    out: list[CheckResult] = []
    present = set(profile.scan.get("all_columns") or []) or None
    spec = profile.spec
    sketch = profile.latency
    if sketch is not None and spec.latency and (present is None or spec.latency in present):
        for q, threshold in ((50, cfg.latency_p50_ms), (95, cfg.latency_p95_ms), (99, cfg.latency_p99_ms)):
            metric = f"latency_p{q}_ms"
            value = sketch.quantile(q / 100)
            if value is None:
                out.append(
                    CheckResult("service", metric, "", None, None, Status.SKIPPED, "no latency values in window")
                )
                continue
            status = judge(value, threshold)
            out.append(
                CheckResult(
                    "service",
                    metric,
                    "",
                    round(value, 3),
                    crossed(threshold, status),
                    status,
                    f"p{q} latency {value:.0f} ms{_bounds_text(threshold, ' ms', status)}",
                    {
                        "critical": threshold.critical if threshold is not None else None,
                        "relative_accuracy": sketch.accuracy,
                        "n": sketch.count,
                    },
                )
            )
    status_counts = profile.status
    if status_counts is not None and spec.status and (present is None or spec.status in present):
        n = status_counts.n
        if n == 0:
            out.append(
                CheckResult("service", "error_rate", "", None, None, Status.SKIPPED, "no status values in window")
            )
        else:
            errors = profile.status_errors
            rate = errors / n
            status = judge(rate, cfg.error_rate)
            out.append(
                CheckResult(
                    "service",
                    "error_rate",
                    "",
                    rate,
                    crossed(cfg.error_rate, status),
                    status,
                    f"{errors} of {n} requests failed ({rate:.2%})",
                    {"critical": cfg.error_rate.critical, "errors": errors, "requests": n},
                )
            )
    return out
