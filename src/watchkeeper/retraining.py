"""When to retrain: degradation that persists, outside the cooldown, recorded for audit.

A rule-judged result counts as degraded when its status is at least ``retraining.severity``. Retraining
is due when some result has been degraded for ``rule.persist`` (default ``retraining.after_windows``)
consecutive windows, the model has a retraining DAG, and no trigger happened within
``retraining.cooldown``. Every trigger is recorded in the metric store before the DAG is triggered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from watchkeeper.results import CheckResult, Status, Window
from watchkeeper.rules import consecutive_degraded, find_rule

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig
    from watchkeeper.store import MetricStore

log = logging.getLogger(__name__)


@dataclass
class RetrainDecision:
    """Whether to trigger, why, and the conf payload for the retraining DAG."""

    trigger: bool
    reason: str
    conf: dict[str, Any] = field(default_factory=dict)


def _rules(config: LoadedConfig) -> dict[str, Any]:
    perf = config.model.performance
    return {**config.model.rules, **(perf.rules if perf is not None else {})}


def degraded_results(
    config: LoadedConfig, window: Window, results: list[CheckResult], store: MetricStore
) -> list[CheckResult]:
    """Results with a rule that have been degraded for their required number of consecutive windows."""
    settings = config.model.retraining
    minimum = Status(str(settings.severity))
    rules = _rules(config)
    out = []
    for result in results:
        rule = find_rule(result, rules)
        if rule is None:
            continue
        count = rule.persist or settings.after_windows
        if consecutive_degraded(
            result, model=config.model.name, window=window, store=store, minimum=minimum, count=count
        ):
            out.append(result)
    return out


def decide(
    config: LoadedConfig,
    window: Window,
    results: list[CheckResult],
    store: MetricStore,
    *,
    now: datetime | None = None,
    run_url: str | None = None,
    record: bool = True,
) -> RetrainDecision:
    """Decide whether to retrain after ``window``; when yes, record the trigger (audit) and return the conf."""
    model = config.model
    settings = model.retraining
    now = now or datetime.now(UTC)
    if settings.dag_id is None:
        return RetrainDecision(False, "no retraining.dag_id configured")
    degraded = degraded_results(config, window, results, store)
    if not degraded:
        return RetrainDecision(False, f"no rule degraded ({settings.severity}+) for enough consecutive windows")
    triggers = store.retrain_triggers(model.name)
    if triggers:
        last = triggers[0].triggered_at
        if now - last < settings.cooldown:
            until = last + settings.cooldown
            return RetrainDecision(
                False,
                f"cooldown: retraining was triggered at {last.isoformat()}; next allowed after {until.isoformat()}",
            )
    failing = [
        {
            "check": r.check,
            "metric": r.metric,
            "subject": r.subject,
            "value": r.value,
            "baseline": r.details.get("baseline"),
            "threshold": r.threshold,
            "status": str(r.status),
        }
        for r in degraded
    ]
    names = ", ".join(f"{r.metric}{f'[{r.subject}]' if r.subject else ''}" for r in degraded)
    reason = f"{names} degraded for {settings.after_windows}+ consecutive windows"
    conf = {
        "model": model.name,
        "reason": reason,
        "window": window.as_dict(),
        "failing_metrics": failing,
        "run_url": run_url,
    }
    if record:
        store.record_retrain_trigger(
            model.name,
            dag_id=settings.dag_id,
            window=window,
            reason=reason,
            failing_metrics=failing,
            conf=conf,
            run_url=run_url,
            triggered_at=now,
        )
    log.warning("model=%s: triggering %s: %s", model.name, settings.dag_id, reason)
    return RetrainDecision(True, reason, conf)
