"""The GX suite inside the database of a SQL prediction log (GX's SQL datasource), on SQLite and PostgreSQL:
the same results as validating the window's rows in pandas."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from support import SUITE, make_rows
from watchkeeper.baseline import build_baseline
from watchkeeper.config import LoadedConfig, load_config
from watchkeeper.gx_sql import run_suite_in_database, window_query
from watchkeeper.gx_suite import gx_results
from watchkeeper.results import Status, Window

DAY = Window.parse("2026-10-01", "2026-10-02")
EXPECTATIONS = [
    *SUITE["expectations"],
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "pid"}, "severity": "critical"},
    {"type": "expect_column_values_to_be_of_type", "kwargs": {"column": "pid", "type_": "str"}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "country", "value_set": ["FR", "DE", "US"]}},
    {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "age", "min_value": 0, "max_value": 40}},
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 900, "max_value": 1100}},
]


def _window_rows() -> pd.DataFrame:
    df = make_rows(1000, "2026-10-01", seed=4)
    df.loc[:49, "amount"] = 1e9  # above the reference max ($PARAMETER amount_max)
    df.loc[:9, "score"] = 1.5  # critical in the suite
    df.loc[100:104, "pid"] = df.loc[0, "pid"]  # duplicates
    df.loc[200:260, "age"] = None
    return df


def _project(tmp_path: Path, url: str, table: str) -> LoadedConfig:
    root = tmp_path / "project"
    (root / "dags" / "models").mkdir(parents=True)
    (root / "expectations").mkdir()
    (root / "expectations" / "tiny.json").write_text(json.dumps({"name": "tiny", "expectations": EXPECTATIONS}))
    make_rows(4000, "2026-09-01", seed=1, hours=96).to_parquet(root / "reference.parquet")
    config = {
        "name": "tiny",
        "owner": "team",
        "task": "binary_classification",
        "predictions": {
            "source": {"kind": "sql", "url": url, "query": f"SELECT * FROM {table} WHERE ts >= :start AND ts < :end"},
            "timestamp": "ts",
            "id": "pid",
            "features": {"amount": "numerical", "age": "numerical", "country": "categorical"},
            "prediction": "pred",
            "score": "score",
        },
        "reference": {"source": {"kind": "parquet", "path": "../../reference.parquet"}},
        "quality": {"suite": "tiny"},
    }
    path = root / "dags" / "models" / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_config(path)


def _store_rows(url: str, table: str, sqlite: bool) -> pd.DataFrame:
    window = _window_rows()
    outside = make_rows(300, "2026-10-02", seed=5)
    outside["amount"] = -5.0  # would fail every bound: must not be counted
    rows = pd.concat([window, outside], ignore_index=True)
    if sqlite:  # SQLite keeps timestamps as text
        rows = rows.assign(ts=rows["ts"].dt.tz_convert(None).dt.strftime("%Y-%m-%d %H:%M:%S.%f"))
    engine = sa.create_engine(url)
    rows.to_sql(table, engine, index=False, if_exists="replace")
    engine.dispose()
    return window


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, bool]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.db'}", True
    return request.getfixturevalue("pg_url"), False


def _key(r: object) -> tuple:
    return (r.metric, r.subject, r.status, None if r.value is None else round(r.value, 9))  # type: ignore[attr-defined]


def test_suite_runs_in_the_database_with_the_pandas_results(tmp_path: Path, backend: tuple[str, bool]) -> None:
    url, sqlite = backend
    table = f"wk_gx_{uuid.uuid4().hex[:8]}"
    config = _project(tmp_path, url, table)
    window = _store_rows(url, table, sqlite)
    baseline = build_baseline(config, pd.read_parquet(config.base_dir / "../../reference.parquet"))
    in_db = run_suite_in_database(config, DAY, baseline)
    in_pandas = gx_results(config, window, baseline)
    of_type = ("gx.expect_column_values_to_be_of_type", "pid")
    typed = next(r for r in in_db if (r.metric, r.subject) == of_type)
    assert typed.status is Status.SKIPPED and "GX does not know the column types of a SQL query" in typed.message
    assert [_key(r) for r in in_db if r is not typed] == [
        _key(r) for r in in_pandas if (r.metric, r.subject) != of_type
    ]
    by = {(r.metric, r.subject): r for r in in_db}
    assert by[("gx.expect_column_values_to_be_between", "score")].status is Status.CRITICAL
    assert by[("gx.expect_column_values_to_be_between", "score")].value == pytest.approx(0.01)
    assert by[("gx.expect_column_values_to_be_unique", "pid")].status is Status.CRITICAL
    assert by[("gx.expect_table_row_count_to_be_between", "")].details["observed_value"] == 1000


def test_empty_window_and_unreachable_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    table = "preds"
    config = _project(tmp_path, url, table)
    _store_rows(url, table, sqlite=True)
    (skipped,) = run_suite_in_database(config, Window.parse("2026-11-01", "2026-11-02"), {})
    assert skipped.status is Status.SKIPPED and skipped.message == "no data in window"
    monkeypatch.setenv("WK_TEST_PW", "s3cr3t-pw")
    edit: Callable[[dict], None] = lambda d: d["predictions"]["source"].update(  # noqa: E731
        url="postgresql+psycopg://postgres:${WK_TEST_PW}@127.0.0.1:5432/wk_no_such_database"
    )
    data = yaml.safe_load(config.path.read_text())
    edit(data)
    config.path.write_text(yaml.safe_dump(data))
    (failed,) = run_suite_in_database(load_config(config.path), DAY, {})
    assert failed.status is Status.ERROR and failed.metric == "gx_suite"
    assert "could not run in the database postgresql+psycopg://postgres:***@127.0.0.1:5432/wk_no_such_database" in (
        failed.message
    )
    assert "s3cr3t-pw" not in failed.message


def test_window_query_binds_only_rendered_bounds() -> None:
    pg = window_query(
        "SELECT * FROM t WHERE ts >= :start AND ts < :end",
        DAY,
        "postgresql+psycopg://u@h/db",
        timestamp="ts",
        timezone="UTC",
    )
    assert pg == (
        "SELECT * FROM t WHERE ts >= CAST('2026-10-01T00:00:00+00:00' AS TIMESTAMP WITH TIME ZONE) "
        "AND ts < CAST('2026-10-02T00:00:00+00:00' AS TIMESTAMP WITH TIME ZONE)"
    )
    lite = window_query("SELECT * FROM t", DAY, "sqlite:///x.db", timestamp="event time", timezone="Europe/Paris")
    assert lite == (
        "SELECT * FROM (SELECT * FROM t) AS wk_window WHERE \"event time\" >= '2026-10-01 02:00:00' "
        "AND \"event time\" < '2026-10-02 02:00:00'"
    )
