"""The metric store against SQLite and a real PostgreSQL server.

PostgreSQL tests use a throw-away database created for the test session (``wk_test_<hex>``) and
dropped at the end, so parallel runs never collide; every test starts from an empty schema. They
fail, not skip, when the server is down: CI starts it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, inspect, pool, text
from sqlalchemy.exc import OperationalError

from watchkeeper import settings
from watchkeeper.exceptions import StoreError
from watchkeeper.results import CheckResult, Status, Window
from watchkeeper.store import AlertingPlan, AlertStateRow, MetricStore, NotificationRow, to_jsonable
from watchkeeper.store.schema import HEAD_REVISION, VERSION_TABLE, Base

PG_ADMIN_URL = os.environ.get("WATCHKEEPER_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TABLES = {
    "runs",
    "metrics",
    "baselines",
    "alerts",
    "alert_state",
    "outbox",
    "retrain_triggers",
    "model_health",
    VERSION_TABLE,
}

W1 = Window(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC))
W2 = Window(datetime(2024, 3, 2, tzinfo=UTC), datetime(2024, 3, 3, tzinfo=UTC))


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this session, dropped afterwards."""
    admin = create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool, connect_args={"connect_timeout": 5}
    )
    name = f"wk_test_{uuid.uuid4().hex}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {settings.mask_url(PG_ADMIN_URL)} ({str(exc.orig).strip()}). "
            "Start it (locally: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
            "or point WATCHKEEPER_TEST_PG_ADMIN_URL at a server where the user may CREATE DATABASE.",
            pytrace=False,
        )
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _empty_pg_schema(url: str) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database: a SQLite file in a folder that does not exist yet, or PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'watchkeeper.db'}"
    url: str = request.getfixturevalue("pg_url")
    _empty_pg_schema(url)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[MetricStore]:
    """A migrated store on an empty database."""
    with MetricStore(db_url) as metric_store:
        metric_store.migrate()
        yield metric_store


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement executed by any engine while the test runs."""
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def _raw(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def result(check: str, metric: str, subject: str = "", value: float | None = 1.0, **kwargs: object) -> CheckResult:
    """A CheckResult with defaults for the fields a test does not care about."""
    fields: dict[str, object] = {"threshold": 0.5, "status": Status.OK, "message": f"{metric} ok"}
    fields.update(kwargs)
    return CheckResult(check=check, metric=metric, subject=subject, value=value, **fields)  # type: ignore[arg-type]


def record(store: MetricStore, window: Window, results: list[CheckResult], model: str = "churn") -> int:
    """record_window with boilerplate arguments."""
    return store.record_window(model, window, results, run_id="manual__1", source="airflow", n_rows=100, summary={})


# -- migrations ------------------------------------------------------------------------------------


def test_migrate_creates_the_tables_on_an_empty_database(db_url: str) -> None:
    store = MetricStore(db_url)
    sqlite_file = Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite") else None
    engine = create_engine(db_url, poolclass=pool.NullPool)
    try:
        if sqlite_file is not None:  # the parent folder does not exist yet: migrate() creates it
            assert not sqlite_file.parent.exists()
        else:
            assert TABLES.isdisjoint(inspect(engine).get_table_names())
        store.migrate()
        assert TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            assert context.get_current_heads() == (HEAD_REVISION,)
    finally:
        engine.dispose()
        store.close()


def test_head_revision_is_alembic_s_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(MetricStore("sqlite://").alembic_config())
    assert script.get_heads() == [HEAD_REVISION], "bump store.schema.HEAD_REVISION with each new migration"


def test_a_store_at_head_is_recognised_without_importing_alembic(store: MetricStore, db_url: str) -> None:
    code = (
        "import sys\n"
        "from watchkeeper.store import MetricStore\n"
        f"store = MetricStore({db_url!r})\n"
        "store.migrate()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]


def test_migrations_match_the_models(store: MetricStore, db_url: str) -> None:
    engine = create_engine(db_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_migrate_again_is_a_cheap_no_op(store: MetricStore, db_url: str, statements: list[str]) -> None:
    record(store, W1, [result("quality", "missing_share", "age")])
    statements.clear()
    store.migrate()  # same instance: remembers it is at head
    assert statements == []

    other = MetricStore(db_url)
    other.migrate()  # new instance: one look at the version table, no DDL
    other.close()
    assert statements, "the second store should have read the version table"
    assert not [s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP", "INSERT"))]
    assert len(store.metrics("churn")) == 1


def test_concurrent_migrate_on_the_same_database(db_url: str) -> None:
    stores = [MetricStore(db_url) for _ in range(3)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def migrate(store: MetricStore) -> None:
        barrier.wait()
        try:
            store.migrate()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    record(stores[0], W1, [result("quality", "missing_share")])
    assert [row.metric for row in stores[1].metrics("churn")] == ["missing_share"]
    for store in stores:
        store.close()


def test_concurrent_writers_of_the_same_window(store: MetricStore, db_url: str) -> None:
    writers = [MetricStore(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(writers))
    errors: list[BaseException] = []

    def write(index: int, writer: MetricStore) -> None:
        barrier.wait()
        try:
            for attempt in range(5):
                value = float(index * 10 + attempt)
                record(writer, W1, [result("drift", "psi", f"f{k}", value) for k in range(5)])
                writer.upsert_alerts("churn", W1, [alert("psi", subject=f"f{index}")])
                writer.save_baseline("churn", f"h{attempt % 2}", {"writer": index})
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=pair) for pair in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    rows = store.metrics("churn")
    assert len(rows) == 5 and len({row.value for row in rows}) == 1  # one writer's complete set
    assert len(store.runs("churn")) == 1
    assert len(store.alerts("churn")) == 1
    assert store.baseline_hashes("churn") == ["h0", "h1"]
    for writer in writers:
        writer.close()


def test_a_newer_schema_is_refused(store: MetricStore, db_url: str) -> None:
    engine = create_engine(db_url, poolclass=pool.NullPool)
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match=r"schema revision \['9999'\] is newer than this Watchkeeper knows"):
        MetricStore(db_url).migrate()


# -- check results ---------------------------------------------------------------------------------


def test_record_window_twice_replaces_instead_of_duplicating(store: MetricStore) -> None:
    first = [
        result("quality", "missing_share", "age", 0.1),
        result("drift", "psi", "age", 0.3, status=Status.WARNING),
        result("drift", "psi", "income", 0.05),
    ]
    run_a = record(store, W1, first)
    run_b = record(store, W1, first)
    assert len(store.metrics("churn")) == 3
    assert len(store.runs("churn")) == 1
    assert store.runs("churn")[0].id == run_b != run_a
    assert {row.run_fk for row in store.metrics("churn")} == {run_b}

    # A rerun with other values and fewer results: values replaced, stale rows gone.
    second = [result("quality", "missing_share", "age", 0.2), result("drift", "psi", "age", 0.01)]
    run_c = store.record_window(
        "churn", W1, second, run_id="scheduled__2", source="cli", n_rows=7, summary={"note": "rerun"}
    )
    rows = store.metrics("churn")
    assert [(r.check, r.metric, r.subject, r.value) for r in rows] == [
        ("drift", "psi", "age", 0.01),
        ("quality", "missing_share", "age", 0.2),
    ]
    (run,) = store.runs("churn")
    assert (run.id, run.run_id, run.source, run.n_rows, run.summary, run.status) == (
        run_c,
        "scheduled__2",
        "cli",
        7,
        {"note": "rerun"},
        Status.OK,
    )


def test_record_window_leaves_other_windows_and_models_alone(store: MetricStore) -> None:
    record(store, W1, [result("quality", "rows")])
    record(store, W2, [result("quality", "rows")])
    record(store, W1, [result("quality", "rows")], model="fraud")
    record(store, W1, [result("quality", "rows", value=9.0)])
    assert [(r.window, r.value) for r in store.metrics("churn")] == [(W1, 9.0), (W2, 1.0)]
    assert len(store.metrics("fraud")) == 1
    assert store.models() == ["churn", "fraud"]


def test_run_status_is_the_worst_and_results_round_trip(store: MetricStore) -> None:
    stored = [
        result("drift", "psi", "age", 0.3, threshold=0.2, status=Status.CRITICAL, details={"bins": [1, 2]}),
        result("quality", "missing_share", "age", 0.0, threshold=None, status=Status.OK),
    ]
    record(store, W1, stored)
    assert store.runs("churn")[0].status is Status.CRITICAL
    assert [row.to_result() for row in store.metrics("churn")] == stored


def test_duplicate_result_keys_keep_the_last(store: MetricStore, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="watchkeeper.store.store"):
        record(store, W1, [result("drift", "psi", "age", 0.1), result("drift", "psi", "age", 0.9)])
    assert [row.value for row in store.metrics("churn")] == [0.9]
    assert "duplicate result keys [('drift', 'psi', 'age')]" in caplog.text


def test_record_results_replaces_only_the_given_checks(store: MetricStore) -> None:
    record(store, W1, [result("quality", "rows", value=10.0), result("drift", "psi", "age", 0.1)])
    assert store.record_results("churn", W1, [result("performance", "auc", value=0.8)], checks={"performance"}) == 1
    store.record_results("churn", W1, [result("performance", "f1", value=0.7)], checks={"performance"})
    store.record_results("churn", W1, [result("drift", "psi", "age", 0.5)], checks={"drift"})
    assert [(r.check, r.metric, r.value) for r in store.metrics("churn")] == [
        ("drift", "psi", 0.5),
        ("performance", "f1", 0.7),
        ("quality", "rows", 10.0),
    ]
    assert store.metrics("churn", check="performance")[0].run_fk is None

    # Re-running the monitoring of the window keeps the performance rows added later...
    record(store, W1, [result("quality", "rows", value=11.0), result("drift", "psi", "age", 0.2)])
    assert [(r.check, r.metric, r.value) for r in store.metrics("churn")] == [
        ("drift", "psi", 0.2),
        ("performance", "f1", 0.7),
        ("quality", "rows", 11.0),
    ]
    # ...unless the run itself produced that check family.
    record(store, W1, [result("performance", "auc", value=0.6)])
    assert [(r.check, r.metric) for r in store.metrics("churn")] == [("performance", "auc")]

    # An empty list clears the family.
    assert store.record_results("churn", W1, [], checks={"performance"}) == 0
    assert store.metrics("churn") == []


def test_record_results_refuses_results_outside_checks(store: MetricStore) -> None:
    with pytest.raises(ValueError, match=r"results of checks \['drift'\] are outside checks=\['performance'\]"):
        store.record_results("churn", W1, [result("drift", "psi")], checks="performance")


def test_datetimes_round_trip_as_aware_utc(store: MetricStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    window = Window(datetime(2024, 3, 1, 2, 0, tzinfo=plus_two), datetime(2024, 3, 1, 3, 30, tzinfo=plus_two))
    started = datetime(2024, 3, 1, 4, 0, 0, 123456, tzinfo=plus_two)
    store.record_window(
        "churn",
        window,
        [result("quality", "rows")],
        run_id="cli",
        source="cli",
        n_rows=1,
        summary={},
        started_at=started,
    )
    (row,) = store.metrics("churn")
    (run,) = store.runs("churn")
    for value in (row.window_start, row.window_end, run.window_start, run.started_at, run.finished_at):
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
    assert row.window_start == datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    assert row.window == window
    assert run.started_at == started
    assert store.latest_window("churn") == window

    # Filters accept aware datetimes of any zone; end is exclusive.
    record(store, W2, [result("quality", "rows")])
    assert [r.window for r in store.metrics("churn", start=datetime(2024, 3, 1, 3, 0, tzinfo=plus_two))] == [W2]
    assert [r.window for r in store.metrics("churn", end=W2.start)] == [window]
    assert [r.window for r in store.metrics("churn", window=W2)] == [W2]


def test_nan_and_inf_are_stored_as_null(store: MetricStore, db_url: str) -> None:
    record(store, W1, [result("drift", "psi", "age", float("nan"), threshold=float("inf"), details={"p": np.nan})])
    store.record_window(
        "churn",
        W2,
        [],
        run_id="cli",
        source="cli",
        n_rows=0,
        summary={"mean": float("nan"), "counts": np.array([1, 2]), "n": np.int64(3), "big": np.float64("inf")},
    )
    (row,) = store.metrics("churn")
    assert (row.value, row.threshold) == (None, None)
    assert row.details == {"p": None, "raw_value": "nan"}
    assert store.runs("churn")[0].summary == {"mean": None, "counts": [1, 2], "n": 3, "big": None}
    assert _raw(db_url, "SELECT value, threshold FROM metrics") == [(None, None)]


def test_filters_runs_models_and_latest_window(store: MetricStore) -> None:
    assert store.latest_window("churn") is None
    assert store.runs("churn") == []
    record(store, W1, [result("drift", "psi", "age"), result("drift", "psi", "income"), result("quality", "rows")])
    record(store, W2, [result("drift", "psi", "age")])
    assert [r.subject for r in store.metrics("churn", check="drift", window=W1)] == ["age", "income"]
    assert [r.metric for r in store.metrics("churn", subject="")] == ["rows"]
    assert [r.window for r in store.metrics("churn", metric="psi", subject="age")] == [W1, W2]
    assert [r.window for r in store.runs("churn")] == [W2, W1]
    assert [r.window for r in store.runs("churn", limit=1)] == [W2]
    assert store.latest_window("churn") == W2
    store.record_results("perf_only", W1, [result("performance", "auc")], checks={"performance"})
    assert store.latest_window("perf_only") == W1
    assert store.models() == ["churn", "perf_only"]


# -- baselines -------------------------------------------------------------------------------------


def test_baselines_save_get_and_switch_current(store: MetricStore) -> None:
    assert store.get_baseline("churn") is None
    assert store.baseline_hashes("churn") == []
    assert store.save_baseline("churn", "h1", {"columns": {"age": {"mean": 40.0}}}) is True
    assert store.save_baseline("churn", "h2", {"columns": {"age": {"mean": 41.0}}, "nan": float("nan")}) is True
    assert store.get_baseline("churn") == ("h2", {"columns": {"age": {"mean": 41.0}}, "nan": None})

    # Saving a known hash again is not new: it only becomes current again.
    assert store.save_baseline("churn", "h1", {"ignored": True}) is False
    assert store.get_baseline("churn") == ("h1", {"columns": {"age": {"mean": 40.0}}})
    assert store.save_baseline("churn", "h1", {}) is False
    assert store.baseline_hashes("churn") == ["h1", "h2"]

    store.save_baseline("fraud", "h1", {"other": 1})
    assert store.get_baseline("churn") == ("h1", {"columns": {"age": {"mean": 40.0}}})
    assert store.get_baseline("fraud") == ("h1", {"other": 1})


def test_large_baseline_payload(store: MetricStore) -> None:
    payload = {f"feature_{i}": {"edges": [j / 7 for j in range(100)], "freq": [0.01] * 100} for i in range(1500)}
    assert len(json.dumps(payload)) > 3_000_000
    store.save_baseline("churn", "big", payload)
    assert store.get_baseline("churn") == ("big", payload)


# -- alerts ----------------------------------------------------------------------------------------


def alert(metric: str, status: str = "open", **kwargs: str) -> dict[str, str]:
    """An alert mapping with defaults."""
    return {"check": "drift", "metric": metric, "subject": "age", "severity": "warning", "status": status, **kwargs}


def test_upsert_alerts_is_idempotent(store: MetricStore) -> None:
    assert store.upsert_alerts("churn", W1, [alert("psi"), alert("ks")]) == 2
    before = {a.key: a for a in store.alerts("churn")}
    store.upsert_alerts("churn", W1, [alert("psi"), alert("ks")])
    after = {a.key: a for a in store.alerts("churn")}
    assert after.keys() == before.keys()
    for key, row in after.items():
        assert (row.id, row.created_at, row.status) == (before[key].id, before[key].created_at, before[key].status)
        assert row.updated_at >= before[key].updated_at

    # Changed state is updated in place; alerts missing from the new list are deleted.
    store.upsert_alerts("churn", W1, [alert("psi", "ongoing", severity="critical", message="psi 0.4 > 0.2")])
    (row,) = store.alerts("churn")
    assert (row.id, row.created_at) == (before[("drift", "psi", "age")].id, before[("drift", "psi", "age")].created_at)
    assert (row.status, row.severity, row.message) == ("ongoing", "critical", "psi 0.4 > 0.2")
    assert row.created_at.tzinfo is not None and row.window == W1


def test_upsert_alerts_scoped_to_checks_and_filters(store: MetricStore) -> None:
    rows_alert = {"check": "quality", "metric": "rows", "severity": "critical", "status": "open"}
    auc_alert = {"check": "performance", "metric": "auc", "severity": "warning", "status": "open"}
    store.upsert_alerts("churn", W1, [alert("psi"), rows_alert])
    store.upsert_alerts("churn", W2, [alert("psi", "resolved")])
    store.upsert_alerts("churn", W1, [auc_alert], checks={"performance"})
    assert [a.key for a in store.alerts("churn", window=W1)] == [
        ("drift", "psi", "age"),
        ("performance", "auc", ""),
        ("quality", "rows", ""),
    ]
    store.upsert_alerts("churn", W1, [], checks={"quality"})
    assert [a.check for a in store.alerts("churn", window=W1)] == ["drift", "performance"]
    assert [a.window for a in store.alerts("churn", status="resolved")] == [W2]
    assert [a.window for a in store.alerts("churn", check="drift", start=W2.start)] == [W2]


def test_upsert_alerts_validates_the_mappings(store: MetricStore) -> None:
    with pytest.raises(ValueError, match=r"alert #0 has missing keys \['severity'\] and unknown keys \['colour'\]"):
        store.upsert_alerts("churn", W1, [{"check": "drift", "metric": "psi", "status": "open", "colour": "red"}])
    with pytest.raises(ValueError, match=r"alerts of checks \['drift'\] are outside checks=\['quality'\]"):
        store.upsert_alerts("churn", W1, [alert("psi")], checks={"quality"})


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["migrate", "metrics"])
def test_unreachable_server_fails_fast_with_a_masked_url(call: str) -> None:
    store = MetricStore("postgresql+psycopg://u:s3cret@127.0.0.1:1/x")
    began = time.monotonic()
    with pytest.raises(StoreError) as caught:
        store.migrate() if call == "migrate" else store.metrics("churn")
    assert time.monotonic() - began < 5
    message = str(caught.value)
    assert "s3cret" not in message
    assert "postgresql+psycopg://u:***@127.0.0.1:1/x" in message
    assert message.endswith("-- is the database up? check the url argument of MetricStore")
    assert isinstance(caught.value.__cause__, OperationalError)
    assert "s3cret" not in repr(store)


@pytest.mark.parametrize(
    ("variable", "source"),
    [
        (settings.DATABASE_URL_ENV, "$WATCHKEEPER_DATABASE_URL"),
        ("AIRFLOW_CONN_WATCHKEEPER_STORE", "Airflow connection 'watchkeeper_store'"),
    ],
)
def test_error_hint_names_where_the_url_came_from(variable: str, source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, "postgres://u:s3cret@127.0.0.1:1/x")
    store = MetricStore()
    with pytest.raises(StoreError) as caught:
        store.metrics("churn")
    message = str(caught.value)
    assert "s3cret" not in message
    # postgres:// was parsed by settings.parse_store_url into the psycopg 3 URL
    assert message.startswith("metric store postgresql+psycopg://u:***@127.0.0.1:1/x: cannot read metrics")
    assert message.endswith(f"-- is the database up? check {source}")


def test_default_sqlite_store_names_its_source(tmp_path: Path) -> None:
    store = MetricStore()
    assert store._hint == "is the database up? check default SQLite file"
    assert store.masked_url.startswith("sqlite:///")


def test_missing_tables_say_to_migrate(db_url: str) -> None:
    with MetricStore(db_url) as store, pytest.raises(StoreError, match=r"call MetricStore\.migrate\(\) first"):
        store.metrics("churn")


def test_unusable_url_is_a_store_error() -> None:
    """Checked by settings.parse_store_url on first use (building the store stays free)."""
    store = MetricStore("nosuchdb://u:pw@h/x")
    with pytest.raises(StoreError) as caught:
        store.metrics("churn")
    message = str(caught.value)
    assert message.startswith(
        "metric store URL from the url argument of MetricStore names an unknown database dialect 'nosuchdb' "
        "(nosuchdb://u:***@h/x)"
    )
    assert ":pw@" not in message


def test_default_url_comes_from_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(settings.DATABASE_URL_ENV, "postgresql+psycopg://me:pw@db:5432/wk")
    assert MetricStore().masked_url == "postgresql+psycopg://me:***@db:5432/wk"


# -- JSON sanitizing -------------------------------------------------------------------------------


def test_to_jsonable() -> None:
    value = {
        1: (float("nan"), float("-inf"), 2.5),
        "arr": np.array([[1.0, np.nan]]),
        "np": [np.int32(4), np.float32(0.5), np.bool_(True)],
        "when": datetime(2024, 1, 1, tzinfo=UTC),
        "status": Status.WARNING,
        "set": {3},
    }
    assert to_jsonable(value) == {
        "1": [None, None, 2.5],
        "arr": [[1.0, None]],
        "np": [4, 0.5, True],
        "when": "2024-01-01T00:00:00+00:00",
        "status": "warning",
        "set": [3],
    }


# -- alerting: lifecycle state, outbox, retraining triggers -----------------------------------------


def _state(check: str, subject: str, state: str = "open", **kwargs: object) -> AlertStateRow:
    values: dict[str, object] = {
        "model": "churn",
        "check": check,
        "subject": subject,
        "state": state,
        "severity": "critical",
        "findings": [{"metric": "psi", "value": 0.4, "details": {"nan": float("nan")}}],
        "opened_at": W1.start,
        "window_start": W1.start,
        "window_end": W1.end,
    }
    values.update(kwargs)
    return AlertStateRow(**values)  # type: ignore[arg-type]


def _note(key: str, **kwargs: object) -> NotificationRow:
    now = datetime(2024, 3, 2, 0, 5, tzinfo=UTC)
    values: dict[str, object] = {
        "idempotency_key": key,
        "model": "churn",
        "kind": "alert",
        "payload": {"text": f"message {key}", "blocks": [{"type": "divider"}]},
        "created_at": now,
        "expires_at": now + timedelta(days=3),
        "next_attempt_at": now,
        "channel": "#ml",
        "alert_keys": ["drift[age]"],
        "run_id": "scheduled__1",
        "window_start": W1.start,
        "window_end": W1.end,
    }
    values.update(kwargs)
    return NotificationRow(**values)  # type: ignore[arg-type]


def test_apply_alerting_writes_states_outbox_and_window_alerts_atomically(store: MetricStore) -> None:
    seen: list[dict[tuple[str, str], AlertStateRow]] = []

    def decide(states: dict[tuple[str, str], AlertStateRow]) -> AlertingPlan:
        seen.append(states)
        previous = states[("drift", "age")].snapshot() if states else None
        return AlertingPlan(
            states=[_state("drift", "age", "ongoing" if states else "open", previous=previous, thread_key="k1")],
            notifications=[_note("k1"), _note("k2", kind="recovered", parent_key="k1")],
            window=W1,
            window_alerts=[alert("psi")],
            checks=frozenset({"drift"}),
        )

    assert [n.idempotency_key for n in store.apply_alerting("churn", decide)] == ["k1", "k2"]
    assert store.apply_alerting("churn", decide) == []  # same keys: nothing queued twice
    assert seen[0] == {} and list(seen[1]) == [("drift", "age")]
    (state,) = store.alert_states("churn")
    assert (state.state, state.thread_key, state.window, state.opened_at.tzinfo) == ("ongoing", "k1", W1, UTC)
    assert state.findings == [{"metric": "psi", "value": 0.4, "details": {"nan": None}}]
    assert state.previous is not None and AlertStateRow.from_snapshot(state.previous).state == "open"
    rows = store.notifications("churn")
    assert [(n.idempotency_key, n.kind, n.parent_key, n.status, n.attempts) for n in rows] == [
        ("k1", "alert", None, "pending", 0),
        ("k2", "recovered", "k1", "pending", 0),
    ]
    assert rows[0].payload == {"text": "message k1", "blocks": [{"type": "divider"}]}
    assert rows[0].window == W1 and rows[0].expires_at - rows[0].created_at == timedelta(days=3)
    assert [a.key for a in store.alerts("churn", window=W1)] == [("drift", "psi", "age")]


def test_outbox_claims_marks_and_filters(store: MetricStore) -> None:
    first = store.enqueue_notification(_note("k1", kind="monitor_failed"), thread_by_run=True)
    second = store.enqueue_notification(_note("k2", kind="monitor_failed"), thread_by_run=True)
    assert store.enqueue_notification(_note("k2", kind="monitor_failed")).id == second.id  # idempotent
    assert (first.parent_key, second.parent_key) == (None, "k1")  # later failures of a run reply to the first
    assert first.id is not None and second.id is not None
    now = first.created_at
    assert store.claim_notification(first.id, now=now, until=now + timedelta(minutes=5)) is True
    assert store.claim_notification(first.id, now=now, until=now + timedelta(minutes=5)) is False  # taken
    store.mark_notification_failed(first.id, error="HTTP 500", next_attempt_at=now + timedelta(seconds=30))
    later = now + timedelta(seconds=31)
    assert store.claim_notification(first.id, now=later, until=later + timedelta(minutes=5)) is True
    store.mark_notification_sent(first.id, sink="slack", ts="1700.01", delivered_channel="C1", at=later)
    store.mark_notification_expired(second.id)
    sent = store.notification("k1")
    assert sent is not None
    assert (sent.status, sent.attempts, sent.ts, sent.delivered_channel, sent.last_error, sent.sent_at) == (
        "sent",
        2,
        "1700.01",
        "C1",
        None,
        later,
    )
    assert store.notification("nope") is None
    assert [n.idempotency_key for n in store.notifications("churn", status="expired")] == ["k2"]
    assert [n.idempotency_key for n in store.notifications("churn", kind="monitor_failed", run_id="scheduled__1")] == [
        "k1",
        "k2",
    ]
    assert store.notifications("churn", window=W2) == [] and store.notifications("other") == []
    assert store.claim_notification(second.id, now=later, until=later) is False  # expired rows are never sent


def test_concurrent_dispatches_of_one_model_send_each_alert_once(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from watchkeeper.alerting import dispatch, read_notifications
    from watchkeeper.config import parse_config

    monkeypatch.delenv("WATCHKEEPER_SLACK_TOKEN", raising=False)
    monkeypatch.delenv("WATCHKEEPER_SLACK_WEBHOOK_URL", raising=False)
    data = {
        "name": "churn",
        "owner": "team",
        "task": "regression",
        "predictions": {
            "source": {"kind": "csv", "path": "p.csv"},
            "timestamp": "ts",
            "id": "id",
            "features": {"age": "numerical"},
            "prediction": "y",
        },
        "reference": {"source": {"kind": "csv", "path": "r.csv"}},
        "alerts": {"channel": "#ml"},
    }
    config = parse_config(tmp_path / "churn.yaml", yaml.safe_dump(data))
    results = [result("drift", "psi", "age", 0.4, status=Status.CRITICAL), result("quality", "rows")]
    MetricStore(db_url).migrate()
    stores = [MetricStore(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def run(store: MetricStore) -> None:
        barrier.wait()
        try:
            dispatch(config, W1, results, run_id="scheduled__1", dag_id="monitor__churn", store=store)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert [(n.kind, n.status) for n in stores[0].notifications("churn")] == [("alert", "sent")]
    assert len(read_notifications("churn")) == 1  # sent exactly once
    for store in stores:
        store.close()


def test_retrain_triggers_newest_first(store: MetricStore) -> None:
    assert store.retrain_triggers("churn") == []
    failing = [{"check": "performance", "metric": "auc", "value": 0.7, "baseline": float("nan")}]
    first = store.record_retrain_trigger(
        "churn",
        dag_id="retrain__churn",
        window=W1,
        reason="auc degraded",
        failing_metrics=failing,
        conf={"model": "churn", "window": W1.as_dict()},
        triggered_at=datetime(2024, 3, 2, 1, tzinfo=UTC),
    )
    second = store.record_retrain_trigger(
        "churn",
        dag_id="retrain__churn",
        window=W2,
        reason="auc degraded again",
        failing_metrics=[],
        conf={},
        run_url="http://airflow/runs/x",
    )
    store.record_retrain_trigger("other", dag_id="d", window=W1, reason="r", failing_metrics=[], conf={})
    rows = store.retrain_triggers("churn")
    assert [r.id for r in rows] == [second, first]
    newest, oldest = rows
    assert (newest.window, newest.run_url, newest.triggered_at.tzinfo) == (W2, "http://airflow/runs/x", UTC)
    assert oldest.failing_metrics == [{"check": "performance", "metric": "auc", "value": 0.7, "baseline": None}]
    assert (oldest.reason, oldest.conf, oldest.run_url, oldest.dag_id) == (
        "auc degraded",
        {"model": "churn", "window": W1.as_dict()},
        None,
        "retrain__churn",
    )
