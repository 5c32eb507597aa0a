"""End to end: a real Airflow api-server with the Watchkeeper plugin, driven over HTTP and by headless Chromium.

Login: without a token the plugin pages redirect to Airflow's login, whose ``next`` is the same page with its
query, and the JSON API answers 401. Access: four users -- ``admin`` (role admin), ``viewer`` (role viewer),
``nobody`` (no role) and ``carol`` (role viewer, limited by the test auth manager ``ui_auth_manager.py`` to the
DAG ``monitor__churn``) -- each see exactly the models whose DAGs Airflow's own API lets them read, and get 403
where ``/api/v2/dags/...`` answers 403. The plugin is registered once (no plugin import error) and answers its
first request at once on a busy machine: its app warms up when the API server starts.
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
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "wk-test-password"
SCRAPER_TOKEN = "scraper-0123456789abcdef0123456789abcdef"
USERS = {"admin": "admin", "viewer": "viewer", "carol": "viewer", "nobody": ""}
#: Generous: the machine may be busy (CI runs many things at once); nothing here may depend on a quiet machine.
HTTP_TIMEOUT_S = 120
STARTUP_TIMEOUT_S = 600
#: The api-server log of each server (by base URL).
SERVER_LOGS: dict[str, Path] = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(home: Path) -> None:
    """Demo data and a few monitored + scored windows in the metric store (in-process, no scheduler), and a
    model ``churn`` that exists only in the store (no config)."""
    from watchkeeper.checks import run_checks
    from watchkeeper.config import find_config
    from watchkeeper.demo.generate import generate
    from watchkeeper.results import CheckResult, Status, Window
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
    churn = Window(datetime(2026, 10, 28, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC))
    result = CheckResult("quality", "row_count", "", 900.0, 500.0, Status.OK, "900 rows")
    store.record_window("churn", churn, [result], run_id="cli", source="cli", n_rows=900, summary={})


def request(
    url: str, *, data: dict | None = None, token: str | None = None, cookie: str | None = None
) -> tuple[int, dict, str]:
    req = urllib.request.Request(
        url, data=json.dumps(data).encode() if data else None, headers={"Content-Type": "application/json"}
    )
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if cookie:
        req.add_header("Cookie", f"_token={cookie}")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=HTTP_TIMEOUT_S) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("ui-home")
    airflow_home = home / "airflow"
    airflow_home.mkdir()
    passwords = airflow_home / "passwords.json"
    passwords.write_text(json.dumps(dict.fromkeys(USERS, PASSWORD)))
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
            "AIRFLOW__CORE__AUTH_MANAGER": "ui_auth_manager.PerDagAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "WATCHKEEPER_TEST_DAG_ACCESS": json.dumps({"carol": ["monitor__churn"]}),
            "WATCHKEEPER_METRICS_TOKEN": SCRAPER_TOKEN,
            "WATCHKEEPER_HOME": str(home),
            "WATCHKEEPER_CONFIG_DIR": str(ROOT / "dags" / "models"),
            "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    # the DAGs in Airflow's database, so that Airflow's own API can be asked about them
    subprocess.run([airflow, "dags", "reserialize"], env=env, check=True, capture_output=True)
    log = open(home / "api-server.log", "w")  # noqa: SIM115 -- closed in the finally below
    proc = subprocess.Popen(
        [airflow, "api-server", "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    SERVER_LOGS[base] = home / "api-server.log"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
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
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if old is None:
            os.environ.pop("WATCHKEEPER_HOME", None)
        else:
            os.environ["WATCHKEEPER_HOME"] = old


def login(base: str, user: str = "admin") -> str:
    code, _, body = request(f"{base}/auth/token", data={"username": user, "password": PASSWORD})
    assert code in (200, 201), body
    return str(json.loads(body)["access_token"])


QUERY = "start=2026-10-28T00%3A00%3A00%2B00%3A00&end=2026-10-29T00%3A00%3A00%2B00%3A00"
REPORT = f"/watchkeeper/models/demo_fraud/report?{QUERY}"


def test_plugin_pages_require_the_airflow_login(server: str) -> None:
    code, headers, _ = request(f"{server}/watchkeeper/")
    assert code == 302 and "login" in headers["location"]
    code, _, body = request(f"{server}/watchkeeper/api/models")
    assert code == 401 and "log in to Airflow" in body
    code, _, _ = request(f"{server}/watchkeeper/api/models", token="not-a-jwt")
    assert code == 401


def test_the_login_redirect_returns_to_the_same_page_with_its_query(server: str) -> None:
    code, headers, _ = request(server + REPORT)
    assert code == 302
    location = urlsplit(headers["location"])
    assert location.path == "/auth/login"
    (back,) = parse_qs(location.query)["next"]
    assert back == REPORT  # the same page with its query, not /watchkeeper/watchkeeper/... without it
    code, _, body = request(server + back, cookie=login(server))
    assert code == 200 and "2026-10-28" in body


def test_plugin_is_in_the_navigation_and_api_answers(server: str) -> None:
    token = login(server)
    code, _, body = request(f"{server}/api/v2/plugins", token=token)
    assert code == 200
    plugins = json.loads(body)["plugins"]
    assert [p["name"] for p in plugins].count("watchkeeper") == 1
    views = [v for p in plugins for v in p["external_views"]]
    assert any(v["name"] == "Model health" and v["destination"] == "nav" for v in views)
    # registered once: no "already registered" plugin import error on Airflow's home page
    code, _, body = request(f"{server}/api/v2/plugins/importErrors", token=token)
    assert code == 200 and json.loads(body)["total_entries"] == 0, body
    # the app warmed up when the server started: the first request needs no import and no migration
    began = time.monotonic()
    code, _, body = request(f"{server}/watchkeeper/api/models", token=token)
    assert code == 200 and "demo_fraud" in body
    assert "Watchkeeper model-health app ready" in SERVER_LOGS[server].read_text()
    print(f"first /watchkeeper/api/models request: {time.monotonic() - began:.2f} s")


@pytest.mark.parametrize(
    ("user", "models"),
    [("admin", ["churn", "demo_fraud"]), ("viewer", ["churn", "demo_fraud"]), ("carol", ["churn"]), ("nobody", None)],
)
def test_each_user_sees_the_models_whose_dags_airflow_lets_them_read(
    server: str, user: str, models: list[str] | None
) -> None:
    token = login(server, user)
    code, _, body = request(f"{server}/watchkeeper/api/models", token=token)
    airflow_list = request(f"{server}/api/v2/dags", token=token)[0]
    if models is None:  # no role: Airflow's own list answers 403, and so does ours
        assert (code, airflow_list) == (403, 403), body
        assert "may not list models" in json.loads(body)["detail"]
    else:
        assert code == 200 and airflow_list == 200
        assert [m["model"] for m in json.loads(body)["models"]] == models
    for model in ("demo_fraud", "churn"):
        ours = request(f"{server}/watchkeeper/api/models/{model}/windows/latest", token=token)[0]
        page = request(f"{server}/watchkeeper/models/{model}", cookie=token)[0]
        expected = 200 if models is not None and model in models else 403
        assert (ours, page) == (expected, expected), (user, model)
    # where the DAG exists, Airflow's own answer is the same as ours
    airflow_dag = request(f"{server}/api/v2/dags/monitor__demo_fraud", token=token)[0]
    assert airflow_dag == (200 if models is not None and "demo_fraud" in models else 403)


def _models_in(exposition: str) -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        s.labels["model"]
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if "model" in s.labels
    }


def test_prometheus_metrics_for_a_scraper_token_and_for_users(server: str) -> None:
    code, headers, body = request(f"{server}/watchkeeper/api/metrics", token=SCRAPER_TOKEN)
    assert code == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    assert _models_in(body) == {"demo_fraud", "churn"}
    assert 'watchkeeper_model_status{model="demo_fraud"}' in body
    # the scraper's token is read-only and reads the metrics only
    code, _, body = request(f"{server}/watchkeeper/api/models", token=SCRAPER_TOKEN)
    assert code == 403 and "only reads /watchkeeper/api/metrics" in body
    assert request(f"{server}/api/v2/dags", token=SCRAPER_TOKEN)[0] in {401, 403}  # not an Airflow credential
    # Airflow users see the metrics of the models they may read, like every other route
    code, _, body = request(f"{server}/watchkeeper/api/metrics", token=login(server, "carol"))
    assert code == 200 and _models_in(body) == {"churn"}
    assert request(f"{server}/watchkeeper/api/metrics", token=login(server, "nobody"))[0] == 403
    assert request(f"{server}/watchkeeper/api/metrics")[0] == 401


def launch(pw: Any) -> Any:
    """Debian's Chromium, headless."""
    return pw.chromium.launch(
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


def test_a_logged_out_click_on_a_report_link_lands_on_the_report_after_login(server: str) -> None:
    """The Slack "Report" link, clicked while logged out: Airflow's login page, then that report."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            context = browser.new_context()
            context.set_default_timeout(HTTP_TIMEOUT_S * 1000)
            page = context.new_page()
            page.goto(server + REPORT)
            page.wait_for_url("**/auth/login**")
            page.locator("input[name=username]").fill("viewer")
            page.locator("input[name=password]").fill(PASSWORD)
            page.locator("input[name=password]").press("Enter")
            page.wait_for_url(f"**{REPORT}")
            assert "2026-10-28" in page.content()
        finally:
            browser.close()


def test_browser_renders_overview_and_model_page(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    token = login(server)
    shots = Path(os.environ.get("WATCHKEEPER_SCREENSHOTS", tmp_path))
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(HTTP_TIMEOUT_S * 1000)
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
