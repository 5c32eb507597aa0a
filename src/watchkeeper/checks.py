"""Check families run on one window of the prediction log, and the runner that ties them together.

Families are registered by name (``quality``, ``drift``, ``prediction``, ``service``); the CLI runs
them all in one process, the Airflow DAG runs each in its own task. Both call :func:`run_family`,
so both produce exactly the same results.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from watchkeeper.baseline import class_rates, confidence, ensure_baseline
from watchkeeper.config import FeatureKind, TaskType
from watchkeeper.drift.engine import analyze_features
from watchkeeper.exceptions import UnknownNameError
from watchkeeper.quality import freshness_result, gx_results, judge, schema_results, volume_result
from watchkeeper.results import CheckResult, Status, Window, worst
from watchkeeper.sources import Frame, read_window

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig
    from watchkeeper.store import MetricStore

log = logging.getLogger(__name__)


@dataclass
class CheckContext:
    """Everything a check family needs: the config, the window's rows and the stored baseline."""

    config: LoadedConfig
    window: Window
    frame: Frame
    baseline: dict[str, Any]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    store: MetricStore | None = None

    @property
    def df(self) -> pd.DataFrame:
        """The window's rows."""
        return self.frame.df


CheckFamily = Callable[[CheckContext], list[CheckResult]]
FAMILIES: dict[str, CheckFamily] = {}


def family(name: str) -> Callable[[CheckFamily], CheckFamily]:
    """Register a check family under ``name``."""

    def register(func: CheckFamily) -> CheckFamily:
        FAMILIES[name] = func
        return func

    return register


def get_family(name: str) -> CheckFamily:
    """The family registered as ``name``; an unknown name lists the available ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise UnknownNameError(f"No check family named {name!r}. Available: {', '.join(FAMILIES)}") from None


def _numeric_features(ctx: CheckContext) -> pd.DataFrame:
    """Feature columns present in the window, numerical ones coerced to float (mistypes become NaN)."""
    df = ctx.df
    cols = {}
    for name, kind in ctx.config.model.predictions.features.items():
        if name not in df.columns:
            continue
        series = df[name]
        if kind is FeatureKind.NUMERICAL and not pd.api.types.is_numeric_dtype(series.dtype):
            series = pd.to_numeric(series, errors="coerce")
        cols[name] = series
    return pd.DataFrame(cols, index=df.index)


def _feature_results(ctx: CheckContext) -> list[CheckResult]:
    """Drift and per-column quality for every present feature (one vectorised pass)."""
    model = ctx.config.model
    features = {n: str(k) for n, k in model.predictions.features.items() if n in ctx.df.columns}
    overrides = model.drift.features
    features = {n: k for n, k in features.items() if n not in overrides or overrides[n].enabled}
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
    profiles = {n: ctx.baseline["features"][n] for n in features}
    return analyze_features(_numeric_features(ctx)[list(features)], features, profiles, methods, thresholds)


def _bounds_text(threshold: Any, unit: str, status: Status) -> str:
    """`` >= 500 ms (critical)`` for a finding, `` (warning at 200 ms)`` otherwise."""
    if threshold is None:
        return ""
    if status is Status.CRITICAL and threshold.critical is not None:
        return f" >= {threshold.critical:g}{unit} (critical)"
    if status is Status.WARNING and threshold.warning is not None:
        return f" >= {threshold.warning:g}{unit} (warning)"
    return f" (warning at {threshold.warning:g}{unit})" if threshold.warning is not None else ""


def _pair(threshold: Any) -> tuple[float, float]:
    """(warning, critical) for the drift engine; a missing bound never triggers (a huge finite value)."""
    never = sys.float_info.max
    warning = threshold.warning if threshold.warning is not None else threshold.critical
    critical = threshold.critical if threshold.critical is not None else never
    return (warning if warning is not None else never, critical)


#: |z| of a two-proportion test below which a change in a predicted-class rate is noise.
RATE_Z_MIN = 3.0


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


@family("quality")
def quality_family(ctx: CheckContext) -> list[CheckResult]:
    """Schema, volume, freshness, per-column quality and the GX suite."""
    results = schema_results(ctx.config, ctx.frame, ctx.baseline)
    results.append(volume_result(ctx.config, len(ctx.df), ctx.window.hours, ctx.baseline))
    results.append(freshness_result(ctx.config, ctx.df, ctx.window.end, ctx.now))
    results += [r for r in _feature_results(ctx) if r.check == "quality"]
    results += gx_results(ctx.config, ctx.df, ctx.baseline)
    return results


@family("drift")
def drift_family(ctx: CheckContext) -> list[CheckResult]:
    """Feature drift, one result per feature."""
    return [r for r in _feature_results(ctx) if r.check == "drift"]


def _distribution_drift(values: pd.Series, profile: dict[str, Any], role: str, column: str) -> list[CheckResult]:
    """Drift of the score (or regression output) distribution against its reference profile."""
    drift = analyze_features(pd.DataFrame({role: values}), {role: "numerical"}, {role: profile})
    return [
        CheckResult(
            "prediction",
            f"{role}_{r.metric}",
            column,
            r.value,
            r.threshold,
            r.status,
            r.message.replace(role, f"{role} {column!r}", 1),
            r.details,
        )
        for r in drift
        if r.check == "drift"
    ]


@family("prediction")
def prediction_family(ctx: CheckContext) -> list[CheckResult]:
    """Score drift, predicted-class rates, mean confidence and the share of low-confidence predictions."""
    model = ctx.config.model
    cfg = model.prediction_checks
    log_cfg = model.predictions
    df = ctx.df
    out: list[CheckResult] = []
    if df.empty:
        return [CheckResult("prediction", "score_drift", "", None, None, Status.SKIPPED, "no data in window")]
    score_prof = ctx.baseline.get("score")
    if log_cfg.score and log_cfg.score in df.columns and score_prof:
        scores = pd.to_numeric(df[log_cfg.score], errors="coerce")
        out += _distribution_drift(scores, score_prof, "score", log_cfg.score)
    pred_prof = ctx.baseline.get("prediction")
    if model.task is TaskType.REGRESSION and pred_prof and log_cfg.prediction in df.columns:
        values = pd.to_numeric(df[log_cfg.prediction], errors="coerce")
        out += _distribution_drift(values, pred_prof, "prediction", log_cfg.prediction)
    if log_cfg.score and log_cfg.score in df.columns and score_prof:
        scores = pd.to_numeric(df[log_cfg.score], errors="coerce")
        finite = scores.to_numpy(dtype="float64", na_value=np.nan)
        finite = finite[np.isfinite(finite)]
        ref_conf = ctx.baseline.get("confidence") or {}
        if finite.size:
            conf = confidence(finite, model.task)
            mean_conf = float(conf.mean())
            ref_mean = ref_conf.get("mean")
            msg = f"mean confidence {mean_conf:.3f}" + (f" vs {ref_mean:.3f} in reference" if ref_mean else "")
            out.append(
                CheckResult(
                    "prediction", "mean_confidence", "", mean_conf, None, Status.OK, msg, {"reference": ref_mean}
                )
            )
            low = float((conf < cfg.low_confidence).mean())
            status = judge(low, cfg.low_confidence_share)
            out.append(
                CheckResult(
                    "prediction",
                    "low_confidence_share",
                    "",
                    low,
                    cfg.low_confidence_share.warning,
                    status,
                    f"{low:.1%} of predictions have confidence < {cfg.low_confidence}",
                    {"reference": ref_conf.get("low_share")},
                )
            )
    if model.performance is not None:
        from watchkeeper.scoring import estimated_results

        out += estimated_results(ctx.config, df, ctx.baseline)  # labels pending: estimate from calibrated scores
    ref_rates = ctx.baseline.get("class_rates")
    if model.task is not TaskType.REGRESSION and ref_rates and log_cfg.prediction in df.columns:
        cur_rates = class_rates(df[log_cfg.prediction])
        n_pred = int(df[log_cfg.prediction].notna().sum())
        ref_n = int(ctx.baseline.get("n_rows") or 0)
        for cls in sorted(set(ref_rates) | set(cur_rates)):
            ref, cur = ref_rates.get(cls, 0.0), cur_rates.get(cls, 0.0)
            change = abs(cur - ref) / ref if ref > 0 else (float("inf") if cur > 0 else 0.0)
            status = judge(change, cfg.class_rate_change)
            if status is not Status.OK and not rate_change_is_real(cur, n_pred, ref, ref_n):
                status = Status.OK  # large relative change, but within sampling noise
            msg = f"predicted class {cls}: {cur:.2%} of rows vs {ref:.2%} in reference"
            out.append(
                CheckResult(
                    "prediction",
                    "class_rate_change",
                    f"class={cls}",
                    change if np.isfinite(change) else 1e9,
                    cfg.class_rate_change.warning,
                    status,
                    msg,
                    {"current_rate": cur, "reference_rate": ref},
                )
            )
    return out


@family("service")
def service_family(ctx: CheckContext) -> list[CheckResult]:
    """Latency p50/p95/p99 and error rate, when the log has those columns."""
    cfg = ctx.config.model.service
    log_cfg = ctx.config.model.predictions
    df = ctx.df
    out: list[CheckResult] = []
    if log_cfg.latency and log_cfg.latency in df.columns:
        lat = pd.to_numeric(df[log_cfg.latency], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        lat = lat[np.isfinite(lat)]
        for q, threshold in ((50, cfg.latency_p50_ms), (95, cfg.latency_p95_ms), (99, cfg.latency_p99_ms)):
            metric = f"latency_p{q}_ms"
            if lat.size == 0:
                out.append(
                    CheckResult("service", metric, "", None, None, Status.SKIPPED, "no latency values in window")
                )
                continue
            value = float(np.percentile(lat, q))
            status = judge(value, threshold)
            bound = threshold.warning if threshold is not None else None
            out.append(
                CheckResult(
                    "service",
                    metric,
                    "",
                    round(value, 3),
                    bound,
                    status,
                    f"p{q} latency {value:.0f} ms{_bounds_text(threshold, ' ms', status)}",
                    {"critical": threshold.critical if threshold is not None else None},
                )
            )
    if log_cfg.status and log_cfg.status in df.columns:
        status_col = df[log_cfg.status]
        n = int(status_col.notna().sum())
        if n == 0:
            out.append(
                CheckResult("service", "error_rate", "", None, None, Status.SKIPPED, "no status values in window")
            )
        else:
            errors = int(status_col.astype(str).str.lower().isin([v.lower() for v in log_cfg.error_values]).sum())
            rate = errors / n
            out.append(
                CheckResult(
                    "service",
                    "error_rate",
                    "",
                    rate,
                    cfg.error_rate.warning,
                    judge(rate, cfg.error_rate),
                    f"{errors} of {n} requests failed ({rate:.2%})",
                    {"critical": cfg.error_rate.critical, "errors": errors, "requests": n},
                )
            )
    return out


# --------------------------------------------------------------------------- running


def load_context(
    config: LoadedConfig, window: Window, store: MetricStore, *, now: datetime | None = None
) -> CheckContext:
    """Read the window and the (possibly rebuilt) baseline."""
    _, baseline = ensure_baseline(config, store)
    frame = read_window(config, window)
    return CheckContext(config, window, frame, baseline, now or datetime.now(UTC), store)


def run_family(name: str, ctx: CheckContext) -> list[CheckResult]:
    """Run one family; a crash of the check itself becomes an ``error`` result, never a silent pass."""
    func = get_family(name)
    try:
        results = func(ctx)
        if ctx.config.model.rules and ctx.store is not None:
            from watchkeeper.rules import apply_rules

            results = apply_rules(
                results, ctx.config.model.rules, model=ctx.config.model.name, window=ctx.window, store=ctx.store
            )
        return results
    except Exception as exc:  # a bug or odd data must show as a failed check, not as a healthy model
        log.exception("model=%s window=%s: check family %s failed", ctx.config.model.name, ctx.window.as_dict(), name)
        msg = f"monitoring failed: the {name} checks raised {type(exc).__name__}: {exc}"
        return [CheckResult(name, "check_failed", "", None, None, Status.ERROR, msg, {"error": repr(exc)})]


@dataclass
class WindowReport:
    """All results of one window plus its row count."""

    model: str
    window: Window
    n_rows: int
    results: list[CheckResult]

    @property
    def status(self) -> Status:
        """Worst status of all results."""
        return worst([r.status for r in self.results])

    @property
    def findings(self) -> list[CheckResult]:
        """Results to report to people, most severe first."""
        return sorted((r for r in self.results if r.status.is_finding), key=lambda r: -r.status.rank)

    def summary(self) -> dict[str, Any]:
        """A small JSON summary (what goes through XCom)."""
        counts: dict[str, int] = {}
        for r in self.results:
            counts[str(r.status)] = counts.get(str(r.status), 0) + 1
        return {
            "model": self.model,
            "window": self.window.as_dict(),
            "n_rows": self.n_rows,
            "status": str(self.status),
            "counts": counts,
            "findings": len(self.findings),
        }


def run_checks(
    config: LoadedConfig,
    window: Window,
    store: MetricStore,
    *,
    families: list[str] | None = None,
    now: datetime | None = None,
) -> WindowReport:
    """Run every family (or the given ones) on the window, in one process."""
    ctx = load_context(config, window, store, now=now)
    results: list[CheckResult] = []
    for name in families or list(FAMILIES):
        results += run_family(name, ctx)
    return WindowReport(config.model.name, window, len(ctx.df), results)
