"""Settings: where the metric store is (env var, Airflow connection, SQLite), URL checks and masking."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from watchkeeper import settings
from watchkeeper.exceptions import StoreError
from watchkeeper.settings import mask_url, parse_store_url, resolve_store

PG = "postgresql+psycopg://wk:s3cret@db.internal:5432/watchkeeper"


@pytest.fixture(autouse=True)
def _no_store_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WATCHKEEPER_DATABASE_URL", "WATCHKEEPER_STORE_CONN_ID", "AIRFLOW_CONN_WATCHKEEPER_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")


# -- where the store is --------------------------------------------------------------------------------


def test_default_is_sqlite_in_the_state_folder(_isolated_state: Path) -> None:
    location = resolve_store()
    assert location.url == f"sqlite:///{_isolated_state / 'watchkeeper.db'}"
    assert location.source == "default SQLite file"
    assert settings.database_url() == location.url


def test_env_var_wins_over_the_airflow_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WATCHKEEPER_STORE", "postgres://conn:pw@conn-host:5432/from_conn")
    monkeypatch.setenv("WATCHKEEPER_DATABASE_URL", PG)
    location = resolve_store()
    assert (location.url, location.source) == (PG, "$WATCHKEEPER_DATABASE_URL")
    assert location.masked_url == "postgresql+psycopg://wk:***@db.internal:5432/watchkeeper"


def test_airflow_connection_from_its_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    # A real lookup through Airflow's secrets backends (the environment-variable backend answers).
    monkeypatch.setenv(
        "AIRFLOW_CONN_WATCHKEEPER_STORE", "postgres://conn:p%40ss@conn-host:6543/from_conn?sslmode=require"
    )
    location = resolve_store()
    assert location.source == "Airflow connection 'watchkeeper_store'"
    assert location.url == "postgresql+psycopg://conn:p%40ss@conn-host:6543/from_conn?sslmode=require"
    assert location.masked_url == "postgresql+psycopg://conn:***@conn-host:6543/from_conn?sslmode=require"


def test_connection_id_can_be_renamed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHKEEPER_STORE_CONN_ID", "metrics_db")
    monkeypatch.setenv("AIRFLOW_CONN_METRICS_DB", json.dumps({"conn_type": "postgres", "host": "h", "schema": "m"}))
    assert resolve_store() == settings.StoreLocation("postgresql+psycopg://h/m", "Airflow connection 'metrics_db'")


def test_connection_extra_may_hold_any_sqlalchemy_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_WATCHKEEPER_STORE", json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": url}})
    )
    assert resolve_store().url == url


@pytest.mark.parametrize(
    "executor",
    [
        "CeleryExecutor",
        "airflow.providers.cncf.kubernetes.executors.kubernetes_executor.KubernetesExecutor",
        "LocalExecutor,EdgeExecutor",
        "edge:airflow.providers.edge3.executors.EdgeExecutor",
    ],
)
def test_distributed_executor_without_a_store_fails_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, executor: str
) -> None:
    import airflow.sdk  # noqa: F401 -- an Airflow process (a task, the API server)

    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    with pytest.raises(StoreError) as info:
        resolve_store()
    message = str(info.value)
    assert "\n" not in message
    assert "runs tasks on other machines" in message
    assert "AIRFLOW_CONN_WATCHKEEPER_STORE=" in message and "WATCHKEEPER_DATABASE_URL" in message
    assert executor.rsplit(".", 1)[-1].rsplit(":", 1)[-1].rsplit(",", 1)[-1] in message


def test_distributed_executor_with_a_store_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.setenv("AIRFLOW_CONN_WATCHKEEPER_STORE", "postgresql://u:pw@h/db")
    assert resolve_store().url == "postgresql+psycopg://u:pw@h/db"


@pytest.mark.parametrize("executor", ["LocalExecutor", "SequentialExecutor", "LocalExecutor,DebugExecutor"])
def test_local_executors_keep_the_sqlite_default(monkeypatch: pytest.MonkeyPatch, executor: str) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    assert resolve_store().url.startswith("sqlite:///")


def test_a_process_without_airflow_never_imports_it(tmp_path: Path) -> None:
    code = (
        "import sys, os; os.environ['AIRFLOW__CORE__EXECUTOR'] = 'CeleryExecutor';"
        "from watchkeeper import settings; print(settings.database_url());"
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))"
    )
    env = {"PATH": "/usr/bin:/bin", "WATCHKEEPER_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    url, modules = out.stdout.strip().splitlines()
    assert url == f"sqlite:///{tmp_path / 'watchkeeper.db'}"
    assert modules == "[]"


# -- URL checks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:pw@h:5432/db", "postgresql+psycopg://u:pw@h:5432/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/wk.db", "sqlite:////tmp/wk.db"),
    ],
)
def test_parse_store_url_normalises_postgres(given: str, expected: str) -> None:
    assert parse_store_url(given) == expected


def test_unparseable_url_is_a_one_line_error_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHKEEPER_DATABASE_URL", "db.internal:5432 user=wk password=s3cret")
    with pytest.raises(StoreError) as info:
        resolve_store()
    message = str(info.value)
    assert message.startswith("metric store URL from $WATCHKEEPER_DATABASE_URL is not a database URL")
    assert "write it as dialect+driver://user:password@host:port/database" in message
    assert "s3cret" not in message and "password=***" in message
    assert "\n" not in message


def test_unknown_dialect_names_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_WATCHKEEPER_STORE",
        json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": "postgress://u:s3cret@h/db"}}),
    )
    with pytest.raises(StoreError) as info:
        resolve_store()
    message = str(info.value)
    assert "Airflow connection 'watchkeeper_store'" in message
    assert "unknown database dialect 'postgress'" in message
    assert "s3cret" not in message and "postgress://u:***@h/db" in message


def test_missing_driver_says_so() -> None:
    with pytest.raises(StoreError, match=r"unknown database dialect 'mysql\+nosuchdriver'"):
        parse_store_url("mysql+nosuchdriver://u:s3cret@h/db")
    with pytest.raises(StoreError) as info:
        parse_store_url("oracle+oracledb://u:s3cret@h/db")  # the dialect exists, its driver is not installed
    assert "needs a database driver that is not installed (oracledb)" in str(info.value)
    assert "s3cret" not in str(info.value)


# -- masking ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+psycopg://u:s3cret@h:5432/db", "postgresql+psycopg://u:***@h:5432/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("postgresql://h/db?password=s3cret&sslmode=require", "postgresql://h/db?password=***&sslmode=require"),
        ("postgresql://h/db?sslmode=require&PassWord=s3cret", "postgresql://h/db?sslmode=require&PassWord=***"),
        ("postgresql://h/db?pass%77ord=s3cret", "postgresql://h/db?pass%77ord=***"),
        (
            "postgresql://u:p@ss?/x@h/db?sslpassword=s3cret;token=t0k",
            "postgresql://u:***@h/db?sslpassword=***;token=***",
        ),
        ("postgresql://:s3cret@h/db", "postgresql://:***@h/db"),
        ("host=h dbname=d password=s3cret user=u", "host=h dbname=d password=*** user=u"),
        ("host=h password='s3 cret' user=u", "host=h password=*** user=u"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert "s3cret" not in mask_url(url)


def test_connection_to_url_passes_ssl_extras_only() -> None:
    class Conn:
        conn_type = "postgres"
        login, password, host, port, schema = "u", "p@ss", "h", 5433, "db"
        extra_dejson = {"sslmode": "verify-full", "cursor": "dictcursor"}

    assert settings.connection_to_url(Conn()) == "postgresql+psycopg://u:p%40ss@h:5433/db?sslmode=verify-full"
