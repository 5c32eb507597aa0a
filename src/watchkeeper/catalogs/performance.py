"""Names of the performance metrics per task type, with the direction in which each gets better (parse-time light).

A rule on a performance metric is resolved here when the config loads: the key must name a metric of the
model's task (with "did you mean"), and a relative rule must point the way the metric degrades --
``relative_drop`` on a higher-is-better metric (recall), ``relative_rise`` on a lower-is-better one (mae), or
the direction-neutral ``relative_worsening`` on either. ``tests/unit/catalogs`` asserts that the metric
registry (:mod:`watchkeeper.performance.metrics`) and the estimators produce exactly these names and directions.
"""

from __future__ import annotations

import re
from typing import Any

from watchkeeper.catalogs.monitor import suggest

BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
TASKS = (BINARY, MULTICLASS, REGRESSION)

#: Performance metrics per task and whether higher is better (``None``: no better direction).
METRICS: dict[str, dict[str, bool | None]] = {
    BINARY: {
        "accuracy": True,
        "precision": True,
        "recall": True,
        "f1": True,
        "roc_auc": True,
        "pr_auc": True,
        "log_loss": False,
        "brier": False,
        "positive_rate": None,
    },
    MULTICLASS: {"accuracy": True, "macro_f1": True, "weighted_f1": True},
    REGRESSION: {"mae": False, "rmse": False, "mape": False, "r2": True},
}
#: Metric-name patterns per task, open-ended by class: ``recall[<class>]`` (higher is better).
CLASS_METRICS: dict[str, tuple[str, ...]] = {MULTICLASS: ("recall",)}
#: Results of the performance check that are not metrics but may carry a rule (every task).
OTHER_RESULTS: dict[str, bool | None] = {"label_coverage": True}
#: Metrics estimated without labels, per task (stored as ``estimated_<metric>`` by the monitor run).
ESTIMATED: dict[str, tuple[str, ...]] = {
    BINARY: ("accuracy", "precision", "recall", "f1", "roc_auc"),
    MULTICLASS: ("accuracy", "macro_f1"),
    REGRESSION: ("mae", "rmse"),
}
#: Metrics whose history the trend detector watches by default.
TREND_DEFAULT: dict[str, tuple[str, ...]] = {
    BINARY: ("recall", "precision", "roc_auc", "accuracy"),
    MULTICLASS: ("accuracy", "macro_f1"),
    REGRESSION: ("mae", "rmse"),
}
#: Segment comparisons, by default, per task.
SEGMENT_DEFAULT: dict[str, str] = {BINARY: "recall", MULTICLASS: "macro_f1", REGRESSION: "mae"}
#: Registered change detectors (see :mod:`watchkeeper.performance.detectors`).
DETECTORS = ("cusum", "page_hinkley")
#: Relative rule forms and the direction each one watches.
RELATIVE_FORMS = ("relative_drop", "relative_rise", "relative_worsening")

_CLASS_KEY = re.compile(r"^(?P<name>[a-z0-9_]+)\[(?P<cls>[^\]]+)\]$")


def _task(task: Any) -> str:
    return str(getattr(task, "value", task))


def metric_names(task: Any | None = None) -> tuple[str, ...]:
    """Metric names of ``task`` (every task's when None), without the per-class ones."""
    tasks = TASKS if task is None else (_task(task),)
    return tuple(dict.fromkeys(name for t in tasks for name in METRICS.get(t, {})))


def _base_name(metric: str) -> str:
    name = metric.removeprefix("estimated_").removeprefix("segment_")
    match = _CLASS_KEY.match(name)
    return match.group("name") if match else name


def higher_is_better(metric: str) -> bool | None:
    """Whether ``metric`` gets better when it rises (``None``: no better direction or unknown).

    Accepts the stored forms too: ``estimated_mae``, ``segment_recall``, ``recall[cat]``. A name means the
    same in every task, so no task is needed.
    """
    name = _base_name(metric)
    if name in OTHER_RESULTS:
        return OTHER_RESULTS[name]
    for task in TASKS:
        if name in METRICS[task]:
            return METRICS[task][name]
        if name in CLASS_METRICS.get(task, ()):
            return True
    return None


def known_in_any_task(metric: str) -> bool:
    """Whether ``metric`` (bare, ``recall[<class>]`` or ``segment_<metric>``) is a performance name of some task."""
    return any(known_metric(task, metric) for task in TASKS)


def known_metric(task: Any, metric: str) -> bool:
    """Whether ``metric`` names a performance result of ``task`` that a rule may judge."""
    task = _task(task)
    if metric in OTHER_RESULTS:
        return True
    name = metric.removeprefix("segment_")
    match = _CLASS_KEY.match(name)
    if match:
        return match.group("name") in CLASS_METRICS.get(task, ())
    return name in METRICS.get(task, {})


def rule_metric(key: str) -> str:
    """The metric a performance rule key names: ``recall``, ``performance.recall``, ``performance.recall[x]``
    and ``recall[cat]`` (a class) all work; a ``[subject]`` on a ``performance.`` key is a segment subject."""
    if key.startswith("performance."):
        bare = key.removeprefix("performance.")
        match = _CLASS_KEY.match(bare)
        if match and match.group("name") not in {n for names in CLASS_METRICS.values() for n in names}:
            return match.group("name")
        return bare
    return key


def direction_problems(metric: str, forms: set[str], *, where: str) -> list[str]:
    """What is wrong with relative rule ``forms`` on ``metric`` given its direction (one message each)."""
    better_up = higher_is_better(metric)
    problems = []
    if better_up is True and "relative_rise" in forms:
        problems.append(
            f"{where}: relative_rise alerts when {metric} rises, but higher {metric} is better -- "
            f"for {metric} use relative_drop (or relative_worsening)"
        )
    if better_up is False and "relative_drop" in forms:
        problems.append(
            f"{where}: relative_drop alerts when {metric} falls, but lower {metric} is better -- "
            f"for {metric} use relative_rise (or relative_worsening)"
        )
    if better_up is None and "relative_worsening" in forms and known_in_any_task(metric):
        problems.append(
            f"{where}: {metric} has no better direction, so relative_worsening cannot tell which way is worse -- "
            "use relative_drop and/or relative_rise"
        )
    return problems


def key_problems(key: str, *, task: Any | None, where: str) -> list[str]:
    """Why a performance rule key resolves to nothing (for ``task``, or for every task when None)."""
    metric = rule_metric(key)
    if task is None:
        if known_in_any_task(metric):
            return []
        candidates = [*metric_names(), *OTHER_RESULTS]
        return [f"{where}: {metric!r} is not a performance metric -- {suggest(metric, candidates)}"]
    if known_metric(task, metric):
        return []
    names = [*metric_names(task), *OTHER_RESULTS]
    owners = [t for t in TASKS if known_metric(t, metric)]
    if owners:
        classes = f"; per class: {', '.join(f'{n}[<class>]' for n in CLASS_METRICS.get(_task(task), ()))}"
        return [
            f"{where}: {metric!r} is a {' and '.join(owners)} metric, not a {_task(task)} one -- "
            f"use one of: {', '.join(names)}" + (classes if _task(task) in CLASS_METRICS else "")
        ]
    return [f"{where}: {metric!r} is not a {_task(task)} metric -- {suggest(metric, names)}"]
