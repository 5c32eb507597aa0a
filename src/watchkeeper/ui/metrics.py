"""Model health for Prometheus: ``GET /api/metrics`` in the Prometheus text exposition format (0.0.4).

Every series is a gauge labelled by ``model``; only models the viewer may read are exported. What is read:
the store's health summary (latest window, open alert keys, key metric and latest window with performance
results, one row per model), then the results of those windows (grouped by window). Nothing is computed
from raw data, and nothing scans the history.

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from watchkeeper.alerting.notice import BASELINE_KEYS
from watchkeeper.ui import queries
from watchkeeper.ui.access import Access
from watchkeeper.ui.context import UIContext

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STATUS_VALUE = {"ok": 0.0, "warning": 1.0, "critical": 2.0, "error": 3.0}
FINDINGS = ("warning", "critical", "error")


def _label_value(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


@dataclass
class _Family:
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)


class Exposition:
    """Gauge families written in the Prometheus text format."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}

    def family(self, name: str, help_text: str) -> None:
        """Declare a family (written even when it has no sample)."""
        self._families.setdefault(name, _Family(help_text))

    def add(self, name: str, labels: Mapping[str, object], value: float | None) -> None:
        """One sample; ``None`` values are left out."""
        if value is None or isinstance(value, bool):
            return
        self._families[name].samples.append(({k: str(v) for k, v in labels.items()}, float(value)))

    def render(self) -> str:
        """The exposition text."""
        lines: list[str] = []
        for name, family in self._families.items():
            lines.append(f"# HELP {name} {family.help}")
            lines.append(f"# TYPE {name} gauge")
            for labels, value in family.samples:
                text = ",".join(f'{k}="{_label_value(v)}"' for k, v in labels.items())
                lines.append(f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}")
        return "\n".join(lines) + "\n"


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


def _baseline(details: Mapping[str, Any]) -> float | None:
    for key in BASELINE_KEYS:
        value = details.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def _threshold(row: queries.LatestRow) -> float | None:
    critical = row.details.get("critical")
    if row.status == "critical" and isinstance(critical, int | float) and not isinstance(critical, bool):
        return float(critical)
    return row.threshold


def _exported(row: queries.LatestRow) -> bool:
    """Model-wide results of every check, and drift per feature (the rest is summed up in the findings)."""
    return row.subject == "" or row.check == "drift"


def render(ctx: UIContext, access: Access) -> str:
    """The exposition for what ``access`` may read (see the module docstring)."""
    ctx.require_listing(access)
    store = ctx.store
    known = ctx.known(access)
    out = Exposition()
    for name, help_text in FAMILIES.items():
        out.family(name, help_text)
    wanted = set(known.models)
    latest = {m: r for m, r in queries.latest_runs(store).items() if m in wanted}
    for model in known.models:
        if model not in latest and (found := queries.latest_result_window(store, model)) is not None:
            latest[model] = found
    alerts = queries.open_alert_counts(store)
    keys = queries.key_metrics(store, {m: r.window for m, r in latest.items()})
    monitor_rows = queries.rows_of_windows(store, {m: r.window for m, r in latest.items()})
    performance_windows = queries.latest_performance_windows(store, known.models)
    performance_rows = queries.rows_of_windows(store, performance_windows, checks=["performance"], model_wide=True)
    for model in known.models:
        config = known.configs.get(model)
        owner = config.model.owner if config else ""
        out.add("watchkeeper_model_info", {"model": model, "owner": owner, "configured": str(bool(config)).lower()}, 1)
        out.add("watchkeeper_model_open_alerts", {"model": model}, alerts.get(model, 0))
        run = latest.get(model)
        if run is not None:
            out.add("watchkeeper_model_status", {"model": model}, STATUS_VALUE.get(str(run.status), 0.0))
            out.add("watchkeeper_model_last_window_end_timestamp_seconds", {"model": model}, run.window.end.timestamp())
        if model in performance_windows:
            end = performance_windows[model].end.timestamp()
            out.add("watchkeeper_performance_window_end_timestamp_seconds", {"model": model}, end)
        key = keys.get(model)
        if key is not None:
            labels = {"model": model, "check": key.check, "metric": key.metric if key.check != "drift" else "drift"}
            out.add("watchkeeper_key_metric", labels, key.value)
            out.add("watchkeeper_key_metric_baseline", labels, key.baseline)
        _results(out, model, monitor_rows.get(model, []), performance_rows.get(model, []))
    out.add("watchkeeper_invalid_configs", {}, len(known.broken))
    return out.render()


def _results(
    out: Exposition, model: str, monitor: list[queries.LatestRow], performance: list[queries.LatestRow]
) -> None:
    findings: dict[tuple[str, str], int] = defaultdict(int)
    for row in monitor:
        if row.status in FINDINGS:
            findings[(row.check, row.status)] += 1
    # performance results of the latest window with labels (often older than the latest monitor window)
    rows = [r for r in monitor if r.check != "performance" and _exported(r)] + performance
    for (check, severity), count in sorted(findings.items()):
        out.add("watchkeeper_model_findings", {"model": model, "check": check, "severity": severity}, count)
    for row in rows:
        labels = {"model": model, "check": row.check, "metric": row.metric, "subject": row.subject}
        out.add("watchkeeper_result_value", labels, row.value)
        out.add("watchkeeper_result_threshold", labels, _threshold(row))
        out.add("watchkeeper_result_baseline", labels, _baseline(row.details))
        if row.status in STATUS_VALUE:
            out.add("watchkeeper_result_status", labels, STATUS_VALUE[row.status])
