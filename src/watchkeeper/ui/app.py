"""Watchkeeper's web app: model-health pages and a JSON API, served by FastAPI.

Mounted in the Airflow UI by :mod:`watchkeeper.airflow.plugin` (url prefix ``/watchkeeper``), so every
link is relative. Routes:

- ``GET /``: overview of every model (configs and stored models);
- ``GET /models/{model}``: one model's health, charts and history;
- ``GET /models/{model}/report?start=ISO&end=ISO``: the run report (latest window by default);
- ``GET /api/models``, ``/api/models/{model}/metrics``, ``/windows/latest``, ``/alerts``, ``/retraining``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from watchkeeper import settings
from watchkeeper.exceptions import ConfigError, StoreError
from watchkeeper.report import charts
from watchkeeper.report.html import Safe, badge, empty, esc, fmt_dt, join, link, page, section, table, window_text
from watchkeeper.report.run_report import (
    CurrentCounts,
    WindowData,
    current_counts,
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
from watchkeeper.store.store import MetricStore, to_jsonable
from watchkeeper.ui import queries

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig
    from watchkeeper.store import AlertRow, MetricRow

log = logging.getLogger(__name__)

#: Most metric rows one API call returns (use start/end to page through more).
MAX_API_ROWS = 100_000
SERVICE_METRICS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate")
DRIFT_TRENDS = 4
_CURRENT_CACHE_SIZE = 32


class _Configs:
    """Model configs of a folder, reloaded only when a file changes (mtime), bad ones kept as errors."""

    def __init__(self, folder: Path | None) -> None:
        self._folder = folder
        self._cache: dict[Path, tuple[float, LoadedConfig | ConfigError]] = {}
        self._lock = threading.Lock()

    def load(self) -> tuple[dict[str, LoadedConfig], dict[Path, ConfigError]]:
        from watchkeeper.config import config_paths, load_config

        folder = self._folder if self._folder is not None else settings.config_dir()
        paths = config_paths(folder) if folder.is_dir() else []
        good: dict[str, LoadedConfig] = {}
        bad: dict[Path, ConfigError] = {}
        with self._lock:
            for path in paths:
                try:
                    mtime = path.stat().st_mtime
                except OSError:
                    continue
                cached = self._cache.get(path)
                if cached is None or cached[0] != mtime:
                    try:
                        item: LoadedConfig | ConfigError = load_config(path)
                    except ConfigError as exc:
                        item = exc
                    cached = (mtime, item)
                    self._cache[path] = cached
                if isinstance(cached[1], ConfigError):
                    bad[path] = cached[1]
                else:
                    good[cached[1].model.name] = cached[1]
        return good, bad


class _StoreHolder:
    """The metric store, created on first use and migrated once."""

    def __init__(self, store: MetricStore | None) -> None:
        self._store = store
        self._ready = False
        self._lock = threading.Lock()

    def get(self) -> MetricStore:
        with self._lock:
            if self._store is None:
                self._store = MetricStore()
            if not self._ready:
                self._store.migrate()
                self._ready = True
            return self._store


def _parse_time(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _BadRequestError(
            f"{name}={value!r} is not an ISO date or datetime, e.g. 2026-10-28T00:00:00+00:00"
        ) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class _BadRequestError(ValueError):
    """A query parameter the API cannot use."""


def _metric_json(row: MetricRow) -> dict[str, Any]:
    return {
        "window_start": row.window_start,
        "window_end": row.window_end,
        "check": row.check,
        "metric": row.metric,
        "subject": row.subject,
        "value": row.value,
        "threshold": row.threshold,
        "status": row.status,
        "message": row.message,
        "details": row.details,
    }


def _alert_json(alert: AlertRow) -> dict[str, Any]:
    return {
        "window_start": alert.window_start,
        "window_end": alert.window_end,
        "check": alert.check,
        "metric": alert.metric,
        "subject": alert.subject,
        "severity": alert.severity,
        "status": alert.status,
        "message": alert.message,
        "created_at": alert.created_at,
        "updated_at": alert.updated_at,
    }


def _json(data: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(to_jsonable(data), status_code=status_code)


def create_app(*, store: MetricStore | None = None, config_dir: str | Path | None = None) -> FastAPI:
    """Build the app. ``store`` defaults to ``MetricStore()`` (created lazily, migrated once);
    ``config_dir`` to ``settings.config_dir()``, read on each request (files re-parsed only when changed)."""
    app = FastAPI(title="Watchkeeper", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    stores = _StoreHolder(store)
    configs = _Configs(Path(config_dir) if config_dir is not None else None)
    current_cache: dict[tuple[str, datetime, datetime], CurrentCounts] = {}
    cache_lock = threading.Lock()

    def known_models() -> tuple[list[str], dict[str, LoadedConfig], dict[Path, ConfigError]]:
        good, bad = configs.load()
        stored = stores.get().models()
        return sorted(set(good) | set(stored)), good, bad

    def resolve(model: str) -> tuple[LoadedConfig | None, list[str]] | None:
        """(config, known models) when the model exists; None otherwise."""
        good, _ = configs.load()
        if model in good:
            return good[model], []
        if queries.model_exists(stores.get(), model):
            return None, []
        return None

    def current_for(config: LoadedConfig | None, data: WindowData) -> CurrentCounts | None:
        if config is None or data.window is None or not data.baseline:
            return None
        key = (data.model, data.window.start, data.window.end)
        with cache_lock:
            if key in current_cache:
                return current_cache[key]
        counts = current_counts(config, data.window, data.baseline)
        with cache_lock:
            if len(current_cache) >= _CURRENT_CACHE_SIZE:
                current_cache.pop(next(iter(current_cache)))
            current_cache[key] = counts
        return counts

    def not_found(model: str, *, api: bool, depth: int) -> Response:
        models, _, _ = known_models()
        if api:
            return _json({"detail": f"unknown model {model!r}", "known_models": models}, 404)
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

    @app.exception_handler(StoreError)
    async def store_down(request: Request, exc: StoreError) -> Response:
        log.error("metric store unavailable: %s", exc)
        if "/api/" in request.url.path:
            return _json({"detail": str(exc)}, 503)
        body = section("Metric store unavailable", Safe(f"<p>{esc(exc)}</p>"))
        return HTMLResponse(page("Watchkeeper", body), status_code=503)

    @app.exception_handler(_BadRequestError)
    async def bad_request(request: Request, exc: _BadRequestError) -> Response:
        return _json({"detail": str(exc)}, 400)

    # -- overview ------------------------------------------------------------------------------

    def overview_rows() -> tuple[list[dict[str, Any]], dict[Path, ConfigError]]:
        store = stores.get()
        models, good, bad = known_models()
        latest = queries.latest_runs(store)
        for model in models:
            if model not in latest:
                found = queries.latest_result_window(store, model)
                if found is not None:
                    latest[model] = found
        alerts = queries.open_alert_counts(store)
        keys = queries.key_metrics(store, {m: r.window for m, r in latest.items()})
        rows = []
        for model in models:
            run = latest.get(model)
            config = good.get(model)
            key = keys.get(model)
            rows.append(
                {
                    "model": model,
                    "owner": config.model.owner if config else None,
                    "configured": config is not None,
                    "status": run.status if run else None,
                    "last_window": run.window.as_dict() if run else None,
                    "run_id": run.run_id if run else None,
                    "open_alerts": alerts.get(model, 0),
                    "key_metric": None
                    if key is None
                    else {
                        "name": key.label,
                        "check": key.check,
                        "value": key.value,
                        "baseline": key.baseline,
                        "status": key.status,
                        "series": key.series,
                    },
                }
            )
        return rows, bad

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request) -> Response:
        if not request.url.path.endswith("/"):  # mounted at /watchkeeper: relative links need the slash
            return RedirectResponse(str(request.url.replace(path=request.url.path + "/")))
        rows, bad = overview_rows()
        # worst first; models without runs last
        rows.sort(key=lambda r: (-(Status(r["status"]).rank if r["status"] else -1), r["model"]))
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
        parts: list[str] = []
        if cells:
            parts.append(
                table(["model", "owner", "status", "last window", "open alerts", "key metric", "trend"], cells)
            )
        else:
            parts.append(empty(f"no models yet: add a config to {settings.config_dir()} and run its DAG"))
        if bad:
            parts.append(
                section(
                    f"Invalid configs ({len(bad)})",
                    table(["file", "problem"], [[str(p), str(e)] for p, e in sorted(bad.items())]),
                )
            )
        body = section(f"Models ({len(rows)})", join(parts))
        return HTMLResponse(page("Model health", body, subtitle="Watchkeeper: data quality, drift and performance"))

    # -- model page ----------------------------------------------------------------------------

    def trend_chart(
        rows: Sequence[MetricRow], title: str, *, baseline: float | None = None, higher_is_better: bool | None = None
    ) -> Safe:
        points = [(r.window_start, r.value) for r in rows]
        threshold = next((r.threshold for r in reversed(rows) if r.threshold is not None), None)
        band: tuple[float | None, float | None] | None = None
        if threshold is not None:
            band = (None, threshold) if higher_is_better else (threshold, None)
        return Safe(
            charts.line_chart(points, title=title, baseline=baseline, band=band, statuses=[str(r.status) for r in rows])
        )

    def figure_grid(figures: Sequence[str]) -> Safe:
        return Safe('<div class="grid">' + "".join(f"<figure>{f}</figure>" for f in figures) + "</div>")

    def performance_history(store: MetricStore, model: str, baseline: dict[str, Any] | None) -> Safe:
        rows = store.metrics(model, check="performance", subject="")
        if not rows:
            return section("Performance over time", empty("no labels yet: performance appears once labels arrive"))
        by_metric: dict[str, list[MetricRow]] = {}
        for r in rows:
            if r.metric not in {"unexpected_labels", "label_coverage"} and not r.metric.endswith("_trend"):
                by_metric.setdefault(r.metric, []).append(r)
        ref_metrics = ((baseline or {}).get("performance") or {}).get("metrics") or {}
        figures = []
        ordered = sorted(by_metric, key=lambda m: (m not in queries.PERFORMANCE_KEYS, m))
        for metric in ordered:
            series = by_metric[metric]
            last = series[-1]
            ref = last.details.get("baseline", last.details.get("reference", ref_metrics.get(metric)))
            higher = last.details.get("higher_is_better")
            figures.append(
                trend_chart(
                    series,
                    metric,
                    baseline=float(ref) if isinstance(ref, int | float) else None,
                    higher_is_better=bool(higher) if higher is not None else True,
                )
            )
        latest_window = rows[-1].window
        segments = [
            r
            for r in store.metrics(model, window=latest_window, check="performance")
            if r.metric.startswith("segment_")
        ]
        parts: list[str] = [figure_grid(figures)]
        if segments:
            parts.append(Safe(f"<h3>Segments, window {esc(window_text(latest_window.start, latest_window.end))}</h3>"))
            parts.append(segment_table(sorted(segments, key=lambda r: (-r.status.rank, r.metric, r.subject))))
        return section("Performance over time", join(parts), anchor="performance")

    def service_history(store: MetricStore, model: str) -> Safe:
        rows = store.metrics(model, check="service", subject="")
        figures = []
        for metric in SERVICE_METRICS:
            series = [r for r in rows if r.metric == metric]
            if series:
                figures.append(trend_chart(series, metric, higher_is_better=False))
        if not figures:
            return section("Latency and errors over time", empty("no service metrics recorded"))
        return section("Latency and errors over time", figure_grid(figures), anchor="service-trends")

    def drift_history(store: MetricStore, model: str, latest: Sequence[MetricRow]) -> Safe:
        top = [r for r in drift_rows(latest) if r.value is not None][:DRIFT_TRENDS]
        if not top:
            return Safe("")
        figures = [
            trend_chart(
                store.metrics(model, check="drift", metric=r.metric, subject=r.subject),
                f"{r.subject}: {r.metric}",
                higher_is_better=False,
            )
            for r in top
        ]
        return section("Drift of the top features over time", figure_grid(figures), anchor="drift-trends")

    def history_section(store: MetricStore, model: str) -> Safe:
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
                r.run_id,
                r.source,
            ]
            for r in runs
        ]
        return section("Recent windows", table(["window", "status", "rows", "run", "source"], rows), anchor="history")

    def alert_history(store: MetricStore, model: str) -> Safe:
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

    @app.get("/models/{model}", response_class=HTMLResponse)
    def model_page(model: str) -> Response:
        found = resolve(model)
        if found is None:
            return not_found(model, api=False, depth=1)
        config = found[0]
        store = stores.get()
        data = load_window(store, model, None)
        current = current_for(config, data)
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
                drift_history(store, model, data.rows),
                prediction_section(data.rows, data.baseline, current),
                service_section(data.rows),
                service_history(store, model),
            ]
        parts += [
            performance_history(store, model, data.baseline),
            alert_history(store, model),
            retraining_section(store.retrain_triggers(model), what="this model"),
            history_section(store, model),
        ]
        subtitle = f"latest window {window_text(data.window.start, data.window.end)}" if data.window else ""
        return HTMLResponse(page(f"Model {model}", join(parts), nav=[("../", "Overview")], subtitle=subtitle))

    @app.get("/models/{model}/report", response_class=HTMLResponse)
    def report(model: str, start: str | None = None, end: str | None = None) -> Response:
        found = resolve(model)
        if found is None:
            return not_found(model, api=False, depth=2)
        s, e = _parse_time(start, "start"), _parse_time(end, "end")
        window: Window | None = None
        if s is not None or e is not None:
            if s is None or e is None:
                raise _BadRequestError("give both start and end (ISO datetimes), or neither for the latest window")
            try:
                window = Window(s, e)
            except ValueError as exc:
                raise _BadRequestError(str(exc)) from exc
        nav = [("../../", "Overview"), (f"../{quote(model)}", f"Model {model}")]
        return HTMLResponse(render_report(found[0], model, window, stores.get(), nav=nav))

    # -- JSON API ------------------------------------------------------------------------------

    @app.get("/api/models")
    def api_models() -> Response:
        rows, bad = overview_rows()
        return _json({"models": rows, "invalid_configs": {str(p): str(e) for p, e in bad.items()}})

    @app.get("/api/models/{model}/metrics")
    def api_metrics(
        model: str,
        *,
        check: str | None = None,
        metric: str | None = None,
        subject: str | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: int = Query(default=10_000, ge=1, le=MAX_API_ROWS),
    ) -> Response:
        if resolve(model) is None:
            return not_found(model, api=True, depth=0)
        rows = stores.get().metrics(
            model,
            start=_parse_time(start, "start"),
            end=_parse_time(end, "end"),
            check=check or None,
            metric=metric or None,
            subject=subject,
        )
        truncated = len(rows) > limit
        return _json(
            {
                "model": model,
                "count": min(len(rows), limit),
                "truncated": truncated,
                "rows": [_metric_json(r) for r in rows[:limit]],
            }
        )

    @app.get("/api/models/{model}/windows/latest")
    def api_latest(model: str) -> Response:
        if resolve(model) is None:
            return not_found(model, api=True, depth=0)
        data = load_window(stores.get(), model, None)
        run = data.run
        return _json(
            {
                "model": model,
                "window": data.window.as_dict() if data.window else None,
                "status": data.status if data.window else None,
                "run": None
                if run is None
                else {
                    "run_id": run.run_id,
                    "source": run.source,
                    "status": run.status,
                    "n_rows": run.n_rows,
                    "started_at": run.started_at,
                    "finished_at": run.finished_at,
                },
                "results": [_metric_json(r) for r in data.rows],
            }
        )

    @app.get("/api/models/{model}/alerts")
    def api_alerts(model: str, limit: int = Query(default=200, ge=1, le=10_000)) -> Response:
        if resolve(model) is None:
            return not_found(model, api=True, depth=0)
        store = stores.get()
        states = [s.snapshot() for s in store.alert_states(model)]
        return _json(
            {
                "model": model,
                "open": sum(1 for s in states if s["state"] in queries.OPEN_STATES),
                "states": states,
                "alerts": [_alert_json(a) for a in queries.recent_alerts(store, model, limit)],
            }
        )

    @app.get("/api/models/{model}/retraining")
    def api_retraining(model: str) -> Response:
        if resolve(model) is None:
            return not_found(model, api=True, depth=0)
        triggers = stores.get().retrain_triggers(model)
        return _json(
            {
                "model": model,
                "triggers": [
                    {
                        "triggered_at": t.triggered_at,
                        "dag_id": t.dag_id,
                        "window": t.window.as_dict(),
                        "reason": t.reason,
                        "failing_metrics": t.failing_metrics,
                        "conf": t.conf,
                        "run_url": t.run_url,
                    }
                    for t in triggers
                ],
            }
        )

    return app
