"""The main job: generate the demo model's data, run ``monitor__demo_fraud`` through real Airflow, summarise.

Airflow runs embedded: its home (SQLite metadata DB, logs) lives in the Watchkeeper state folder,
the DAGs come from this project's ``dags/`` folder, and ``airflow dags test`` executes every task
in-process against that metadata DB. No scheduler, no Slack token, no network.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from watchkeeper import settings

#: The final task of monitor and performance runs, failed by design when the window is critical
#: (``watchkeeper.airflow.health.HEALTH_TASK_ID``; not imported: the demo's own process never imports Airflow).
HEALTH_TASK_ID = "health"

DEMO_MODEL = "demo_fraud"


def demo_data_dir() -> Path:
    """Where the demo data is generated (the demo config points here through ${WATCHKEEPER_HOME})."""
    return settings.state_dir() / "demo_data" / DEMO_MODEL


def airflow_env(dags_folder: Path) -> dict[str, str]:
    """Environment for an embedded Airflow: home in the state folder, SQLite, no examples."""
    home = settings.state_dir() / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "WATCHKEEPER_HOME": str(settings.state_dir()),
            "WATCHKEEPER_CONFIG_DIR": str(dags_folder / "models"),
            "GX_ANALYTICS_ENABLED": "false",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


def airflow(args: list[str], env: dict[str, str], log_file: Path) -> int:
    """Run the venv's ``airflow`` command, output to ``log_file``; return its exit code."""
    exe = Path(sys.executable).parent / "airflow"
    with open(log_file, "w", encoding="utf-8") as out:
        return subprocess.run([str(exe), *args], env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode


@dataclass(frozen=True)
class DagTest:
    """The outcome of one ``airflow dags test``: its exit code, log, and the run's task states.

    A critical window fails the run in its final ``health`` task by design (docs/deployment.md, "Health in
    Airflow"): that run is :attr:`critical`, and still :attr:`ok`. Any other failed task is a failure.
    """

    dag_id: str
    exit_code: int
    log_file: Path
    #: task id (a mapped instance as ``check[2]``) -> state, of the newest run of the DAG
    states: dict[str, str] = field(default_factory=dict)

    @property
    def failed_tasks(self) -> list[str]:
        """Tasks that neither succeeded nor were skipped (a short-circuit skips the retraining trigger)."""
        return sorted(t for t, state in self.states.items() if state not in {"success", "skipped"})

    @property
    def critical(self) -> bool:
        """The run failed in ``health`` alone: the window is critical, everything else went through."""
        return self.exit_code != 0 and self.failed_tasks == [HEALTH_TASK_ID] and self.states[HEALTH_TASK_ID] == "failed"

    @property
    def ok(self) -> bool:
        """The run succeeded, or failed only because its window is critical."""
        return (self.exit_code == 0 and not self.failed_tasks) or self.critical

    def describe(self) -> str:
        """``success``, ``CRITICAL window -- ...`` or ``FAILED (...)`` for the demo's output."""
        if self.exit_code == 0 and not self.failed_tasks:
            return "success"
        if self.critical:
            return "CRITICAL window -- the run failed in its `health` task by design; every other task succeeded"
        failed = ", ".join(f"{t} {self.states[t]}" for t in self.failed_tasks) or "no task state recorded"
        return f"FAILED (exit {self.exit_code}; {failed})"


def run_states(env: dict[str, str], dag_id: str) -> dict[str, str]:
    """Task states of the newest run of ``dag_id`` in the embedded Airflow's SQLite metadata DB."""
    import sqlite3

    db = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT ti.task_id, ti.map_index, ti.state FROM task_instance ti JOIN dag_run r "
            "ON r.dag_id = ti.dag_id AND r.run_id = ti.run_id "
            "WHERE r.id = (SELECT MAX(id) FROM dag_run WHERE dag_id = ?)",
            (dag_id,),
        ).fetchall()
    return {(task if index < 0 else f"{task}[{index}]"): str(state) for task, index, state in rows}


def dag_test(dag_id: str, run_after: datetime, env: dict[str, str], log_file: Path) -> DagTest:
    """``airflow dags test <dag_id> <run_after>``, then the task states of that run."""
    code = airflow(["dags", "test", dag_id, run_after.isoformat()], env, log_file)
    try:
        states = run_states(env, dag_id)
    except Exception as exc:  # no metadata DB to read: the exit code alone decides
        print(f"could not read the task states of {dag_id}: {exc}", file=sys.stderr)
        states = {}
    return DagTest(dag_id, code, log_file, states)


def run_monitor(day: date, env: dict[str, str], logs: Path) -> DagTest:
    """``airflow dags test monitor__demo_fraud <day + 1>``: one real DAG run over that day's window.

    Airflow 3 runs a DAG *after* its interval: the run at 2026-10-29T00:00 checks [10-28, 10-29).
    """
    log_file = logs / f"monitor__{DEMO_MODEL}__{day.isoformat()}.log"
    run_after = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return dag_test(f"monitor__{DEMO_MODEL}", run_after, env, log_file)


def run_performance(day: date, env: dict[str, str], logs: Path) -> DagTest:
    """``airflow dags test performance__demo_fraud``: a scheduled run that scores ``day`` (labels 3 days later).

    A run after the interval [day + 3, day + 4) scores the prediction window shifted back by the label
    delay: [day, day + 1).
    """
    log_file = logs / f"performance__{DEMO_MODEL}__{day.isoformat()}.log"
    run_after = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=4)
    return dag_test(f"performance__{DEMO_MODEL}", run_after, env, log_file)


def backfill_performance(days: list[date]) -> list[str]:
    """Score earlier windows in-process (the same ``score_window`` the DAG calls) to build the history
    that baselines, persistence and the change detector look at."""
    from watchkeeper.config import find_config
    from watchkeeper.scoring import score_window
    from watchkeeper.store import MetricStore

    config = find_config(DEMO_MODEL, settings.config_dir())
    store = MetricStore()
    store.migrate()
    lines = []
    for day in days:
        report = score_window(config, day_window(day), store)
        recall = next((r for r in report.results if r.metric == "recall"), None)
        mark = f"recall {recall.value:.2f} ({recall.status})" if recall is not None and recall.value else report.reason
        lines.append(f"{day:%m-%d} {mark}")
    return lines


def day_window(day: date) -> Any:
    """The UTC day as a window."""
    from watchkeeper.results import Window

    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return Window(start, start + timedelta(days=1))


def retraining_summary(env: dict[str, str], logs: Path) -> list[str]:
    """What the performance DAG triggered: the audit row, the queued Airflow run, and that run executed."""
    import json

    from watchkeeper.store import MetricStore

    lines = []
    triggers = MetricStore().retrain_triggers(DEMO_MODEL)
    if not triggers:
        return ["no retraining was triggered"]
    last = triggers[0]
    lines.append(f"performance__{DEMO_MODEL} triggered {last.dag_id}: {last.reason}")
    listing = logs / "retrain_runs.json"
    airflow(["dags", "list-runs", last.dag_id, "-o", "json"], env, listing)
    try:
        line = next(x for x in reversed(listing.read_text().splitlines()) if x.startswith("[{") or x == "[]")
        runs = json.loads(line)
        lines.append(
            f"TriggerDagRunOperator created {len(runs)} run(s) of {last.dag_id}: "
            + ", ".join(f"{r['run_id']} ({r['state']})" for r in runs)
        )
    except (ValueError, KeyError, StopIteration):
        lines.append(f"(could not list runs of {last.dag_id}; see {listing})")
    log_file = logs / f"{last.dag_id}.log"
    code = airflow(["dags", "test", last.dag_id, "--conf", json.dumps(last.conf)], env, log_file)
    lines.append(
        f"ran {last.dag_id} with that conf: {'success' if code == 0 else f'FAILED (exit {code})'} (log: {log_file})"
    )
    lines.append("conf: " + json.dumps({k: last.conf[k] for k in ("model", "reason", "window")}))
    return lines


def summarise(days: list[date]) -> str:
    """Readable summary of the stored results of each day's window."""
    from watchkeeper.reporting import render_text
    from watchkeeper.results import CheckResult, Window
    from watchkeeper.store import MetricStore

    store = MetricStore()
    parts = []
    for day in days:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        window = Window(start, start + timedelta(days=1))
        rows = store.metrics(DEMO_MODEL, start=window.start, end=window.end)
        results = [
            CheckResult(r.check, r.metric, r.subject, r.value, r.threshold, r.status, r.message)
            for r in rows
            if r.window_start == window.start
        ]
        runs = [r for r in store.runs(DEMO_MODEL) if r.window_start == window.start]
        n_rows = runs[0].n_rows if runs else None
        parts.append(render_text(DEMO_MODEL, window, results, n_rows=n_rows))
    return "\n\n".join(parts)


def summarise_performance(day: date) -> str:
    """Readable performance results of ``day``'s window."""
    from watchkeeper.reporting import render_text
    from watchkeeper.store import MetricStore

    window = day_window(day)
    rows = MetricStore().metrics(DEMO_MODEL, window=window, check="performance")
    results = [r.to_result() for r in rows]
    text = render_text(DEMO_MODEL + " performance", window, results)
    keys = {"recall", "precision", "roc_auc", "label_coverage"}
    values = ", ".join(f"{r.metric} {r.value:.3f}" for r in results if r.metric in keys and r.value is not None)
    return f"{text}\n  measured: {values}"


def rendered_alerts(window: Any) -> list[str]:
    """The alert messages of a window as people would read them (no Slack configured: the log sink)."""
    from watchkeeper.alerting import list_notifications
    from watchkeeper.alerting.messages import render_notification_text

    return [render_notification_text(n) for n in list_notifications(DEMO_MODEL, window)]


def main(argv: list[str] | None = None) -> int:
    """Generate data, run the monitor DAG for a clean and a faulty day, print what was found."""
    from watchkeeper.demo.generate import CLEAN_DAY, FAULTS, FAULTY_DAY, generate

    parser = argparse.ArgumentParser(prog="python -m watchkeeper.demo.run", description=__doc__)
    parser.add_argument("--days", nargs="*", type=date.fromisoformat, help="days to monitor (default: clean, faulty)")
    parser.add_argument("--dags-folder", type=Path, default=Path.cwd() / "dags")
    parser.add_argument(
        "--performance-day",
        type=date.fromisoformat,
        default=date(2026, 10, 27),
        help="prediction day scored by the performance DAG (labels must exist)",
    )
    args = parser.parse_args(argv)
    days = args.days or [CLEAN_DAY, FAULTY_DAY]
    began = time.monotonic()
    dags_folder = args.dags_folder.resolve()
    logs = settings.state_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    print(f"[1/5] generating demo data in {demo_data_dir()}")
    generate(demo_data_dir())
    for fault in FAULTS:
        print(f"      injected from day {fault.day:>2}: {fault.name} ({fault.column}) -- {fault.description}")

    env = airflow_env(dags_folder)
    print(f"[2/5] preparing embedded Airflow in {env['AIRFLOW_HOME']} (SQLite metadata DB)")
    code = airflow(["db", "migrate"], env, logs / "airflow_db_migrate.log")
    if code != 0:
        print(f"airflow db migrate failed (exit {code}); see {logs / 'airflow_db_migrate.log'}", file=sys.stderr)
        return code

    code = airflow(["dags", "reserialize"], env, logs / "airflow_dags_reserialize.log")
    if code != 0:
        print(f"airflow dags reserialize failed (exit {code}); see {logs / 'airflow_dags_reserialize.log'}")
        return code

    print("[3/5] running the real monitor DAG with `airflow dags test`")
    failed = False
    for day in days:
        t0 = time.monotonic()
        run = run_monitor(day, env, logs)
        print(f"      monitor__{DEMO_MODEL} for {day} ({time.monotonic() - t0:.0f} s): {run.describe()}")
        print(f"        (log: {run.log_file})")
        failed |= not run.ok

    print("\n" + summarise(days))
    for day in days:
        messages = rendered_alerts(day_window(day))
        print(f"\nalert messages for {day} (Slack not configured: task log + alerts.jsonl): {len(messages) or 'none'}")
        for text in messages:
            print("  " + text.replace("\n", "\n  "))

    perf_day = args.performance_day
    history = [perf_day - timedelta(days=n) for n in range(perf_day.day - 1, 0, -1)]
    print("\n[4/5] performance on ground truth (labels arrive 3 days late; concept drift from 10-20)")
    print(f"      history: scoring {history[0]:%m-%d}..{history[-1]:%m-%d} in-process (same code as the DAG)")
    for line in backfill_performance(history)[-8:]:
        print(f"        {line}")
    t0 = time.monotonic()
    run = run_performance(perf_day, env, logs)
    print(f"      performance__{DEMO_MODEL} for {perf_day} ({time.monotonic() - t0:.0f} s): {run.describe()}")
    print(f"        (log: {run.log_file})")
    failed |= not run.ok
    print("\n" + summarise_performance(perf_day))
    for text in rendered_alerts(day_window(perf_day))[-1:]:
        print("\n  " + text.replace("\n", "\n  "))

    print("\n[5/5] retraining")
    for line in retraining_summary(env, logs):
        print(f"      {line}")
    print(f"\nalerts: {settings.state_dir() / 'alerts.jsonl'}")
    print(f"metric store: {settings.mask_url(settings.database_url())}")
    print(f"demo finished in {time.monotonic() - began:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
