"""The Airflow UI plugin: a "Model health" entry in the navigation, served by Watchkeeper's FastAPI app.

Registered through the ``airflow.plugins`` entry point. Airflow mounts plugin apps without its own
authentication, so the app is wrapped: every request must carry the same JWT as the rest of the
Airflow UI (the ``_token`` cookie set at login, or an ``Authorization: Bearer`` header). Without one,
pages redirect to Airflow's login and the JSON API answers 401.

Airflow imports plugins in every process (workers too); the real app (pandas, SQLAlchemy) is built on
the first request only.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

URL_PREFIX = "/watchkeeper"
COOKIE = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN

Scope = dict[str, Any]


class AuthenticatedLazyApp:
    """ASGI app: check the Airflow login, then hand the request to the (lazily built) Watchkeeper app."""

    def __init__(self) -> None:
        self._app: Any = None

    def _inner(self) -> Any:
        if self._app is None:
            from watchkeeper.ui.app import create_app

            self._app = create_app()
        return self._app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            problem = await self._authenticate(scope)
            if problem is not None:
                await self._deny(scope, send, problem)
                return
        await self._inner()(scope, receive, send)

    @staticmethod
    async def _authenticate(scope: Scope) -> str | None:
        """None when the request carries a valid Airflow JWT; the reason otherwise."""
        from starlette.requests import Request

        request = Request(scope)
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(COOKIE)
        if not token:
            return "not authenticated"
        try:
            from airflow.api_fastapi.app import get_auth_manager

            await get_auth_manager().get_user_from_token(token)
        except Exception as exc:  # expired or forged tokens alike: log in again
            return f"invalid token ({type(exc).__name__})"
        return None

    @staticmethod
    async def _deny(scope: Scope, send: Any, reason: str) -> None:
        path = scope.get("root_path", "") + scope.get("path", "")
        if "/api/" in scope.get("path", "") or scope.get("path", "").startswith("/api"):
            body = json.dumps({"detail": f"{reason}: log in to Airflow or send 'Authorization: Bearer <JWT>'"})
            headers = [(b"content-type", b"application/json")]
            status = 401
        else:
            try:
                from airflow.api_fastapi.app import get_auth_manager

                login = get_auth_manager().get_url_login()
            except Exception:
                login = "/auth/login"
            location = f"{login}{'&' if '?' in login else '?'}next={quote(path)}"
            body = f'<a href="{location}">Log in to Airflow</a> to see model health.'
            headers = [(b"content-type", b"text/html; charset=utf-8"), (b"location", location.encode())]
            status = 302
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})


class WatchkeeperPlugin(AirflowPlugin):
    """Adds "Model health" to the Airflow navigation and serves it under ``/watchkeeper``."""

    name = "watchkeeper"
    fastapi_apps = [{"app": AuthenticatedLazyApp(), "url_prefix": URL_PREFIX, "name": "Watchkeeper model health"}]
    external_views = [
        {
            "name": "Model health",
            "href": "watchkeeper/",
            "destination": "nav",
            "url_route": "model-health",
        }
    ]
