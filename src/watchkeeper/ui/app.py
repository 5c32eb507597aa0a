"""Watchkeeper's web app: model-health pages and a JSON API, served by FastAPI.

Mounted in the Airflow UI by :mod:`watchkeeper.airflow.plugin` (url prefix ``/watchkeeper``), so every
link is relative. Routes (``pages.py``, ``api.py``):

- ``GET /``: overview of every model the viewer may read (configs and stored models), broken configs listed;
- ``GET /models/{model}``: one model's health, charts and history;
- ``GET /models/{model}/report?start=ISO&end=ISO``: the run report (latest window by default);
- ``GET /api/models``, ``/api/models/{model}/metrics``, ``/windows/latest``, ``/alerts``, ``/retraining``;
- ``GET /api/metrics``: model health in the Prometheus text format (``metrics.py``).

Who may see which model is decided by the :class:`~watchkeeper.ui.access.Access` that the mounting layer
puts into the request scope (see ``access.py``); the app itself is Airflow-free.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from watchkeeper.exceptions import StoreError
from watchkeeper.report.html import Safe, esc, page, section
from watchkeeper.ui import api, pages
from watchkeeper.ui.api import json_response
from watchkeeper.ui.context import BadRequestError, ForbiddenError, UIContext

if TYPE_CHECKING:
    from watchkeeper.store import MetricStore

log = logging.getLogger(__name__)

__all__ = ["create_app"]


def _is_api(request: Request) -> bool:
    return "/api/" in request.url.path


def create_app(*, store: MetricStore | None = None, config_dir: str | Path | None = None) -> FastAPI:
    """Build the app. ``store`` defaults to ``MetricStore()`` (created lazily, migrated once);
    ``config_dir`` to ``settings.config_dir()``, read on each request (files re-parsed only when changed).

    ``app.state.warm_up()`` pays the one-off costs (imports, migration check, configs) before the first
    request; the Airflow plugin calls it when the API server starts.
    """
    app = FastAPI(title="Watchkeeper", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    ctx = UIContext(store, Path(config_dir) if config_dir is not None else None)
    app.state.context = ctx
    app.state.warm_up = ctx.warm_up

    @app.exception_handler(StoreError)
    async def store_down(request: Request, exc: StoreError) -> Response:
        log.error("metric store unavailable: %s", exc)
        if _is_api(request):
            return json_response({"detail": str(exc)}, 503)
        body = section("Metric store unavailable", Safe(f"<p>{esc(exc)}</p>"))
        return HTMLResponse(page("Watchkeeper", body), status_code=503)

    @app.exception_handler(BadRequestError)
    async def bad_request(request: Request, exc: BadRequestError) -> Response:
        return json_response({"detail": str(exc)}, 400)

    @app.exception_handler(ForbiddenError)
    async def forbidden(request: Request, exc: ForbiddenError) -> Response:
        log.info("forbidden: %s %s: %s", request.method, request.url.path, exc)
        if _is_api(request):
            return json_response({"detail": f"Forbidden: {exc}"}, 403)
        body = section("Not allowed", Safe(f"<p>{esc(exc)}</p>"))
        return HTMLResponse(page("Watchkeeper", body, nav=[("/", "Airflow")]), status_code=403)

    app.include_router(pages.router(ctx))
    app.include_router(api.router(ctx))
    return app
