"""A monthly model through real Airflow (`airflow dags test`): the performance DAG scores exactly the calendar
months the monitor checked (the 3-day label delay decides when, never which span), pairs each with the
monitor's estimate, and adds one non-overlapping point per month to the trend history."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from watchkeeper.results import Window

MODEL = "monthly_churn"
pytestmark = pytest.mark.airflow


def month(year: int, m: int) -> Window:
    start = datetime(year, m, 1, tzinfo=UTC)
    end = datetime(year + (m == 12), m % 12 + 1, 1, tzinfo=UTC)
    return Window(start, end)


def rows(n: int, start: str, end: str, seed: int) -> pd.DataFrame:
    """``n`` predictions spread evenly over [start, end), with their true labels (calibrated scores)."""
    rng = np.random.default_rng(seed)
    t0, t1 = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    ts = t0 + (t1 - t0) * np.linspace(0, 1, n, endpoint=False)
    x = rng.normal(0, 1, n)
    score = 1 / (1 + np.exp(-(1.5 * x - 0.3)))
    return pd.DataFrame(
        {
            "ts": ts,
            "pid": [f"{seed}-{i}" for i in range(n)],
            "x": x,
            "plan": rng.choice(["basic", "pro"], n),
            "score": score,
            "pred": (score >= 0.5).astype("int64"),
            "label": (rng.random(n) < score).astype("int64"),
        }
    )


DAG_FILE = """from pathlib import Path

from watchkeeper.airflow.dag_builder import register

register(globals(), Path(__file__).parent / "models")
"""

CONFIG = {
    "name": MODEL,
    "owner": "growth",
    "schedule": "@monthly",
    "start_date": "2026-01-01",
    "task": "binary_classification",
    "predictions": {
        "source": {"kind": "parquet", "path": "../../data/log/*.parquet"},
        "timestamp": "ts",
        "id": "pid",
        "features": {"x": "numerical", "plan": "categorical"},
        "prediction": "pred",
        "score": "score",
    },
    "reference": {"source": {"kind": "parquet", "path": "../../data/reference.parquet"}},
    "performance": {
        "labels": {
            "source": {"kind": "parquet", "path": "../../data/labels/*.parquet"},
            "id": "pid",
            "label": "label",
            "delay": "3d",
        },
        "min_samples": 100,
    },
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str], pd.DataFrame]]:
    from watchkeeper.demo import run as demo_run

    home = tmp_path_factory.mktemp("monthly-home")
    dags = home / "dags"
    (dags / "models").mkdir(parents=True)
    (dags / "watchkeeper_dags.py").write_text(DAG_FILE)
    (dags / "models" / f"{MODEL}.yaml").write_text(yaml.safe_dump(CONFIG))
    data = home / "data"
    (data / "log").mkdir(parents=True)
    (data / "labels").mkdir()
    rows(6000, "2025-01-01", "2026-01-01", seed=1).to_parquet(data / "reference.parquet")
    # Feb..May 2026; every month's last days are there, so a span shifted by the delay would differ
    log = pd.concat([rows(900, f"2026-{m:02d}-01", f"2026-{m + 1:02d}-01", seed=10 + m) for m in (2, 3, 4, 5)])
    log.drop(columns="label").to_parquet(data / "log" / "log.parquet")
    log[["pid", "label"]].to_parquet(data / "labels" / "labels.parquet")
    old = os.environ.get("WATCHKEEPER_HOME")
    os.environ["WATCHKEEPER_HOME"] = str(home)
    try:
        env = demo_run.airflow_env(dags)
        env["WATCHKEEPER_STRICT"] = "1"
        logs = home / "logs"
        logs.mkdir()
        assert demo_run.airflow(["db", "migrate"], env, logs / "migrate.log") == 0, (logs / "migrate.log").read_text()
        assert demo_run.airflow(["dags", "reserialize"], env, logs / "reserialize.log") == 0
        yield home, env, log
    finally:
        if old is None:
            os.environ.pop("WATCHKEEPER_HOME", None)
        else:
            os.environ["WATCHKEEPER_HOME"] = old


def dags_test(dag_id: str, run_after: str, env: dict[str, str], home: Path) -> str:
    from watchkeeper.demo import run as demo_run

    log_file = home / "logs" / f"{dag_id}__{run_after}.log"
    code = demo_run.airflow(["dags", "test", dag_id, run_after], env, log_file)
    text = log_file.read_text()
    assert code == 0, text[-5000:]
    return text


def test_monthly_performance_scores_exactly_the_monitor_months(
    project: tuple[Path, dict[str, str], pd.DataFrame],
) -> None:
    from watchkeeper.store import MetricStore

    home, env, log = project
    for run_after in ("2026-04-01", "2026-05-01"):  # monitor runs check March and April
        dags_test(f"monitor__{MODEL}", run_after, env, home)
    # performance runs for the intervals [04-01, 05-01) and [05-01, 06-01): March's labels fell due on 04-04,
    # April's on 05-04 (May's only on 06-04, so the second run does not score May)
    dags_test(f"performance__{MODEL}", "2026-05-01", env, home)
    text = dags_test(f"performance__{MODEL}", "2026-06-01", env, home)
    assert "2026-04-01T00:00:00+00:00" in text

    store = MetricStore(f"sqlite:///{home / 'watchkeeper.db'}")
    monitored = {r.window for r in store.metrics(MODEL, check="prediction", metric="estimated_accuracy")}
    scored = {r.window for r in store.metrics(MODEL, check="performance", metric="accuracy")}
    assert monitored == {month(2026, 3), month(2026, 4)}
    assert scored == monitored  # exactly the monitor's windows: calendar months, not shifted spans
    every_performance_window = {r.window for r in store.metrics(MODEL, check="performance")}
    assert every_performance_window == scored  # nothing else was recorded (e.g. 03-29..04-29)

    for m in (3, 4):
        window = month(2026, m)
        in_month = log[(log["ts"] >= window.start) & (log["ts"] < window.end)]
        assert len(in_month) == 900
        (acc,) = store.metrics(MODEL, window=window, check="performance", metric="accuracy")
        assert acc.value == pytest.approx(float((in_month["pred"] == in_month["label"]).mean()))
        assert acc.details["n"] == 900
        (estimate,) = store.metrics(MODEL, window=window, check="prediction", metric="estimated_accuracy")
        assert acc.details["estimated"] == pytest.approx(estimate.value)  # paired with the monitor's estimate
        assert acc.details["estimation_error"] == pytest.approx(estimate.value - acc.value)
        assert abs(acc.details["estimation_error"]) < 0.05

    # one trend point per month, none overlapping: April's detector saw exactly March and April
    (trend,) = store.metrics(MODEL, window=month(2026, 4), check="performance", metric="accuracy_trend")
    assert trend.details["windows"] == 2
    # a year of reference by month: the noise comes from 12 calendar-month chunks, judged from the first window
    assert trend.details["standardised_from"] == "reference" and trend.details["chunks"] == 12
    assert trend.status.name == "OK"
    windows = sorted(every_performance_window, key=lambda w: w.start)
    assert all(a.end <= b.start for a, b in zip(windows, windows[1:], strict=False))
