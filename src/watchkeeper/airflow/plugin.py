"""The Airflow UI plugin: a "Model health" entry in the navigation, served by Watchkeeper's FastAPI app.

Registered through the ``airflow.plugins`` entry point (nothing to copy into ``plugins/``).

**Login and access like Airflow's own API.** Airflow mounts plugin apps without its own authentication,
so every request goes through :class:`AuthGate`: it needs the same JWT as the rest of the Airflow UI
(the ``_token`` cookie set at login, or an ``Authorization: Bearer`` header from ``POST /auth/token``).
Without one, pages redirect to Airflow's login -- which returns to the same page with its query -- and
the JSON API answers 401. With one, the request carries an :class:`AirflowAccess`: the app answers only
for models whose DAGs (``monitor__<model>``, ``performance__<model>``) Airflow's auth manager lets the
user read, checked exactly as Airflow's ``/api/v2/dags/{dag_id}`` checks them; a user who may read no
DAG at all gets 403 where Airflow's ``/api/v2/dags`` answers 403.

**A read-only token for a scraper.** Airflow's JWTs expire; a Prometheus scraper instead sends the static
token of ``$WATCHKEEPER_METRICS_TOKEN`` (at least 24 characters) as ``Authorization: Bearer``: it reads
``/watchkeeper/api/metrics`` for every model, and is refused (403) anywhere else.

**Cheap everywhere, warm in the API server.** Airflow imports plugins in every process (workers too), so
this module imports nothing heavy, and ``fastapi_apps`` is only built when read -- which only the API
server (and ``airflow plugins``) do. The API server enters the app's lifespan at startup, and that is
when Watchkeeper's app is built and warmed up (imports, store migration check, configs): the first
request pays nothing extra.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Collection, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from watchkeeper.airflow import health_listener

log = logging.getLogger(__name__)

URL_PREFIX = "/watchkeeper"
COOKIE = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN
#: A static read-only bearer token for a Prometheus scraper: it reads ``/api/metrics`` (every model) and nothing else.
METRICS_TOKEN_ENV = "WATCHKEEPER_METRICS_TOKEN"
#: Shortest scraper token accepted (a shorter one is ignored, with an error in the log).
METRICS_TOKEN_MIN_CHARS = 24
METRICS_PATH = "/api/metrics"
#: DAG ids per query when looking up the teams of DAGs (multi-team Airflow).
_IDS_PER_QUERY = 500

Scope = MutableMapping[str, Any]


class AirflowAccess:
    """What one Airflow user may see: the models whose DAGs the auth manager lets them read (GET)."""

    def __init__(self, user: Any, auth_manager: Any) -> None:
        self._user = user
        self._auth = auth_manager
        try:
            name = str(user.get_name())
        except Exception:  # a user object without a name is still a user
            name = "?"
        self.who = f"Airflow user {name!r}"
        self.hint = "ask an Airflow admin for read access to the model's DAGs (monitor__<model>, performance__<model>)"

    def may_list(self) -> bool:
        """Airflow's ``GET /api/v2/dags`` check: may the user read DAGs at all."""
        from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

        return bool(self._auth.is_authorized_dag(method="GET", details=DagDetails(), user=self._user))

    def readable(self, models: Collection[str]) -> set[str]:
        """The models with a DAG the user may read (through ``filter_authorized_dag_ids``, per team)."""
        from watchkeeper.airflow.dag_common import monitor_dag_id, performance_dag_id

        dags = {m: (monitor_dag_id(m), performance_dag_id(m)) for m in models}
        by_team: dict[str | None, set[str]] = {}
        teams = _teams([d for pair in dags.values() for d in pair])
        for pair in dags.values():
            for dag_id in pair:
                by_team.setdefault(teams.get(dag_id), set()).add(dag_id)
        allowed: set[str] = set()
        for team, dag_ids in by_team.items():
            allowed |= set(
                self._auth.filter_authorized_dag_ids(dag_ids=dag_ids, user=self._user, method="GET", team_name=team)
            )
        return {m for m, pair in dags.items() if allowed.intersection(pair)}


def _teams(dag_ids: list[str]) -> dict[str, str | None]:
    """The team of each DAG (multi-team Airflow only; otherwise no DAG has a team)."""
    from airflow.configuration import conf

    if not dag_ids or not conf.getboolean("core", "multi_team", fallback=False):
        return {}
    from airflow.models.dag import DagModel

    teams: dict[str, str | None] = {}
    for i in range(0, len(dag_ids), _IDS_PER_QUERY):
        teams.update(DagModel.get_dag_id_to_team_name_mapping(dag_ids[i : i + _IDS_PER_QUERY]))
    return teams


def _back_to(scope: Scope) -> str:
    """The path and query the browser asked for (the ``next`` of the login page)."""
    path = str(scope.get("path") or "/")
    root = str(scope.get("root_path") or "")
    if root and not path.startswith(root):  # a server that gives the path below root_path
        path = root + path
    query = bytes(scope.get("query_string") or b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def _below(scope: Scope) -> str:
    """The path below the plugin's mount point."""
    root = str(scope.get("root_path") or "")
    path = str(scope.get("path") or "")
    return path[len(root) :] if root and path.startswith(root) else path


def _is_api(scope: Scope) -> bool:
    below = _below(scope)
    return below.startswith("/api/") or below == "/api"


class _Scraper:
    """The holder of the metrics token (not an Airflow user)."""


def _scraper_token() -> str | None:
    token = os.environ.get(METRICS_TOKEN_ENV, "").strip()
    if not token:
        return None
    if len(token) < METRICS_TOKEN_MIN_CHARS:
        log.error(
            "%s is shorter than %d characters and is ignored -- use a long random value, e.g. `openssl rand -hex 32`",
            METRICS_TOKEN_ENV,
            METRICS_TOKEN_MIN_CHARS,
        )
        return None
    return token


class AuthGate:
    """ASGI app: check the Airflow login, attach the user's access, hand the request to Watchkeeper's app."""

    def __init__(self, factory: Callable[[], Any] | None = None) -> None:
        self._factory = factory
        self._app: Any = None
        self._lock = threading.Lock()

    def app(self) -> Any:
        """Watchkeeper's app, built once (imports pandas, SQLAlchemy...)."""
        with self._lock:
            if self._app is None:
                if self._factory is not None:
                    self._app = self._factory()
                else:
                    from watchkeeper.ui.app import create_app

                    self._app = create_app()
            return self._app

    def warm_up(self) -> None:
        """Build the app and pay its one-off costs now (the API server calls this at startup)."""
        app = self.app()
        warm = getattr(getattr(app, "state", None), "warm_up", None)
        if callable(warm):
            warm()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            user, problem = await self._authenticate(scope)
            if problem is not None:
                await self._deny(scope, send, problem, status=403 if isinstance(user, _Scraper) else 401)
                return
            from watchkeeper.ui.access import ACCESS_SCOPE_KEY, OnlyModels

            if isinstance(user, _Scraper):
                scope[ACCESS_SCOPE_KEY] = OnlyModels(None, who="the metrics scraper")
            else:
                from airflow.api_fastapi.app import get_auth_manager

                scope[ACCESS_SCOPE_KEY] = AirflowAccess(user, get_auth_manager())
        await self.app()(scope, receive, send)

    @staticmethod
    async def _authenticate(scope: Scope) -> tuple[Any, str | None]:
        """(user, None) when the request carries a valid Airflow JWT; (None, the reason) otherwise."""
        from starlette.requests import Request

        request = Request(scope)
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE)
        if not token:
            return None, "not authenticated"
        scraper = _scraper_token()
        if scraper is not None and hmac.compare_digest(token.encode(), scraper.encode()):
            if _below(scope) == METRICS_PATH and scope.get("method", "GET") in {"GET", "HEAD"}:
                return _Scraper(), None
            return _Scraper(), f"the {METRICS_TOKEN_ENV} token only reads {URL_PREFIX}{METRICS_PATH}"
        try:
            from airflow.api_fastapi.app import get_auth_manager

            return await get_auth_manager().get_user_from_token(token), None
        except Exception as exc:  # expired or forged tokens alike: log in again
            return None, f"invalid token ({type(exc).__name__})"

    @staticmethod
    async def _deny(scope: Scope, send: Any, reason: str, *, status: int = 401) -> None:
        if status == 403:
            body = json.dumps({"detail": f"Forbidden: {reason}"})
            headers = [(b"content-type", b"application/json")]
        elif _is_api(scope):
            body = json.dumps({"detail": f"{reason}: log in to Airflow or send 'Authorization: Bearer <JWT>'"})
            headers = [(b"content-type", b"application/json")]
        else:
            target = _back_to(scope)
            try:
                from airflow.api_fastapi.app import get_auth_manager

                location = get_auth_manager().get_url_login(next_url=target)
            except Exception:
                from urllib.parse import urlencode

                location = "/auth/login?" + urlencode({"next": target})
            from html import escape

            body = f'<a href="{escape(location)}">Log in to Airflow</a> to see model health.'
            headers = [(b"content-type", b"text/html; charset=utf-8"), (b"location", location.encode("latin-1"))]
            status = 302
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})


@functools.cache
def plugin_app() -> Any:
    """The app Airflow mounts: the gate, with a lifespan that warms Watchkeeper's app up at server start."""
    import anyio
    from fastapi import FastAPI

    gate = AuthGate()

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        try:
            await anyio.to_thread.run_sync(gate.warm_up)
            log.info("Watchkeeper model-health app ready")
        except Exception:  # never keep the API server from starting; the first request tries again
            log.exception("Watchkeeper model-health app could not warm up")
        yield

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gate = gate
    app.mount("", gate)
    return app


class _BuiltWhenRead:
    """``fastapi_apps``, built on first read: only the API server and ``airflow plugins`` read it."""

    def __get__(self, instance: object, owner: type | None = None) -> list[dict[str, Any]]:
        return [{"app": plugin_app(), "url_prefix": URL_PREFIX, "name": "Watchkeeper model health"}]


class WatchkeeperPlugin(AirflowPlugin):
    """Adds "Model health" to the Airflow navigation and serves it under ``/watchkeeper``."""

    name = "watchkeeper"
    fastapi_apps = _BuiltWhenRead()
    #: Writes each monitor run's health (status, top findings, links) into its DAG-run note.
    listeners = [health_listener]
    external_views = [
        {
            "name": "Model health",
            "href": "watchkeeper/",
            "destination": "nav",
            "url_route": "model-health",
        }
    ]
