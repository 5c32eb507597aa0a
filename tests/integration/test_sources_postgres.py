"""SQL sources on a real PostgreSQL server: server-side cursor streaming, timeouts and cancellation.

Uses the session's throw-away database (``pg_url``); fails, never skips, when the server is down.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from watchkeeper.config import LoadedConfig, parse_config
from watchkeeper.exceptions import SourceError
from watchkeeper.results import Window
from watchkeeper.sources import scan_window

pytestmark = pytest.mark.postgres

DAY = Window(datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 6, tzinfo=UTC))
QUERY = "SELECT * FROM wk_src_log WHERE ts >= :start AND ts < :end ORDER BY ts"
SLOW = "WITH pause AS (SELECT pg_sleep(30)) SELECT wk_src_log.* FROM wk_src_log, pause WHERE ts >= :start AND ts < :end"


def config(tmp_path: Path, url: str, query: str) -> LoadedConfig:
    data = {
        "name": "m",
        "owner": "o",
        "task": "binary_classification",
        "predictions": {
            "source": {"kind": "sql", "url": url, "query": query},
            "timestamp": "ts",
            "id": "id",
            "features": {"amount": "numerical"},
            "prediction": "label",
            "score": "score",
        },
        "reference": {"source": {"kind": "sql", "url": url, "query": "SELECT * FROM wk_src_log"}},
    }
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(data))
    return parse_config(path, path.read_text())


@pytest.fixture(scope="module")
def log_url(pg_url: str) -> str:
    n = 30_000
    ts = pd.Timestamp("2026-10-04", tz="UTC") + pd.to_timedelta(np.arange(n) * (3 * 86400 // n), unit="s")
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"ts": ts, "id": [f"p{i}" for i in range(n)], "label": rng.integers(0, 2, n)})
    df["score"], df["amount"] = rng.random(n), rng.random(n)
    engine = sa.create_engine(pg_url)
    df.to_sql("wk_src_log", engine, index=False, if_exists="replace")
    engine.dispose()
    return pg_url


def with_query(url: str, extra: str) -> str:
    return url + ("&" if "?" in url else "?") + extra


def activity(url: str, app: str) -> list[tuple[int, str]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT pid, query FROM pg_stat_activity WHERE application_name = :a"), {"a": app}
            ).all()
            return [(int(pid), str(query)) for pid, query in found]
    finally:
        engine.dispose()


def test_rows_come_through_a_server_side_cursor_in_chunks(tmp_path: Path, log_url: str) -> None:
    url = with_query(log_url, "application_name=wk_src_stream")
    scan = scan_window(config(tmp_path, url, QUERY), DAY, batch_rows=1000)
    batches = scan.batches()
    first = next(batches)
    assert len(first) == 1000
    # between two batches the server holds a named cursor and we fetch from it
    (_, query), *_ = activity(log_url, "wk_src_stream")
    assert re.match(r"FETCH FORWARD \d+ FROM", query), query
    rest = list(batches)
    assert [len(b) for b in rest] == [1000] * 9 + [800]  # a row every 8 s: 10,800 in the day
    assert scan.rows_read == 10_800 and scan.rows_scanned == 10_800


def test_a_statement_timeout_is_a_source_error_with_the_masked_url(
    tmp_path: Path, log_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WK_PG_PW", "hunter2-secret")
    url = log_url.replace("postgres@", "postgres:${WK_PG_PW}@")
    url = with_query(url, "options=-c%20statement_timeout%3D300&sslpassword=${WK_PG_PW}")
    scan = scan_window(config(tmp_path, url, SLOW), DAY)
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        list(scan.batches())
    assert time.monotonic() - started < 20
    text = str(info.value)
    assert "hunter2-secret" not in text and "\n" not in text
    assert "postgres:***@" in text and "sslpassword=***" in text
    assert "QueryCanceled" in text and "statement timeout" in text
    assert "the query was cancelled or timed out" in text


def test_a_cancelled_query_is_a_source_error(tmp_path: Path, log_url: str) -> None:
    url = with_query(log_url, "application_name=wk_src_cancel")
    scan = scan_window(config(tmp_path, url, SLOW), DAY)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            list(scan.batches())
        except BaseException as exc:  # noqa: BLE001 -- handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 15
    while not (running := activity(log_url, "wk_src_cancel")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running, "the slow query never started"
    engine = sa.create_engine(log_url)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_cancel_backend(:pid)"), {"pid": running[0][0]})
    engine.dispose()
    worker.join(20)
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], SourceError)
    assert "canceling statement due to user request" in str(errors[0])
    assert str(errors[0]).startswith(f"SQL source {log_url.split('?', maxsplit=1)[0]}")


def test_reference_fingerprint_is_a_count_not_a_read(tmp_path: Path, log_url: str) -> None:
    from watchkeeper.sources import reader_for

    cfg = config(tmp_path, log_url, QUERY)
    source = cfg.model.reference.source
    before = reader_for("sql").fingerprint(source, cfg.base_dir)
    assert before is not None and before == reader_for("sql").fingerprint(source, cfg.base_dir)
    engine = sa.create_engine(log_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM wk_src_log WHERE id = 'p29999'"))
    engine.dispose()
    assert reader_for("sql").fingerprint(source, cfg.base_dir) != before


def test_stopping_early_closes_the_cursor_quietly(tmp_path: Path, log_url: str) -> None:
    url = with_query(log_url, "application_name=wk_src_early")
    batches = scan_window(config(tmp_path, url, QUERY), DAY, batch_rows=100).batches()
    assert len(next(batches)) == 100
    batches.close()  # no error, and the connection is gone
    assert activity(log_url, "wk_src_early") == []
