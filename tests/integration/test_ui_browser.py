"""End to end: a real Airflow api-server with the Watchkeeper plugin, driven by headless Chromium.

The plugin pages need the Airflow login: without a token they redirect to the login page (HTML) or
answer 401 (JSON API). With the JWT from ``POST /auth/token`` in the ``_token`` cookie (what the
Airflow login sets) the overview and a model page render, with the drift charts.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "wk-test-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(home: Path) -> None:
    """Demo data and a few monitored + scored windows in the metric store (in-process, no scheduler)."""
    from watchkeeper.checks import run_checks
    from watchkeeper.config import find_config
    from watchkeeper.demo.generate import generate
    from watchkeeper.results import Window
    from watchkeeper.scoring import score_window
    from watchkeeper.store import MetricStore

    generate(home / "demo_data" / "demo_fraud")
    config = find_config("demo_fraud", ROOT / "dags" / "models")
    store = MetricStore()
    store.migrate()
    for day in (5, 6, 27, 28):
        start = datetime(2026, 10, day, tzinfo=UTC)
        window = Window(start, start + timedelta(days=1))
        report = run_checks(config, window, store)
        store.record_window(
            "demo_fraud",
            window,
            report.results,
            run_id="cli",
            source="cli",
            n_rows=report.n_rows,
            summary=report.summary(),
        )
        score_window(config, window, store)


def request(url: str, *, data: dict | None = None, token: str | None = None) -> tuple[int, dict, str]:
    req = urllib.request.Request(
        url, data=json.dumps(data).encode() if data else None, headers={"Content-Type": "application/json"}
    )
    if token:
        req.add_header("Authorization", f"Bearer {token}")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("ui-home")
    airflow_home = home / "airflow"
    airflow_home.mkdir()
    passwords = airflow_home / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD}))
    old = os.environ.get("WATCHKEEPER_HOME")
    os.environ["WATCHKEEPER_HOME"] = str(home)
    seed(home)
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "WATCHKEEPER_HOME": str(home),
            "WATCHKEEPER_CONFIG_DIR": str(ROOT / "dags" / "models"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    log = open(home / "api-server.log", "w")  # noqa: SIM115 -- closed in the finally below
    proc = subprocess.Popen(
        [airflow, "api-server", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if request(f"{base}/api/v2/monitor/health")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                pytest.fail("api-server exited:\n" + (home / "api-server.log").read_text()[-4000:])
            time.sleep(1)
        else:
            pytest.fail("api-server did not become healthy:\n" + (home / "api-server.log").read_text()[-4000:])
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if old is None:
            os.environ.pop("WATCHKEEPER_HOME", None)
        else:
            os.environ["WATCHKEEPER_HOME"] = old


def login(base: str) -> str:
    code, _, body = request(f"{base}/auth/token", data={"username": "admin", "password": PASSWORD})
    assert code in (200, 201), body
    return str(json.loads(body)["access_token"])


def test_plugin_pages_require_the_airflow_login(server: str) -> None:
    code, headers, _ = request(f"{server}/watchkeeper/")
    assert code == 302 and "login" in headers["location"]
    code, _, body = request(f"{server}/watchkeeper/api/models")
    assert code == 401 and "log in to Airflow" in body
    code, _, _ = request(f"{server}/watchkeeper/api/models", token="not-a-jwt")
    assert code == 401


def test_plugin_is_in_the_navigation_and_api_answers(server: str) -> None:
    token = login(server)
    code, _, body = request(f"{server}/api/v2/plugins", token=token)
    assert code == 200
    views = [v for p in json.loads(body)["plugins"] for v in p["external_views"]]
    assert any(v["name"] == "Model health" and v["destination"] == "nav" for v in views)
    code, _, body = request(f"{server}/watchkeeper/api/models", token=token)
    assert code == 200 and "demo_fraud" in body


def test_browser_renders_overview_and_model_page(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    token = login(server)
    shots = Path(os.environ.get("WATCHKEEPER_SCREENSHOTS", tmp_path))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_cookies([{"name": "_token", "value": token, "url": server}])
            page = context.new_page()
            # the "Model health" entry in Airflow's own navigation opens the plugin inside the Airflow UI
            page.goto(f"{server}/")
            page.get_by_text("Model he").first.click()
            page.wait_for_url("**/plugin/model-health/**")
            frame = page.frame_locator("iframe").first
            frame.get_by_text("demo_fraud").first.wait_for()
            page.screenshot(path=str(shots / "airflow-nav.png"))
            page.goto(f"{server}/watchkeeper/")
            page.wait_for_selector("text=demo_fraud")
            assert page.locator("svg").count() >= 1  # sparklines
            page.screenshot(path=str(shots / "overview.png"), full_page=True)
            page.goto(f"{server}/watchkeeper/models/demo_fraud")
            page.wait_for_selector("text=amount")
            assert page.locator("svg").count() >= 5  # drift, distributions, trends
            assert "merchant_category" in page.content()
            page.screenshot(path=str(shots / "model.png"), full_page=True)
            page.screenshot(path=str(shots / "model-top.png"), clip={"x": 0, "y": 0, "width": 1400, "height": 1000})
            assert (shots / "model.png").stat().st_size > 10_000
        finally:
            browser.close()
