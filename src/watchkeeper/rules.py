"""Baseline rules: judge a metric against its reference, rolling or seasonal baseline.

A rule (``config.Rule``) says how far a metric may move from its baseline (``relative_drop``,
``relative_rise``, or ``relative_worsening``: a drop for a metric where higher is better, a rise for one
where lower is better, by :mod:`watchkeeper.catalogs.performance`) and which absolute bounds it must respect.
Baselines:

- ``reference``: the value measured on the reference (validation) data, stored with the baseline;
- ``rolling``: the mean of the last N recorded windows before this one;
- ``seasonal``: the value of the window one week (or one year) earlier.

A rule never makes a result *better*: the judged status is the worse of the result's own status and
the rule's. When the result carries a confidence interval (``details["ci"]``), a relative drop (rise)
is only a finding when the whole interval lies below (above) the baseline: small windows do not alert
on noise.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from watchkeeper.config import BaselineKind, Bound, Rule, Severity
from watchkeeper.results import CheckResult, Status, Window, worst

if TYPE_CHECKING:
    from watchkeeper.store import MetricStore

log = logging.getLogger(__name__)

_SEASON = {"week": timedelta(days=7), "year": timedelta(days=365)}


def rule_key(result: CheckResult) -> tuple[str, str]:
    """The two keys a rule may be written under: ``check.metric[subject]`` and ``check.metric``."""
    base = f"{result.check}.{result.metric}"
    return (f"{base}[{result.subject}]", base)


def find_rule(result: CheckResult, rules: dict[str, Rule]) -> Rule | None:
    """The rule for ``result``: a subject-specific key wins over the plain one; performance rules may
    also be keyed by the bare metric name (``accuracy``)."""
    specific, plain = rule_key(result)
    for key in (specific, plain):
        if key in rules:
            return rules[key]
    if result.check == "performance":
        return rules.get(result.metric)
    return None


def baseline_value(
    rule: Rule,
    result: CheckResult,
    *,
    model: str,
    window: Window,
    store: MetricStore,
    reference: dict[str, float] | None = None,
) -> tuple[float | None, str]:
    """The baseline of ``result`` under ``rule`` and a description of it (for messages)."""
    if rule.baseline is BaselineKind.REFERENCE:
        ref = (reference or {}).get(result.metric)
        if ref is None:
            ref = result.details.get("reference") if isinstance(result.details.get("reference"), int | float) else None
        return (float(ref) if ref is not None else None), "reference"
    if rule.baseline is BaselineKind.ROLLING:
        rows = store.metrics(model, end=window.start, check=result.check, metric=result.metric, subject=result.subject)
        usable = [r.value for r in rows if r.value is not None and r.status not in {Status.ERROR, Status.SKIPPED}]
        recent = usable[-rule.window :]
        if not recent:
            return None, f"rolling mean of the last {rule.window} windows"
        return sum(recent) / len(recent), f"rolling mean of the last {len(recent)} windows"
    shift = _SEASON[rule.season]
    earlier = Window(window.start - shift, window.end - shift)
    rows = store.metrics(model, window=earlier, check=result.check, metric=result.metric, subject=result.subject)
    values = [r.value for r in rows if r.value is not None]
    return (values[0] if values else None), f"same window one {rule.season} earlier"


def _level(change: float, bound: Bound | None) -> tuple[Status, float | None]:
    if bound is None:
        return Status.OK, None
    if bound.critical is not None and change >= bound.critical:
        return Status.CRITICAL, bound.critical
    if bound.warning is not None and change >= bound.warning:
        return Status.WARNING, bound.warning
    return Status.OK, bound.warning if bound.warning is not None else bound.critical


def metric_direction(result: CheckResult) -> bool | None:
    """Whether ``result``'s metric gets better when it rises (None: no direction, or not known)."""
    declared = result.details.get("higher_is_better")
    if isinstance(declared, bool):
        return declared
    if result.check == "performance" or result.metric.startswith("estimated_"):
        from watchkeeper.catalogs.performance import higher_is_better

        return higher_is_better(result.metric)
    return None


def directed_bounds(rule: Rule, result: CheckResult) -> tuple[Bound | None, Bound | None]:
    """The (drop, rise) bounds of ``rule`` for ``result``: ``relative_worsening`` becomes a drop for a
    higher-is-better metric and a rise for a lower-is-better one (nothing when the direction is unknown)."""
    drop, rise = rule.relative_drop, rule.relative_rise
    if rule.relative_worsening is not None:
        better_up = metric_direction(result)
        if better_up is True and drop is None:
            drop = rule.relative_worsening
        elif better_up is False and rise is None:
            rise = rule.relative_worsening
        elif better_up is None:
            log.warning(
                "rule relative_worsening on %s.%s: the metric has no direction; ignored", result.check, result.metric
            )
    return drop, rise


def judge_rule(result: CheckResult, rule: Rule, baseline: float | None, described: str) -> CheckResult:
    """``result`` judged by ``rule`` against ``baseline``; details gain baseline, change and rule."""
    value = result.value
    if value is None or result.status in {Status.SKIPPED, Status.ERROR}:
        return result
    status = Status.OK
    threshold: float | None = None
    notes: list[str] = []
    details: dict[str, Any] = dict(result.details)
    ci = details.get("ci")
    relative_drop, relative_rise = directed_bounds(rule, result)
    if baseline is not None:
        scale = abs(baseline) if baseline != 0 else 1.0
        change = (value - baseline) / scale
        details.update({"baseline": baseline, "baseline_kind": described, "change": change})
        drop_status, drop_level = _level(-change, relative_drop)
        rise_status, rise_level = _level(change, relative_rise)
        if drop_status is not Status.OK and ci and ci[1] is not None and ci[1] >= baseline:
            drop_status = Status.OK  # the interval still reaches the baseline: not a clear decline
            notes.append("within its confidence interval")
        if rise_status is not Status.OK and ci and ci[0] is not None and ci[0] <= baseline:
            rise_status = Status.OK
            notes.append("within its confidence interval")
        # the threshold reported is the level crossed; with none crossed, the nearest one watched
        if rise_status is not Status.OK or (drop_level is None and rise_level is not None):
            threshold = baseline + rise_level * scale  # type: ignore[operator]  # set whenever a rise is judged
        elif drop_level is not None:
            threshold = baseline - drop_level * scale
        status = worst([drop_status, rise_status])
        if status is not Status.OK:
            direction = "below" if change < 0 else "above"
            level = drop_level if change < 0 else rise_level
            notes.append(
                f"{abs(change):.0%} {direction} its {described} baseline {baseline:.4g} ({status} at {level:.0%})"
            )
    elif relative_drop is not None or relative_rise is not None:
        details["baseline_kind"] = described
        notes.append(f"no {described} baseline yet")
    if rule.absolute is not None:
        sev = Status.CRITICAL if rule.absolute.severity is Severity.CRITICAL else Status.WARNING
        if rule.absolute.min is not None and value < rule.absolute.min:
            status = worst([status, sev])
            threshold = rule.absolute.min
            notes.append(f"below the minimum {rule.absolute.min:g}")
        if rule.absolute.max is not None and value > rule.absolute.max:
            status = worst([status, sev])
            threshold = rule.absolute.max
            notes.append(f"above the maximum {rule.absolute.max:g}")
    final = worst([result.status, status])
    label = f"{result.metric}{f' for {result.subject}' if result.subject else ''}"
    message = result.message
    if status.rank >= result.status.rank and status is not Status.OK:
        message = f"{label} is {value:.4g}: " + "; ".join(n for n in notes if "interval" not in n)
    details["rule"] = rule.model_dump(mode="json", exclude_none=True)
    return replace(
        result,
        status=final,
        threshold=threshold if threshold is not None else result.threshold,
        message=message,
        details=details,
    )


def apply_rules(
    results: list[CheckResult],
    rules: dict[str, Rule],
    *,
    model: str,
    window: Window,
    store: MetricStore,
    reference: dict[str, float] | None = None,
) -> list[CheckResult]:
    """Every result, judged by its rule when one matches (others unchanged)."""
    if not rules:
        return results
    out = []
    for result in results:
        rule = find_rule(result, rules)
        if rule is None:
            out.append(result)
            continue
        baseline, described = baseline_value(rule, result, model=model, window=window, store=store, reference=reference)
        out.append(judge_rule(result, rule, baseline, described))
    return out


def consecutive_degraded(
    result: CheckResult, *, model: str, window: Window, store: MetricStore, minimum: Status, count: int
) -> bool:
    """Whether ``result`` and the ``count - 1`` windows recorded before it are all at least ``minimum``."""
    if result.status.rank < minimum.rank or result.status is Status.ERROR:
        return False
    if count <= 1:
        return True
    rows = store.metrics(model, end=window.start, check=result.check, metric=result.metric, subject=result.subject)
    previous = [r for r in rows if r.status is not Status.SKIPPED][-(count - 1) :]
    return len(previous) == count - 1 and all(
        r.status.rank >= minimum.rank and r.status is not Status.ERROR for r in previous
    )
