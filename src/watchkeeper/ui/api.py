"""The JSON API: models, metrics, latest window, alerts and retraining triggers of the models a viewer may read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from watchkeeper.report.run_report import load_window
from watchkeeper.store.store import to_jsonable
from watchkeeper.ui import queries
from watchkeeper.ui.access import access_of
from watchkeeper.ui.context import UIContext, parse_time
from watchkeeper.ui.overview import overview_rows

if TYPE_CHECKING:
    from watchkeeper.store import AlertRow, MetricRow

#: Most metric rows one API call returns (use start/end to page through more).
MAX_API_ROWS = 100_000


def json_response(data: Any, status_code: int = 200) -> JSONResponse:
    """JSON with ISO datetimes and null for NaN/infinities."""
    return JSONResponse(to_jsonable(data), status_code=status_code)


def metric_json(row: MetricRow) -> dict[str, Any]:
    """One stored metric row as JSON."""
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


def router(ctx: UIContext) -> APIRouter:
    """The ``/api`` routes of the app."""
    api = APIRouter(prefix="/api")

    def unknown(request: Request, model: str) -> Response | None:
        """Check access, then existence: 403 before 404, so a viewer learns nothing about models they may not read."""
        access = access_of(request.scope)
        ctx.require(access, model)
        if ctx.resolve(model) is not None:
            return None
        return json_response({"detail": f"unknown model {model!r}", "known_models": ctx.known(access).models}, 404)

    @api.get("/metrics", response_class=PlainTextResponse)
    def api_prometheus(request: Request) -> Response:
        """Model health in the Prometheus text format (see ``metrics.py``)."""
        from watchkeeper.ui import metrics

        return PlainTextResponse(metrics.render(ctx, access_of(request.scope)), media_type=metrics.CONTENT_TYPE)

    @api.get("/models")
    def api_models(request: Request) -> Response:
        access = access_of(request.scope)
        ctx.require_listing(access)
        rows, known = overview_rows(ctx, access)
        return json_response({"models": rows, "invalid_configs": {str(b.path): b.problem for b in known.broken}})

    @api.get("/models/{model}/metrics")
    def api_metrics(
        request: Request,
        model: str,
        *,
        check: str | None = None,
        metric: str | None = None,
        subject: str | None = None,
        start: str | None = None,
        end: str | None = None,
        limit: int = Query(default=10_000, ge=1, le=MAX_API_ROWS),
    ) -> Response:
        if (missing := unknown(request, model)) is not None:
            return missing
        rows = ctx.store.metrics(
            model,
            start=parse_time(start, "start"),
            end=parse_time(end, "end"),
            check=check or None,
            metric=metric or None,
            subject=subject,
        )
        return json_response(
            {
                "model": model,
                "count": min(len(rows), limit),
                "truncated": len(rows) > limit,
                "rows": [metric_json(r) for r in rows[:limit]],
            }
        )

    @api.get("/models/{model}/windows/latest")
    def api_latest(request: Request, model: str) -> Response:
        if (missing := unknown(request, model)) is not None:
            return missing
        data = load_window(ctx.store, model, None)
        run = data.run
        return json_response(
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
                "results": [metric_json(r) for r in data.rows],
            }
        )

    @api.get("/models/{model}/alerts")
    def api_alerts(request: Request, model: str, limit: int = Query(default=200, ge=1, le=10_000)) -> Response:
        if (missing := unknown(request, model)) is not None:
            return missing
        store = ctx.store
        states = [s.snapshot() for s in store.alert_states(model)]
        return json_response(
            {
                "model": model,
                "open": sum(1 for s in states if s["state"] in queries.OPEN_STATES),
                "states": states,
                "alerts": [_alert_json(a) for a in queries.recent_alerts(store, model, limit)],
            }
        )

    @api.get("/models/{model}/retraining")
    def api_retraining(request: Request, model: str) -> Response:
        if (missing := unknown(request, model)) is not None:
            return missing
        triggers = ctx.store.retrain_triggers(model)
        return json_response(
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

    return api
