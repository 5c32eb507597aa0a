"""The Airflow plugin module: cheap to import in every Airflow process, the login's ``next`` is the page asked for,
and the app is warmed up by the lifespan the API server enters at startup."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from health_seed import Seeded
from watchkeeper.airflow import plugin
from watchkeeper.ui.app import create_app


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    """Workers import every plugin: FastAPI, pandas and the app load only when the API server reads fastapi_apps."""
    code = (
        "import sys\n"
        "import watchkeeper.airflow.plugin as p\n"
        "heavy = {'fastapi', 'pandas', 'watchkeeper.ui.app', 'watchkeeper.ui'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
        "apps = p.WatchkeeperPlugin().fastapi_apps\n"
        "print(type(apps[0]['app']).__name__, apps[0]['url_prefix'], 'watchkeeper.ui.app' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.splitlines() == ["[]", "FastAPI /watchkeeper False"]


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        # Starlette keeps the full path in scope["path"]: root_path must not be added again
        (
            {"root_path": "/watchkeeper", "path": "/watchkeeper/models/x/report", "query_string": b"start=a&end=b"},
            "/watchkeeper/models/x/report?start=a&end=b",
        ),
        # servers that give the path below root_path
        ({"root_path": "/watchkeeper", "path": "/models/x", "query_string": b""}, "/watchkeeper/models/x"),
        ({"path": "/watchkeeper/", "query_string": b""}, "/watchkeeper/"),
    ],
)
def test_the_login_returns_to_the_page_asked_for(scope: dict[str, Any], expected: str) -> None:
    assert plugin._back_to(scope) == expected


def test_api_paths_are_told_apart_from_pages() -> None:
    assert plugin._is_api({"root_path": "/watchkeeper", "path": "/watchkeeper/api/models"})
    assert not plugin._is_api({"root_path": "/watchkeeper", "path": "/watchkeeper/models/api_model"})


def test_the_lifespan_warms_the_app_up_before_the_first_request(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What Airflow's API server does at startup: enter the lifespan of every mounted FastAPI app."""
    built: list[FastAPI] = []
    warmed: list[bool] = []

    def factory() -> FastAPI:
        app = create_app(store=seeded.store, config_dir=seeded.config_dir)
        real = app.state.warm_up

        def warm_up() -> None:
            real()
            warmed.append(True)

        app.state.warm_up = warm_up
        built.append(app)
        return app

    plugin.plugin_app.cache_clear()
    try:
        gate = plugin.AuthGate
        monkeypatch.setattr(plugin, "AuthGate", lambda: gate(factory))
        app = plugin.plugin_app()
        assert built == []  # nothing is built before the server starts
        with TestClient(app):  # enters the lifespan, like Airflow's lifespan does for mounted apps
            assert len(built) == 1 and warmed == [True]
    finally:
        plugin.plugin_app.cache_clear()


def test_plugins_folder_holds_no_second_registration() -> None:
    """The entry point registers the plugin; a file in plugins/ importing it would register it twice."""
    root = Path(__file__).resolve().parents[3]
    for path in (root / "plugins").glob("**/*.py"):
        assert "WatchkeeperPlugin" not in path.read_text(), path
