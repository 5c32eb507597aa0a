"""The per-run HTML report: one self-contained page (inline CSS and SVG) for one model window.

Sections: header (model, window, overall status, owner), findings ranked by severity, data quality,
feature drift ranked by statistic with a reference-vs-current chart per drifted or top feature,
prediction and confidence, service health, performance (or "no labels yet"), the window's alerts and
notifications, and retraining triggers. Reference distributions come from the stored baseline; the
current ones from the window's stored profile (its counts on the baseline's own bins and categories),
never from raw data: the report renders with the prediction log deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watchkeeper.report import charts
from watchkeeper.report.html import (
    Safe,
    badge,
    empty,
    esc,
    fmt_dt,
    join,
    page,
    para,
    section,
    table,
    window_text,
)
from watchkeeper.results import Status, Window, worst

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig
    from watchkeeper.store import AlertRow, MetricRow, MetricStore, NotificationRow, RetrainRow, RunRow

log = logging.getLogger(__name__)

#: Key of the score distribution in the map of current counts (features use their own names).
SCORE_KEY = "__score__"
#: Drift charts drawn: every drifted feature plus the top features by statistic, at most this many.
MAX_DRIFT_CHARTS = 8
TOP_DRIFT_CHARTS = 3
#: Categories shown per categorical chart (the rest are summed into "other").
MAX_CATEGORIES = 12

CurrentCounts = dict[str, list[float] | dict[str, float]]


@dataclass
class WindowData:
    """Everything stored about one model window."""

    model: str
    window: Window | None
    run: RunRow | None = None
    rows: list[MetricRow] = field(default_factory=list)
    baseline: dict[str, Any] | None = None
    alerts: list[AlertRow] = field(default_factory=list)
    notifications: list[NotificationRow] = field(default_factory=list)
    triggers: list[RetrainRow] = field(default_factory=list)
    #: The window's stored profile payload (``watchkeeper.profile.codec``), if any.
    profile: dict[str, Any] | None = None

    @property
    def status(self) -> Status:
        """The window's overall status: the run's, or the worst of its results."""
        statuses = [r.status for r in self.rows]
        if self.run is not None:
            statuses.append(self.run.status)
        return worst(statuses)


def load_window(store: MetricStore, model: str, window: Window | None) -> WindowData:
    """Read what the store holds about ``window`` of ``model`` (the latest window when None)."""
    window = window if window is not None else store.latest_window(model)
    if window is None:
        return WindowData(model, None, baseline=_baseline(store, model))
    run = store.run(model, window)
    triggers = [t for t in store.retrain_triggers(model) if t.window_start == window.start]
    stored = store.window_profile(model, window)
    baseline = _baseline(store, model)
    if stored is not None and baseline is not None and baseline.get("hash") not in (None, stored.baseline_hash):
        baseline = store.baseline_by_hash(model, stored.baseline_hash) or baseline  # the one it was counted on
    return WindowData(
        model=model,
        window=window,
        run=run,
        rows=store.metrics(model, window=window),
        baseline=baseline,
        alerts=store.alerts(model, window=window),
        notifications=store.notifications(model, window=window),
        triggers=triggers,
        profile=None if stored is None else stored.payload,
    )


def _baseline(store: MetricStore, model: str) -> dict[str, Any] | None:
    found = store.get_baseline(model)
    return None if found is None else found[1]


# -- current distributions -------------------------------------------------------------------------


def profile_counts(payload: Mapping[str, Any] | None) -> CurrentCounts:
    """Current distributions from a stored window profile: per numerical feature its counts on the
    reference bins, per categorical feature its category counts (``other`` holds the categories past the
    profile's cap), and the score histogram under :data:`SCORE_KEY`."""
    out: CurrentCounts = {}
    if not payload:
        return out
    entries = dict(payload.get("features") or {})
    if payload.get("score"):
        entries[SCORE_KEY] = payload["score"]
    for name, data in entries.items():
        if not isinstance(data, Mapping):
            continue
        if data.get("kind") == "numerical":
            bins = data.get("bins")
            if isinstance(bins, list):
                out[name] = [float(c) for c in bins]
        else:
            counts = {str(k): float(v) for k, v in (data.get("counts") or {}).items()}
            if data.get("other_count"):
                counts["other"] = counts.get("other", 0.0) + float(data["other_count"])
            out[name] = counts
    return out


def stored_counts(store: MetricStore, model: str, window: Window) -> CurrentCounts:
    """Current distributions of a window from its stored profile (empty when it has none)."""
    stored = store.window_profile(model, window)
    return profile_counts(None if stored is None else stored.payload)


def _details_counts(row: MetricRow) -> list[float] | dict[str, float] | None:
    """Current counts carried by a drift result's details, if the drift test stored them."""
    for key in ("current_counts",):
        value = row.details.get(key)
        if isinstance(value, list) and all(isinstance(v, int | float) for v in value):
            return [float(v) for v in value]
        if isinstance(value, dict) and all(isinstance(v, int | float) for v in value.values()):
            return {str(k): float(v) for k, v in value.items()}
    return None


def _bin_labels(edges: Sequence[float]) -> list[str]:
    if not edges:
        return ["all"]
    labels = [f"< {charts.fmt(edges[0])}"]
    labels += [f"{charts.fmt(a)}\u2013{charts.fmt(b)}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    labels.append(f"\u2265 {charts.fmt(edges[-1])}")
    return labels


def distribution_chart(
    title: str, profile: Mapping[str, Any] | None, current: list[float] | dict[str, float] | None
) -> Safe:
    """Reference-vs-current bars of one profile (numerical bins or categories)."""
    if not profile:
        return empty(f"{title}: no reference profile in the baseline")
    if profile.get("kind") == "numerical":
        edges = [float(e) for e in profile.get("edges") or []]
        ref = [float(c) for c in profile.get("counts") or []]
        labels = _bin_labels(edges)
        cur = current if isinstance(current, list) and len(current) == len(ref) else None
        return Safe(charts.bar_chart(labels[: len(ref)], ref, cur, title=title))
    ref_counts = {str(k): float(v) for k, v in (profile.get("counts") or {}).items()}
    cur_counts = current if isinstance(current, dict) else None
    ranked = sorted(
        set(ref_counts) | set(cur_counts or {}),
        key=lambda k: (
            -(ref_counts.get(k, 0.0) / max(sum(ref_counts.values()), 1.0))
            - ((cur_counts or {}).get(k, 0.0) / max(sum((cur_counts or {}).values()), 1.0))
        ),
    )
    shown = ranked[:MAX_CATEGORIES]
    rest = ranked[MAX_CATEGORIES:]
    labels = [*shown, *(["other"] if rest else [])]
    ref_list = [ref_counts.get(k, 0.0) for k in shown] + ([sum(ref_counts.get(k, 0.0) for k in rest)] if rest else [])
    cur_list = None
    if cur_counts is not None:
        cur_list = [cur_counts.get(k, 0.0) for k in shown] + (
            [sum(cur_counts.get(k, 0.0) for k in rest)] if rest else []
        )
    return Safe(charts.bar_chart(labels, ref_list, cur_list, title=title))


# -- sections --------------------------------------------------------------------------------------


def _value_cell(row: MetricRow) -> Safe:
    return Safe(f'<span class="num">{esc(row.value)}</span>')


def _severity_key(row: MetricRow) -> tuple[int, str, str, str]:
    return (-row.status.rank, row.check, row.subject, row.metric)


def findings_section(rows: Sequence[MetricRow]) -> Safe:
    """Findings (warning, critical, error) ranked by severity."""
    found = sorted((r for r in rows if r.status.is_finding), key=_severity_key)
    if not found:
        return section("Findings", empty("no findings: every check passed or was skipped"), anchor="findings")
    body = table(
        ["status", "check", "metric", "subject", "value", "threshold", "baseline", "message"],
        [
            [
                badge(r.status),
                r.check,
                r.metric,
                r.subject,
                r.value,
                r.threshold,
                r.details.get("baseline") if isinstance(r.details.get("baseline"), int | float) else None,
                r.message,
            ]
            for r in found
        ],
    )
    return section(f"Findings ({len(found)})", body, anchor="findings")


def results_table(rows: Sequence[MetricRow]) -> Safe:
    """Status, metric, subject, value, threshold and message of each row, most severe first."""
    ordered = sorted(rows, key=_severity_key)
    return table(
        ["status", "metric", "subject", "value", "threshold", "message"],
        [[badge(r.status), r.metric, r.subject, r.value, r.threshold, r.message] for r in ordered],
    )


def quality_section(rows: Sequence[MetricRow]) -> Safe:
    """Data-quality results."""
    quality = [r for r in rows if r.check == "quality"]
    if not quality:
        return section("Data quality", empty("no data-quality results for this window"), anchor="quality")
    return section("Data quality", results_table(quality), anchor="quality")


def drift_rows(rows: Sequence[MetricRow]) -> list[MetricRow]:
    """Feature drift results, largest statistic first (skipped ones last)."""
    drift = [r for r in rows if r.check == "drift"]
    return sorted(drift, key=lambda r: (r.value is None, -(r.value or 0.0), r.subject))


def drift_section(
    rows: Sequence[MetricRow], baseline: Mapping[str, Any] | None, current: CurrentCounts | None = None
) -> Safe:
    """Feature drift ranked by statistic, with a distribution chart per drifted or top feature."""
    drift = drift_rows(rows)
    if not drift:
        return section("Feature drift", empty("no drift results for this window"), anchor="drift")
    body = [
        table(
            ["status", "feature", "test", "statistic", "threshold", "p-value", "rows", "message"],
            [
                [
                    badge(r.status),
                    r.subject,
                    r.details.get("method", r.metric),
                    r.value,
                    r.threshold,
                    r.details.get("p_value"),
                    r.details.get("n"),
                    r.message,
                ]
                for r in drift
            ],
        )
    ]
    drifted = [r for r in drift if r.status.is_finding]
    top = [r for r in drift if r.value is not None and not r.status.is_finding][:TOP_DRIFT_CHARTS]
    chosen = (drifted + top)[:MAX_DRIFT_CHARTS]
    profiles = dict((baseline or {}).get("features") or {})
    figures = []
    for r in chosen:
        counts = _details_counts(r) or (current or {}).get(r.subject)
        title = f"{r.subject}: {r.details.get('method', r.metric)} {charts.fmt(r.value)} ({r.status})"
        chart = distribution_chart(title, profiles.get(r.subject), counts)
        note = "" if counts is not None else "no stored window profile: reference shown with the statistic"
        figures.append(
            f'<figure class="drift-chart" data-feature="{esc(r.subject)}">{chart}'
            f"<figcaption>{esc(r.message)}{esc(' - ' + note) if note else ''}</figcaption></figure>"
        )
    if figures:
        body.append(Safe('<div class="grid">' + "".join(figures) + "</div>"))
    return section("Feature drift", join(body), anchor="drift")


def prediction_section(
    rows: Sequence[MetricRow], baseline: Mapping[str, Any] | None, current: CurrentCounts | None = None
) -> Safe:
    """Score drift, predicted-class rates and confidence."""
    pred = [r for r in rows if r.check == "prediction"]
    if not pred:
        return section("Predictions and confidence", empty("no prediction results for this window"), anchor="pred")
    parts: list[str] = [results_table(pred)]
    figures = []
    score_profile = (baseline or {}).get("score")
    if score_profile:
        score_row = next((r for r in pred if r.metric.startswith("score_")), None)
        counts = (_details_counts(score_row) if score_row else None) or (current or {}).get(SCORE_KEY)
        figures.append(distribution_chart("score distribution", score_profile, counts))
    rates = [r for r in pred if r.metric == "class_rate_change"]
    if rates:
        labels = [r.subject.removeprefix("class=") for r in rates]
        ref = [float(r.details.get("reference_rate") or 0.0) for r in rates]
        cur = [float(r.details.get("current_rate") or 0.0) for r in rates]
        figures.append(Safe(charts.bar_chart(labels, ref, cur, title="predicted class rates")))
    conf = {r.metric: r for r in pred if r.metric in {"mean_confidence", "low_confidence_share"}}
    if conf:
        ref_conf = (baseline or {}).get("confidence") or {}
        labels, ref_v, cur_v = [], [], []
        for metric, ref_key in (("mean_confidence", "mean"), ("low_confidence_share", "low_share")):
            row = conf.get(metric)
            if row is not None and row.value is not None:
                labels.append(metric)
                cur_v.append(row.value)
                ref_v.append(float(ref_conf.get(ref_key) or row.details.get("reference") or 0.0))
        if labels:
            parts.append(
                table(
                    ["confidence", "reference", "current"],
                    [[name, r, c] for name, r, c in zip(labels, ref_v, cur_v, strict=True)],
                )
            )
    if figures:
        parts.append(Safe('<div class="grid">' + "".join(f"<figure>{f}</figure>" for f in figures) + "</div>"))
    return section("Predictions and confidence", join(parts), anchor="pred")


def service_section(rows: Sequence[MetricRow]) -> Safe:
    """Latency percentiles and error rate."""
    service = [r for r in rows if r.check == "service"]
    if not service:
        return section("Service health", empty("no service metrics for this window"), anchor="service")
    return section("Service health", results_table(service), anchor="service")


def _ci(row: MetricRow) -> str:
    ci = row.details.get("ci")
    if isinstance(ci, list) and len(ci) == 2 and all(isinstance(v, int | float) for v in ci):
        return f"{charts.fmt(ci[0])} \u2013 {charts.fmt(ci[1])}"
    return "\u2014"


def _reference_of(row: MetricRow, baseline: Mapping[str, Any] | None) -> float | None:
    for key in ("baseline", "reference"):
        value = row.details.get(key)
        if isinstance(value, int | float):
            return float(value)
    ref = (((baseline or {}).get("performance") or {}).get("metrics") or {}).get(row.metric)
    return float(ref) if isinstance(ref, int | float) else None


def performance_section(rows: Sequence[MetricRow], baseline: Mapping[str, Any] | None) -> Safe:
    """Performance on labels with confidence intervals, and the segment breakdown."""
    perf = [r for r in rows if r.check == "performance"]
    if not perf:
        return section("Performance", empty("no labels yet for this window"), anchor="performance")
    metrics = [r for r in perf if not r.metric.startswith("segment_") and r.subject == ""]
    segments = sorted(
        (r for r in perf if r.metric.startswith("segment_")), key=lambda r: (-r.status.rank, r.metric, r.subject)
    )
    other = [r for r in perf if r not in metrics and r not in segments]
    parts: list[str] = []
    if metrics:
        parts.append(
            table(
                ["status", "metric", "value", "CI", "baseline", "threshold", "n", "message"],
                [
                    [
                        badge(r.status),
                        r.metric,
                        r.value,
                        _ci(r),
                        _reference_of(r, baseline),
                        r.threshold,
                        r.details.get("n"),
                        r.message,
                    ]
                    for r in sorted(metrics, key=_severity_key)
                ],
            )
        )
    if segments:
        parts.append(Safe("<h3>Segments</h3>"))
        parts.append(segment_table(segments))
    if other:
        parts.append(results_table(other))
    return section("Performance", join(parts), anchor="performance")


def segment_table(segments: Sequence[MetricRow]) -> Safe:
    """Per-segment performance: value vs overall and the rest, adjusted p-value."""
    return table(
        ["status", "metric", "segment", "value", "overall", "rest", "n", "adjusted p", "message"],
        [
            [
                badge(r.status),
                r.metric.removeprefix("segment_"),
                r.subject,
                r.value,
                r.details.get("overall"),
                r.details.get("rest"),
                r.details.get("n"),
                r.details.get("p_adjusted"),
                r.message,
            ]
            for r in segments
        ],
    )


def alerts_section(alerts: Sequence[AlertRow], notifications: Sequence[NotificationRow]) -> Safe:
    """The window's alerts and the messages queued or sent about it."""
    parts: list[str] = []
    if alerts:
        parts.append(
            table(
                ["severity", "state", "check", "metric", "subject", "message"],
                [[badge(a.severity), a.status, a.check, a.metric, a.subject, a.message] for a in alerts],
            )
        )
    else:
        parts.append(empty("no alerts for this window"))
    if notifications:
        parts.append(Safe("<h3>Notifications</h3>"))
        parts.append(
            table(
                ["kind", "status", "channel", "sink", "created", "sent", "attempts", "title"],
                [
                    [
                        n.kind,
                        n.status,
                        n.delivered_channel or n.channel,
                        n.sink,
                        fmt_dt(n.created_at),
                        fmt_dt(n.sent_at),
                        n.attempts,
                        n.payload.get("title") or n.last_error,
                    ]
                    for n in notifications
                ],
            )
        )
    return section("Alerts and notifications", join(parts), anchor="alerts")


def retraining_section(triggers: Sequence[RetrainRow], *, what: str = "this window") -> Safe:
    """Retraining DAG runs triggered."""
    if not triggers:
        return section("Retraining", empty(f"no retraining triggered for {what}"), anchor="retraining")
    body = table(
        ["triggered", "DAG", "window", "reason", "failing metrics", "run"],
        [
            [
                fmt_dt(t.triggered_at),
                t.dag_id,
                window_text(t.window_start, t.window_end),
                t.reason,
                ", ".join(str(m.get("metric", m)) if isinstance(m, dict) else str(m) for m in t.failing_metrics),
                t.run_url,  # shown as text, never as a link: the report stays offline-safe
            ]
            for t in triggers
        ],
    )
    return section("Retraining", body, anchor="retraining")


def profile_section(payload: Mapping[str, Any] | None) -> Safe:
    """What the window's one pass saw: rows, reading, latency quantiles, ids, status values."""
    if not payload:
        return section("Window profile", empty("no profile stored for this window"), anchor="profile")
    scan = payload.get("scan") or {}
    ids = payload.get("ids") or {}
    latency = (payload.get("latency") or {}).get("quantiles") or {}
    items: list[tuple[str, object]] = [
        ("rows", payload.get("rows")),
        ("newest row", payload.get("newest")),
        ("files read", scan.get("files_read")),
        ("batches", scan.get("batches")),
        ("pass seconds", scan.get("seconds")),
        ("ids (duplicates)", f"{ids.get('n', 0)} ({ids.get('duplicates', 0)})"),
    ]
    items += [(f"latency {k} (ms)", charts.fmt(v)) for k, v in latency.items()]
    status = (payload.get("status") or {}).get("counts") or {}
    if status:
        items.append(("status values", ", ".join(f"{k}: {v}" for k, v in list(status.items())[:8])))
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
    return section("Window profile", Safe(f'<dl class="meta">{body}</dl>'), anchor="profile")


def header_section(data: WindowData, config: LoadedConfig | None) -> Safe:
    """Model, window, overall status, owner and the run that wrote the window."""
    owner = config.model.owner if config is not None else None
    items: list[tuple[str, object]] = [
        ("model", data.model),
        ("owner", owner),
        ("window", window_text(data.window.start, data.window.end) if data.window else None),
        ("status", badge(data.status)),
    ]
    if data.run is not None:
        items += [
            ("run", f"{data.run.run_id} ({data.run.source})"),
            ("rows", data.run.n_rows),
            ("finished", fmt_dt(data.run.finished_at)),
        ]
    if config is not None and config.model.description:
        items.append(("description", config.model.description.strip().splitlines()[0]))
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
    return section("Summary", Safe(f'<dl class="meta">{body}</dl>'), anchor="summary")


# -- the report ------------------------------------------------------------------------------------


def report_body(data: WindowData, config: LoadedConfig | None, current: CurrentCounts | None = None) -> Safe:
    """Every section of the report of ``data``."""
    if data.window is None:
        return join([header_section(data, config), section("Runs", empty("no runs recorded yet"), anchor="runs")])
    return join(
        [
            header_section(data, config),
            findings_section(data.rows),
            quality_section(data.rows),
            drift_section(data.rows, data.baseline, current),
            prediction_section(data.rows, data.baseline, current),
            service_section(data.rows),
            profile_section(data.profile),
            performance_section(data.rows, data.baseline),
            alerts_section(data.alerts, data.notifications),
            retraining_section(data.triggers),
        ]
    )


def render_report(
    config: LoadedConfig | None,
    model: str,
    window: Window | None,
    store: MetricStore,
    *,
    recompute: bool = True,
    nav: Sequence[tuple[str, str]] = (),
) -> str:
    """The self-contained HTML report of one model window (its latest window when ``window`` is None).

    Current distributions come from the window's stored profile (``recompute`` is ignored: raw data is
    never read). A model with nothing stored renders "no runs recorded yet".
    """
    data = load_window(store, model, window)
    current = profile_counts(data.profile)
    title = f"Watchkeeper report: {model}"
    subtitle = window_text(data.window.start, data.window.end) if data.window else "no runs recorded yet"
    return page(title, report_body(data, config, current), nav=nav, subtitle=subtitle)


def write_report(
    config: LoadedConfig | None, model: str, window: Window | None, store: MetricStore, path: str | Path
) -> Path:
    """Render the report and write it to ``path`` (folders created); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_report(config, model, window, store), encoding="utf-8")
    log.info("model=%s: report written to %s", model, target)
    return target


def para_note(text: str) -> Safe:
    """A muted note paragraph (used by the UI)."""
    return para(text, css_class="muted")
