"""One window's performance in one call: labels validated, metrics, intervals, and result rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from numpy.typing import ArrayLike

from watchkeeper.performance.intervals import DEFAULT_LEVEL, DEFAULT_N_BOOT, Interval, prepared_intervals
from watchkeeper.performance.labels import MISSING, LabelReport, known_classes, validate_labels
from watchkeeper.performance.metrics import MetricValue, Prepared, get_metric, prepare, resolve_metrics
from watchkeeper.results import CheckResult, Status

#: ``check`` of every performance result row.
CHECK = "performance"


@dataclass(frozen=True, eq=False)
class WindowPerformance:
    """Metrics of one labelled window with their confidence intervals.

    ``n`` is the number of usable labelled rows; ``labels`` the validation of the true labels;
    ``excluded`` the rows dropped while preparing, by reason.
    """

    task: str
    n: int
    labels: LabelReport
    excluded: dict[str, int]
    values: dict[str, MetricValue]
    intervals: dict[str, Interval]
    level: float
    min_samples: int

    def to_results(self, reference: Mapping[str, float] | None = None) -> list[CheckResult]:
        """One ``performance`` row per metric (``subject=""``), status ``ok``, or ``skipped`` when the window has
        fewer than ``min_samples`` labelled rows or the metric is undefined, plus an ``unexpected_labels``
        row (``warning`` when true labels outside the known classes were excluded).

        ``details`` carry ``ci`` (``[low, high]``, read by :mod:`watchkeeper.rules`), ``level``, ``n`` (the
        metric's denominator), ``rows``, ``higher_is_better``, ``reason``, and ``reference`` when given.
        """
        out = []
        for name, metric_value in self.values.items():
            metric = get_metric(self.task, name)
            low, high = self.intervals.get(name, (None, None))
            details: dict[str, Any] = {
                "ci": [low, high],
                "level": self.level,
                "n": metric_value.n,
                "rows": self.n,
                "higher_is_better": metric.higher_is_better,
                "reason": metric_value.reason,
            }
            if reference is not None and reference.get(name) is not None:
                details["reference"] = float(reference[name])
            if self.n < self.min_samples:
                status = Status.SKIPPED
                message = f"{name} not judged: only {self.n} labelled rows (< min_samples {self.min_samples})"
            elif metric_value.value is None:
                status, message = Status.SKIPPED, f"{name} undefined: {metric_value.reason}"
            else:
                status = Status.OK
                interval = f", {self.level:.0%} CI {low:.4g}-{high:.4g}" if low is not None and high is not None else ""
                message = f"{name} is {metric_value.value:.4g}{interval} (n={metric_value.n})"
            out.append(CheckResult(CHECK, name, "", metric_value.value, None, status, message, details))
        unexpected = {k: v for k, v in self.labels.invalid.items() if k != MISSING}
        count = sum(unexpected.values())
        share = count / self.labels.n_rows if self.labels.n_rows else 0.0
        out.append(
            CheckResult(
                CHECK,
                "unexpected_labels",
                "",
                share,
                None,
                Status.WARNING if count else Status.OK,
                self.labels.message if count else "every non-missing label is a known class",
                {"counts": unexpected, "known_classes": list(self.labels.known_classes or [])},
            )
        )
        return out


def evaluate(
    task: str,
    y_true: ArrayLike | pd.Series,
    y_pred: ArrayLike | pd.Series,
    y_score: ArrayLike | pd.Series | None = None,
    *,
    positive_label: Any = "1",
    classes: Iterable[Any] | None = None,
    metrics: Sequence[str] | None = None,
    level: float = DEFAULT_LEVEL,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    min_samples: int = 1,
) -> WindowPerformance:
    """Validate the labels, compute ``metrics`` (all of the task by default) and their intervals.

    ``min_samples`` is ``PerformanceSettings.min_samples``: with fewer usable rows the values are still
    computed but :meth:`WindowPerformance.to_results` marks them ``skipped``.
    """
    classes = None if classes is None else list(classes)
    known = known_classes(task, positive_label, classes)
    label_report = validate_labels(task, y_true, known_classes=known)
    data: Prepared = prepare(task, y_true, y_pred, y_score, positive_label=positive_label, classes=classes)
    resolved = resolve_metrics(data, metrics)
    values = {metric.name: metric.compute(data) for metric in resolved}
    intervals = prepared_intervals(data, resolved, values, level=level, n_boot=n_boot, seed=seed)
    return WindowPerformance(
        data.task.value, data.n, label_report, dict(data.excluded), values, intervals, level, min_samples
    )
