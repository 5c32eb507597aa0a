"""Shared fixtures: an isolated Watchkeeper state folder per test, and a throw-away PostgreSQL database."""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: Fixtures shared across folders (``ref``/``baseline`` of the pushdown tests, SQLite and PostgreSQL).
pytest_plugins = ["pushdown_support"]

# Airflow reads its configuration at first import: give the test session its own home and SQLite DB
# (each pytest-xdist worker its own: workers inherit the controller's environment).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix=f"wk-airflow-home-{os.environ['PYTEST_XDIST_WORKER']}-")
else:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="wk-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

PG_ADMIN_URL = os.environ.get("WATCHKEEPER_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs a ``main()`` calling ``logging.basicConfig`` (the CLI, the demo generator) leaves a
    console handler bound to its captured stderr, closed once the test ends: a later test's INFO record
    (GX logs some on import) would print "--- Logging error ---" into that test's stderr. Remove it."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler and handler not in before:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own state folder and SQLite metric store unless it sets its own."""
    home = tmp_path_factory.mktemp("wkhome")
    monkeypatch.setenv("WATCHKEEPER_HOME", str(home))
    for name in ("WATCHKEEPER_DATABASE_URL", "AIRFLOW_CONN_WATCHKEEPER_STORE", "WATCHKEEPER_STORE_CONN_ID"):
        monkeypatch.delenv(name, raising=False)  # a developer's store settings never leak into tests
    return home


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped on exit. Fails (never skips) when PG is down."""
    import sqlalchemy as sa

    name = f"wk_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL}: start it with "
            f"`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` ({exc.orig})"
        )
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a PostgreSQL database shared by the session (created fresh, dropped after)."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def pg_url_fresh() -> Iterator[str]:
    """URL of a PostgreSQL database of this test alone (e.g. to migrate from an old schema revision)."""
    with fresh_pg_database() as url:
        yield url
