"""Model health for Prometheus: ``GET /api/metrics`` in the Prometheus text exposition format (0.0.4).

Every series is a gauge labelled by ``model``; only models the viewer may read are exported. What is read, in
three queries: the store's health summary (latest window, open alert keys, key metric and latest window with
performance results, one row per model), then the results of those windows joined to the summary -- narrow
columns, and of each result's details only the keys a sample needs (:data:`PICKED`), picked by the database.
Nothing is computed from raw data, and nothing scans the history.

=============================================================  ==============================================
series                                                          meaning
=============================================================  ==============================================
``watchkeeper_model_info{model,owner,configured}``              1 per model (``configured`` = has a config)
``watchkeeper_model_status{model}``                             latest window: 0 ok, 1 warning, 2 critical,
                                                                3 error (a check crashed)
``watchkeeper_model_last_window_end_timestamp_seconds{model}``  end of the latest window (staleness)
``watchkeeper_model_open_alerts{model}``                        open or ongoing alert keys
``watchkeeper_model_findings{model,check,severity}``            findings of the latest window by check
``watchkeeper_key_metric{model,check,metric}``                  the overview's key metric (recall, accuracy,
                                                                mae... or the worst drift statistic)
``watchkeeper_key_metric_baseline{model,check,metric}``         its baseline (or the drift threshold)
``watchkeeper_result_value{model,check,metric,subject}``        latest model-wide results of every check,
                                                                drift per feature, performance per metric
``watchkeeper_result_threshold{...}``, ``_baseline{...}``       the threshold crossed / the baseline
``watchkeeper_result_status{...}``                              0 ok, 1 warning, 2 critical, 3 error
``watchkeeper_performance_window_end_timestamp_seconds{model}`` end of the latest window with labels
``watchkeeper_invalid_configs``                                 config files that do not load
=============================================================  ==============================================
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from watchkeeper.alerting.notice import BASELINE_KEYS
from watchkeeper.store.health_repo import HealthRow, SummaryResult
from watchkeeper.ui.access import Access
from watchkeeper.ui.context import UIContext

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATUS_VALUE = {"ok": 0.0, "warning": 1.0, "critical": 2.0, "error": 3.0}
FINDINGS = ("warning", "critical", "error")
#: Keys of a result's details the samples need: its baseline candidates, then the critical threshold.
PICKED = (*BASELINE_KEYS, "critical")


@lru_cache(maxsize=8192)  # checks, metrics, features and models repeat across thousands of samples
def _label_value(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def labels(**pairs: object) -> str:
    """The label set of a sample, rendered (values escaped), in the order given."""
    return ",".join(f'{k}="{_label_value(v)}"' for k, v in pairs.items())


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Exposition:
    """Gauge families written in the Prometheus text format; samples are rendered as they are added."""

    def __init__(self, families: Mapping[str, str]) -> None:
        self._help = dict(families)
        self._lines: dict[str, list[str]] = {name: [] for name in families}

    def add(self, name: str, label_text: str, value: float | None) -> None:
        """One sample with labels rendered by :func:`labels`; ``None`` values are left out."""
        if value is None or isinstance(value, bool):
            return
        self._lines[name].append(
            f"{name}{{{label_text}}} {_number(value)}" if label_text else f"{name} {_number(value)}"
        )

    def render(self) -> str:
        """The exposition text (every declared family, even one without samples)."""
        parts: list[str] = []
        for name, lines in self._lines.items():
            parts.append(f"# HELP {name} {self._help[name]}\n# TYPE {name} gauge\n")
            parts.extend(f"{line}\n" for line in lines)
        return "".join(parts)


FAMILIES = {
    "watchkeeper_model_info": "Models Watchkeeper knows (1 each); configured=true when the model has a config file.",
    "watchkeeper_model_status": "Status of the latest window: 0 ok, 1 warning, 2 critical, 3 error.",
    "watchkeeper_model_last_window_end_timestamp_seconds": "End of the model's latest checked window (Unix time).",
    "watchkeeper_model_open_alerts": "Alert keys of the model that are open or ongoing.",
    "watchkeeper_model_findings": "Findings in the latest window, by check family and severity.",
    "watchkeeper_key_metric": "The model's key metric (a performance metric when labels exist, else the worst drift).",
    "watchkeeper_key_metric_baseline": "Baseline of the key metric (for drift: its threshold).",
    "watchkeeper_result_value": "Latest results: model-wide metrics of every check, drift per feature, performance.",
    "watchkeeper_result_threshold": "Threshold crossed (or the warning threshold) of a latest result.",
    "watchkeeper_result_baseline": "Baseline a latest result is compared with, when it has one.",
    "watchkeeper_result_status": "Status of a latest result: 0 ok, 1 warning, 2 critical, 3 error.",
    "watchkeeper_performance_window_end_timestamp_seconds": "End of the latest window with performance results.",
    "watchkeeper_invalid_configs": "Config files that do not load (see the overview page).",
}


def _baseline(picked: Sequence[object]) -> float | None:
    """The first finite number among the baseline keys (``picked`` follows :data:`PICKED`)."""
    for value in picked[: len(BASELINE_KEYS)]:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def _threshold(row: SummaryResult) -> float | None:
    critical = row.picked[-1]
    if row.status == "critical" and isinstance(critical, int | float) and not isinstance(critical, bool):
        return float(critical)
    return row.threshold


def _exported(row: SummaryResult) -> bool:
    """Model-wide results of every check, and drift per feature (the rest is summed up in the findings)."""
    return row.subject == "" or row.check == "drift"


def _by_model(rows: Iterable[SummaryResult]) -> dict[str, list[SummaryResult]]:
    out: dict[str, list[SummaryResult]] = defaultdict(list)
    for row in rows:
        out[row.model].append(row)
    return out


def render(ctx: UIContext, access: Access) -> str:
    """The exposition for what ``access`` may read (see the module docstring)."""
    ctx.require_listing(access)
    store = ctx.store
    known = ctx.known(access)
    out = Exposition(FAMILIES)
    health = store.health(known.models, spark=False)
    monitor = _by_model(store.summary_results(known.models, keys=PICKED))
    performance = _by_model(store.summary_results(known.models, performance=True, keys=PICKED))
    for model in known.models:
        config = known.configs.get(model)
        owner = config.model.owner if config else ""
        info = labels(model=model, owner=owner, configured=str(bool(config)).lower())
        out.add("watchkeeper_model_info", info, 1)
        of_model = labels(model=model)
        row = health.get(model)
        out.add("watchkeeper_model_open_alerts", of_model, row.open_alerts if row else 0)
        if row is not None:
            _summary(out, of_model, row)
        _results(out, model, monitor.get(model, []), performance.get(model, []))
    out.add("watchkeeper_invalid_configs", "", len(known.broken))
    return out.render()


def _summary(out: Exposition, of_model: str, row: HealthRow) -> None:
    if (window := row.window) is not None:
        out.add("watchkeeper_model_status", of_model, STATUS_VALUE.get(row.status or "ok", 0.0))
        out.add("watchkeeper_model_last_window_end_timestamp_seconds", of_model, window.end.timestamp())
    if (performance := row.performance_window) is not None:
        out.add("watchkeeper_performance_window_end_timestamp_seconds", of_model, performance.end.timestamp())
    if row.key_check is not None and row.key_metric is not None:
        metric = row.key_metric if row.key_check != "drift" else "drift"
        key = labels(model=row.model, check=row.key_check, metric=metric)
        out.add("watchkeeper_key_metric", key, row.key_value)
        out.add("watchkeeper_key_metric_baseline", key, row.key_baseline)


def _results(out: Exposition, model: str, monitor: list[SummaryResult], performance: list[SummaryResult]) -> None:
    findings: dict[tuple[str, str], int] = defaultdict(int)
    for row in monitor:
        if row.status in FINDINGS:
            findings[(row.check, row.status)] += 1
    # performance results of the latest window with labels (often older than the latest monitor window)
    rows = [r for r in monitor if r.check != "performance" and _exported(r)] + performance
    for (check, severity), count in sorted(findings.items()):
        out.add("watchkeeper_model_findings", labels(model=model, check=check, severity=severity), count)
    of_model = f'model="{_label_value(model)}"'
    for row in rows:
        check, metric, subject = _label_value(row.check), _label_value(row.metric), _label_value(row.subject)
        text = f'{of_model},check="{check}",metric="{metric}",subject="{subject}"'
        out.add("watchkeeper_result_value", text, row.value)
        out.add("watchkeeper_result_threshold", text, _threshold(row))
        out.add("watchkeeper_result_baseline", text, _baseline(row.picked))
        if row.status in STATUS_VALUE:
            out.add("watchkeeper_result_status", text, STATUS_VALUE[row.status])
