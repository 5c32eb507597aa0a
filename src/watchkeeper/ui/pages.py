"""The HTML pages: overview, model page and the run report of a window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from watchkeeper.report import charts
from watchkeeper.report.html import Safe, badge, empty, esc, fmt_dt, join, link, page, section, table, window_text
from watchkeeper.report.run_report import (
    drift_rows,
    drift_section,
    findings_section,
    load_window,
    prediction_section,
    quality_section,
    render_report,
    retraining_section,
    segment_table,
    service_section,
)
from watchkeeper.results import Status, Window
from watchkeeper.ui import queries
from watchkeeper.ui.access import access_of
from watchkeeper.ui.context import BadRequestError, UIContext, parse_time
from watchkeeper.ui.overview import overview_rows

if TYPE_CHECKING:
    from watchkeeper.store import MetricRow, MetricStore

SERVICE_METRICS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate")
DRIFT_TRENDS = 4


def not_found_page(ctx: UIContext, request: Request, model: str, *, depth: int) -> Response:
    """404 page listing the models the viewer may read."""
    access = access_of(request.scope)
    models = ctx.known(access).models
    up = "../" * depth
    items = [link(f"{up}models/{quote(m)}", m) for m in models]
    body = section(
        "Unknown model",
        join(
            [
                Safe(f"<p>No config and nothing stored for model <code>{esc(model)}</code>.</p>"),
                Safe("<p>Known models: " + ", ".join(items) + "</p>") if items else empty("no models known yet"),
            ]
        ),
    )
    return HTMLResponse(page("Model not found", body, nav=[(up or "./", "Overview")]), status_code=404)


def _trend_chart(
    rows: Sequence[queries.Point],
    title: str,
    *,
    baseline: float | None = None,
    higher_is_better: bool | None = None,
) -> Safe:
    points = [(r.window_start, r.value) for r in rows]
    threshold = next((r.threshold for r in reversed(rows) if r.threshold is not None), None)
    band: tuple[float | None, float | None] | None = None
    if threshold is not None:
        band = (None, threshold) if higher_is_better else (threshold, None)
    return Safe(
        charts.line_chart(points, title=title, baseline=baseline, band=band, statuses=[str(r.status) for r in rows])
    )


def _figure_grid(figures: Sequence[str]) -> Safe:
    return Safe('<div class="grid">' + "".join(f"<figure>{f}</figure>" for f in figures) + "</div>")


def _performance_history(store: MetricStore, model: str, baseline: dict[str, Any] | None) -> Safe:
    rows = store.metrics(model, check="performance", subject="")
    if not rows:
        return section("Performance over time", empty("no labels yet: performance appears once labels arrive"))
    by_metric: dict[str, list[MetricRow]] = {}
    for r in rows:
        if r.metric not in {"unexpected_labels", "label_coverage"} and not r.metric.endswith("_trend"):
            by_metric.setdefault(r.metric, []).append(r)
    ref_metrics = ((baseline or {}).get("performance") or {}).get("metrics") or {}
    figures = []
    for metric in sorted(by_metric, key=lambda m: (m not in queries.PERFORMANCE_KEYS, m)):
        series = by_metric[metric]
        last = series[-1]
        ref = last.details.get("baseline", last.details.get("reference", ref_metrics.get(metric)))
        higher = last.details.get("higher_is_better")
        figures.append(
            _trend_chart(
                [queries.Point(r.window_start, r.value, r.threshold, str(r.status)) for r in series],
                metric,
                baseline=float(ref) if isinstance(ref, int | float) else None,
                higher_is_better=bool(higher) if higher is not None else True,
            )
        )
    latest_window = rows[-1].window
    segments = [
        r for r in store.metrics(model, window=latest_window, check="performance") if r.metric.startswith("segment_")
    ]
    parts: list[str] = [_figure_grid(figures)]
    if segments:
        parts.append(Safe(f"<h3>Segments, window {esc(window_text(latest_window.start, latest_window.end))}</h3>"))
        parts.append(segment_table(sorted(segments, key=lambda r: (-r.status.rank, r.metric, r.subject))))
    return section("Performance over time", join(parts), anchor="performance")


def _service_history(store: MetricStore, model: str) -> Safe:
    figures = []
    for metric in SERVICE_METRICS:  # one indexed (model, metric, window_start) query each
        series = queries.series(store, model, "service", metric)
        if series:
            figures.append(_trend_chart(series, metric, higher_is_better=False))
    if not figures:
        return section("Latency and errors over time", empty("no service metrics recorded"))
    return section("Latency and errors over time", _figure_grid(figures), anchor="service-trends")


def _drift_history(store: MetricStore, model: str, latest: Sequence[MetricRow]) -> Safe:
    top = [r for r in drift_rows(latest) if r.value is not None][:DRIFT_TRENDS]
    if not top:
        return Safe("")
    figures = [
        _trend_chart(
            queries.series(store, model, "drift", r.metric, r.subject),
            f"{r.subject}: {r.metric}",
            higher_is_better=False,
        )
        for r in top
    ]
    return section("Drift of the top features over time", _figure_grid(figures), anchor="drift-trends")


def _history_section(store: MetricStore, model: str) -> Safe:
    runs = store.runs(model, limit=30)
    if not runs:
        return section("Recent windows", empty("no runs recorded yet"))
    rows = [
        [
            link(
                f"{quote(model)}/report?"
                + urlencode({"start": r.window_start.isoformat(), "end": r.window_end.isoformat()}),
                window_text(r.window_start, r.window_end),
            ),
            badge(r.status),
            r.n_rows,
            _run_link(model, r.run_id) if r.source == "airflow" else r.run_id,
            r.source,
        ]
        for r in runs
    ]
    return section("Recent windows", table(["window", "status", "rows", "run", "source"], rows), anchor="history")


def airflow_dag_path(model: str, kind: str = "monitor") -> str:
    """Path of a model's DAG in Airflow's UI, relative to a model page (``/watchkeeper/models/<model>``):
    the plugin is served by the same API server, so ``../../`` is Airflow's root under any base path."""
    from watchkeeper.airflow.dag_common import monitor_dag_id, performance_dag_id

    dag_id = monitor_dag_id(model) if kind == "monitor" else performance_dag_id(model)
    return f"../../dags/{quote(dag_id)}"


def _run_link(model: str, run_id: str) -> Safe:
    """A monitor run's id, linked to that DAG run in Airflow's UI."""
    return link(f"{airflow_dag_path(model)}/runs/{quote(run_id, safe='')}", run_id)


def _alert_history(store: MetricStore, model: str) -> Safe:
    states = store.alert_states(model)
    alerts = queries.recent_alerts(store, model)
    parts: list[str] = []
    if states:
        parts.append(Safe("<h3>Alert keys</h3>"))
        parts.append(
            table(
                ["state", "severity", "check", "subject", "opened", "latest window", "notified", "resolved"],
                [
                    [
                        s.state,
                        badge(s.severity),
                        s.check,
                        s.subject,
                        fmt_dt(s.opened_at),
                        window_text(s.window_start, s.window_end),
                        fmt_dt(s.notified_at),
                        fmt_dt(s.resolved_at),
                    ]
                    for s in sorted(states, key=lambda s: (s.state == "resolved", s.check, s.subject))
                ],
            )
        )
    if alerts:
        parts.append(Safe(f"<h3>Alerts (latest {len(alerts)})</h3>"))
        parts.append(
            table(
                ["window", "severity", "state", "check", "metric", "subject", "message"],
                [
                    [fmt_dt(a.window_start), badge(a.severity), a.status, a.check, a.metric, a.subject, a.message]
                    for a in alerts
                ],
            )
        )
    if not parts:
        parts.append(empty("no alerts yet"))
    return section("Alert history", join(parts), anchor="alerts")


def _overview_cells(rows: list[dict[str, Any]]) -> list[list[object]]:
    cells = []
    for r in rows:
        key = r["key_metric"]
        if key is None:
            key_cell: object = None
            spark: object = Safe('<span class="muted">no data</span>')
        else:
            key_cell = Safe(
                f"{esc(key['name'])}: <b>{esc(key['value'])}</b>"
                + (f' <span class="muted">vs {esc(key["baseline"])}</span>' if key["baseline"] is not None else "")
            )
            spark = Safe(
                charts.sparkline(key["series"], label=f"{r['model']} {key['name']}", status=key["status"] or "")
            )
        window = r["last_window"]
        cells.append(
            [
                link(f"models/{quote(r['model'])}", r["model"]),
                r["owner"] or Safe('<span class="muted">no config</span>'),
                badge(r["status"]) if r["status"] else Safe('<span class="muted">no runs yet</span>'),
                fmt_dt(datetime.fromisoformat(window["start"])) if window else None,
                Safe(f'<span class="num">{r["open_alerts"]}</span>'),
                key_cell,
                spark,
            ]
        )
    return cells


def router(ctx: UIContext) -> APIRouter:
    """The HTML routes of the app."""
    pages = APIRouter()

    @pages.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        if not request.url.path.endswith("/"):  # mounted at /watchkeeper: relative links need the slash
            return RedirectResponse(str(request.url.replace(path=request.url.path + "/")))
        access = access_of(request.scope)
        ctx.require_listing(access)
        rows, known = overview_rows(ctx, access)
        # worst first; models without runs last
        rows.sort(key=lambda r: (-(Status(r["status"]).rank if r["status"] else -1), r["model"]))
        cells = _overview_cells(rows)
        parts: list[str] = []
        if cells:
            headers = ["model", "owner", "status", "last window", "open alerts", "key metric", "trend"]
            parts.append(table(headers, cells))
        else:
            parts.append(empty(f"no models yet: add a config to {ctx.configs.folder} and run its DAG"))
        if known.broken:
            parts.append(
                section(
                    f"Invalid configs ({len(known.broken)})",
                    table(["file", "problem"], [[str(b.path), b.problem] for b in known.broken]),
                    anchor="invalid-configs",
                )
            )
        body = section(f"Models ({len(rows)})", join(parts))
        return HTMLResponse(page("Model health", body, subtitle="Watchkeeper: data quality, drift and performance"))

    @pages.get("/models/{model}", response_class=HTMLResponse)
    def model_page(request: Request, model: str) -> Response:
        ctx.require(access_of(request.scope), model)
        found = ctx.resolve(model)
        if found is None:
            return not_found_page(ctx, request, model, depth=1)
        config = found[0]
        store = ctx.store
        data = load_window(store, model, None)
        current = ctx.current_for(config, data)
        meta: list[tuple[str, object]] = [
            ("owner", config.model.owner if config else None),
            ("status", badge(data.status) if data.window else Safe('<span class="muted">no runs yet</span>')),
            ("last window", window_text(data.window.start, data.window.end) if data.window else None),
            ("windows", queries.window_count(store, model)),
        ]
        if config is not None and config.model.description:
            meta.append(("description", config.model.description.strip().splitlines()[0]))
        links = [link(f"{quote(model)}/report", "run report of the latest window")]
        links.append(link(f"../api/models/{quote(model)}/windows/latest", "JSON"))
        links.append(link(f"{airflow_dag_path(model)}/runs", "monitor DAG runs in Airflow"))
        if config is not None and config.model.performance is not None:
            links.append(link(f"{airflow_dag_path(model, 'performance')}/runs", "performance DAG runs in Airflow"))
        meta.append(("links", Safe(" · ".join(links))))
        head = section(
            "Summary",
            Safe('<dl class="meta">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in meta) + "</dl>"),
        )
        parts: list[str] = [head]
        if data.window is None:
            parts.append(section("Latest window", empty("no runs recorded yet")))
        else:
            parts += [
                findings_section(data.rows),
                quality_section(data.rows),
                drift_section(data.rows, data.baseline, current),
                _drift_history(store, model, data.rows),
                prediction_section(data.rows, data.baseline, current),
                service_section(data.rows),
                _service_history(store, model),
            ]
        parts += [
            _performance_history(store, model, data.baseline),
            _alert_history(store, model),
            retraining_section(store.retrain_triggers(model), what="this model"),
            _history_section(store, model),
        ]
        subtitle = f"latest window {window_text(data.window.start, data.window.end)}" if data.window else ""
        return HTMLResponse(page(f"Model {model}", join(parts), nav=[("../", "Overview")], subtitle=subtitle))

    @pages.get("/models/{model}/report", response_class=HTMLResponse)
    def report(request: Request, model: str, start: str | None = None, end: str | None = None) -> Response:
        ctx.require(access_of(request.scope), model)
        found = ctx.resolve(model)
        if found is None:
            return not_found_page(ctx, request, model, depth=2)
        s, e = parse_time(start, "start"), parse_time(end, "end")
        window: Window | None = None
        if s is not None or e is not None:
            if s is None or e is None:
                raise BadRequestError("give both start and end (ISO datetimes), or neither for the latest window")
            try:
                window = Window(s, e)
            except ValueError as exc:
                raise BadRequestError(str(exc)) from exc
        nav = [("../../", "Overview"), (f"../{quote(model)}", f"Model {model}")]
        return HTMLResponse(render_report(found[0], model, window, ctx.store, nav=nav))

    return pages
