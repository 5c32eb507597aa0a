"""The distributed deployment, for real: PostgreSQL, Redis, CeleryExecutor, two workers, and things that break.

``deploy/celery/launch.py`` starts the API server, scheduler, DAG processor, triggerer and two Celery workers
as separate processes, with Airflow's metadata DB and Celery's results in PostgreSQL, a private Redis broker
and Watchkeeper's metric store in PostgreSQL behind a TCP proxy this test controls (its URL carries a
password, to check that it is masked). ``WATCHKEEPER_DEPLOY_MODELS`` generated models (default 200, the
issue's size), each with one window due -- every fourth in the ``families`` task layout (8 task instances a
run), the others ``compact`` (2) -- are scheduled through the real scheduler and workers while the test

1. SIGKILLs worker2 and everything it started while it runs tasks; those tasks are retried on worker1;
2. restarts the scheduler and the DAG processor;
3. restarts the Redis broker;
4. then takes the metric store down, triggers a new run of a few windows, checks that the first task fails
   with the masked URL and a fix, brings the store back, and lets the retry complete the window.

Every run must succeed; the metric store must hold exactly the rows one window records, once per model (no
window missing or duplicated, no duplicated row); the local Slack server must have received exactly one alert
message per model. Figures (start-up, throughput, CPU and wall time) are printed and written to ``figures.json``.

Knobs: ``WATCHKEEPER_DEPLOY_MODELS`` (default 200: the whole test takes about 6.5 minutes on this 2-core
machine), ``WATCHKEEPER_DEPLOY_FAMILIES_EVERY`` (default 4; 1: every model in the ``families`` layout),
``WATCHKEEPER_DEPLOY_CONCURRENCY`` (task slots per worker, default 8),
``WATCHKEEPER_DEPLOY_KEEP=1`` keeps the databases for a look afterwards. For development against another
checkout: ``WATCHKEEPER_DEPLOY_PYTHONPATH`` (put first on the components' PYTHONPATH) and
``WATCHKEEPER_DEPLOY_REPO_DAGS`` (where the Watchkeeper DAG files are copied from).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from celery_fleet import CHANNEL, Fleet, expected_keys, generate, load_launcher, mirror_dag_files
from slack_server import TOKEN, SlackServer
from tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MODELS = int(os.environ.get("WATCHKEEPER_DEPLOY_MODELS", "200"))
#: Every FAMILIES_EVERY-th model has the ``families`` task layout (8 task instances per run), the others the
#: ``compact`` one (2): both layouts go through the disruptions, at the task count a large fleet would choose.
FAMILIES_EVERY = int(os.environ.get("WATCHKEEPER_DEPLOY_FAMILIES_EVERY", "4"))
#: Windows re-run while the metric store is down.
OUTAGE_MODELS = 2
#: The monitor-shaped DAG that publishes a chosen health, and the example gate scheduled on its Asset.
PROBE, GATE = "monitor__health_probe", "health_gate__health_probe"
STORE_PASSWORD = "s3cret-store-pw"  # PostgreSQL trusts local connections: the password is only there to be masked
PG_SERVER = os.environ.get("WATCHKEEPER_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")

pytestmark = [pytest.mark.postgres, pytest.mark.airflow]


launch = load_launcher()


# ----------------------------------------------------------------------------------------------- helpers


class MetaDB:
    """Read-only queries on Airflow's metadata DB."""

    def __init__(self, url: str) -> None:
        self.url = url

    def rows(self, sql: str, params: tuple[Any, ...] | None = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            return list(conn.execute(sql, params).fetchall())

    def run_states(self, prefix: str = "monitor__fleet") -> Counter[str]:
        return Counter(s for (s,) in self.rows("SELECT state FROM dag_run WHERE dag_id LIKE %s", (prefix + "%",)))

    def running_tis(self) -> list[tuple[str, str, int, int, int | None]]:
        return [
            (d, t, m, n, p)
            for d, t, m, n, p in self.rows(
                "SELECT dag_id, task_id, map_index, try_number, pid FROM task_instance WHERE state = 'running'"
            )
        ]


def api(deployment: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{deployment.s.base_url}/api/v2{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        return json.loads(resp.read() or b"null")


def wait_until(what: str, check: Callable[[], bool], timeout: float, every: float = 2.0) -> float:
    """Seconds it took until ``check()``; fails the test after ``timeout``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - start


@dataclass
class Outcome:
    """What the scenario observed; the tests below assert on it."""

    fleet: Fleet
    deployment: Any
    meta: MetaDB
    store_url: str
    slack: SlackServer
    expected: set[tuple[str, str, str]]
    figures: dict[str, Any] = field(default_factory=dict)
    killed: list[tuple[str, str, int, int, int | None]] = field(default_factory=list)
    killed_final: list[tuple[str, str, int, str, int]] = field(default_factory=list)
    health_after: dict[str, dict[str, str]] = field(default_factory=dict)
    outage_dags: list[str] = field(default_factory=list)
    outage_log: str = ""
    outage_final_states: dict[str, str] = field(default_factory=dict)
    probe_runs: list[tuple[Any, ...]] = field(default_factory=list)
    gate_runs: list[tuple[Any, ...]] = field(default_factory=list)
    gate_logs: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------- scenario


def _worker_task_pids(deployment: Any, name: str) -> set[int]:
    comp = deployment.components[name]
    return {comp.pid, *launch._descendants(comp.pid)} if comp.pid else set()


def _kill_worker_mid_run(out: Outcome, name: str = "worker2") -> None:
    """SIGKILL ``name`` and its whole process tree once it is running tasks; wait until worker1 retried them."""
    deployment, meta = out.deployment, out.meta
    deadline = time.monotonic() + 240
    victims: list[tuple[str, str, int, int, int | None]] = []
    while not victims:
        if time.monotonic() > deadline:
            pytest.fail(f"{name} never ran a task")
        pids = _worker_task_pids(deployment, name)
        victims = [ti for ti in meta.running_tis() if ti[4] in pids]
        if victims:
            deployment.components[name].kill()
            break
        time.sleep(0.3)
    out.killed = victims
    out.figures["killed_tasks"] = len(victims)
    killed_at = time.monotonic()

    def retried() -> bool:
        states = {
            (d, t, m): (s, n)
            for d, t, m, s, n in meta.rows("SELECT dag_id, task_id, map_index, state, try_number FROM task_instance")
        }
        return all(states[(d, t, m)][0] == "success" for d, t, m, _, _ in victims)

    # worker2 stays down until its tasks succeeded: they can only have run on worker1
    out.figures["killed_tasks_retried_s"] = round(wait_until("the killed tasks to succeed on worker1", retried, 420), 1)
    out.killed_final = [
        (d, t, m, s, n)
        for d, t, m, s, n in meta.rows("SELECT dag_id, task_id, map_index, state, try_number FROM task_instance")
        if (d, t, m) in {(v[0], v[1], v[2]) for v in victims}
    ]
    assert not deployment.components[name].alive()
    deployment.components[name].start()
    deployment.wait_healthy(180)
    out.figures["worker_down_s"] = round(time.monotonic() - killed_at, 1)


def _progress(meta: MetaDB) -> int:
    return meta.run_states()["success"]


def _store_outage(out: Outcome, proxy: TcpProxy) -> None:
    """Store down, new runs of a few windows: the first task fails with the masked URL; store back: retried."""
    deployment, meta = out.deployment, out.meta
    out.outage_dags = [f"monitor__{name}" for name in out.fleet.names[:OUTAGE_MODELS]]
    proxy.down()
    run_ids = {}
    # a new run of the same window: a logical date just after the window (Airflow infers the data interval
    # of a manual run from it; the scheduled run of the window has the window's end as its logical date)
    logical = (out.fleet.end + timedelta(seconds=1)).isoformat()
    for dag_id in out.outage_dags:
        run = api(deployment, "POST", f"/dags/{dag_id}/dagRuns", {"logical_date": logical})
        run_ids[dag_id] = run["dag_run_id"]

    def first_try_failed() -> bool:
        rows = meta.rows(
            "SELECT dag_id FROM task_instance WHERE run_id = ANY(%s) AND try_number = 1 "
            "AND state IN ('up_for_retry', 'failed')",
            (list(run_ids.values()),),
        )
        return len({d for (d,) in rows}) == len(run_ids)

    out.figures["store_down_first_failure_s"] = round(
        wait_until("a task to fail on the store", first_try_failed, 240), 1
    )
    logs = sorted(
        (deployment.s.airflow_home / "logs").glob(f"dag_id={out.outage_dags[0]}/run_id=manual__*/**/attempt=1.log")
    )
    out.outage_log = "\n".join(p.read_text(errors="replace") for p in logs)
    proxy.up()

    def done() -> bool:
        states = dict(meta.rows("SELECT dag_id, state FROM dag_run WHERE run_id = ANY(%s)", (list(run_ids.values()),)))
        out.outage_final_states = {k: str(v) for k, v in states.items()}
        return all(v in ("success", "failed") for v in states.values())

    out.figures["store_back_to_success_s"] = round(wait_until("the outage runs to finish", done, 300), 1)


def _health_probe(out: Outcome) -> None:
    """A warning and then a critical window published through the health helpers, on the real scheduler."""
    deployment, meta = out.deployment, out.meta
    for number, status in enumerate(("warning", "critical"), start=1):
        run = api(deployment, "POST", f"/dags/{PROBE}/dagRuns", {"logical_date": None, "conf": {"status": status}})

        def finished(run_id: str = run["dag_run_id"], number: int = number) -> bool:
            probe = meta.rows("SELECT state FROM dag_run WHERE run_id = %s AND dag_id = %s", (run_id, PROBE))
            gates = meta.rows("SELECT state FROM dag_run WHERE dag_id = %s", (GATE,))
            done = ("success", "failed")
            return bool(probe) and probe[0][0] in done and len(gates) >= number and all(g in done for (g,) in gates)

        wait_until(f"the {status} probe run and its gate run", finished, 300)
    out.probe_runs = meta.rows(
        "SELECT r.conf::text, r.state, n.content FROM dag_run r LEFT JOIN dag_run_note n ON n.dag_run_id = r.id "
        "WHERE r.dag_id = %s ORDER BY r.id",
        (PROBE,),
    )
    out.gate_runs = meta.rows(
        "SELECT r.run_type, r.state, x.value::text FROM dag_run r LEFT JOIN xcom x ON x.dag_run_id = r.id "
        "AND x.task_id = 'gate' AND x.key = 'return_value' WHERE r.dag_id = %s ORDER BY r.id",
        (GATE,),
    )
    logs = sorted((deployment.s.airflow_home / "logs").glob(f"dag_id={GATE}/**/task_id=gate/attempt=1.log"))
    out.gate_logs = [p.read_text(errors="replace") for p in logs]


def _scenario(out: Outcome, proxy: TcpProxy) -> None:
    deployment, meta, n = out.deployment, out.meta, len(out.fleet.names)
    t0 = time.monotonic()

    def all_dags_parsed() -> bool:
        found = {d for (d,) in meta.rows("SELECT dag_id FROM dag WHERE NOT is_stale")}
        return len({d for d in found if d.startswith("monitor__fleet")}) >= n and {PROBE, GATE} <= found

    out.figures["parse_all_dags_s"] = round(wait_until("every model's DAG", all_dags_parsed, 300), 1)
    api(deployment, "PATCH", "/dags?dag_id_pattern=monitor__%25", {"is_paused": False})
    t_runs = time.monotonic()
    _kill_worker_mid_run(out)
    out.health_after["worker2 killed and restarted"] = deployment.health()
    wait_until("half of the runs", lambda: _progress(meta) >= n // 2, 900)
    for name in ("scheduler", "dag-processor"):
        deployment.components[name].stop()
    for name in ("scheduler", "dag-processor"):
        deployment.components[name].start()
    deployment.wait_healthy(180)
    out.health_after["scheduler and dag-processor restarted"] = deployment.health()
    wait_until("two thirds of the runs", lambda: _progress(meta) >= 2 * n // 3, 900)
    deployment.restart("redis")
    out.health_after["redis restarted"] = deployment.health()

    def finished() -> bool:
        states = meta.run_states()
        return states["success"] + states["failed"] >= n

    wait_until("every run to finish", finished, 900, every=3)
    out.figures["all_runs_s"] = round(time.monotonic() - t_runs, 1)
    out.figures["runs_per_minute"] = round(n / (out.figures["all_runs_s"] / 60), 1)
    _store_outage(out, proxy)
    _health_probe(out)
    out.figures["scenario_s"] = round(time.monotonic() - t0, 1)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    root = tmp_path_factory.mktemp("celery")
    fleet = generate(root, MODELS, families_every=FAMILIES_EVERY)
    mirror_dag_files(Path(os.environ.get("WATCHKEEPER_DEPLOY_REPO_DAGS") or ROOT / "dags"), fleet.dags_folder)
    shutil.copy(HERE / "health_probe_dag.py", fleet.dags_folder / "health_probe_dag.py")
    gate = (
        (ROOT / "dags" / "example_health_gate.py").read_text().replace('MODEL = "demo_fraud"', 'MODEL = "health_probe"')
    )
    (fleet.dags_folder / "example_health_gate.py").write_text(gate)
    expected = expected_keys(fleet, fleet.names[0])
    slack = SlackServer().start()
    proxy = TcpProxy(5432).start()
    tag = uuid.uuid4().hex[:8]
    settings = launch.Settings(
        state_dir=root / "state",
        dags_folder=fleet.dags_folder,
        port=launch.free_port(),
        pg_url=PG_SERVER,
        store_pg_url=f"postgresql://postgres:{STORE_PASSWORD}@127.0.0.1:{proxy.port}",
        airflow_db=f"wk_celery_{tag}_airflow",
        store_db=f"wk_celery_{tag}_store",
        redis_port=launch.free_port(),
        concurrency=int(os.environ.get("WATCHKEEPER_DEPLOY_CONCURRENCY", "8")),
        reset_databases=True,
        use_template=True,
        extra_env={
            "WATCHKEEPER_SLACK_TOKEN": TOKEN,
            "WATCHKEEPER_SLACK_API_URL": slack.url,
            "WATCHKEEPER_SLACK_CHANNEL": CHANNEL,
            **(
                {"PYTHONPATH": os.environ["WATCHKEEPER_DEPLOY_PYTHONPATH"]}
                if os.environ.get("WATCHKEEPER_DEPLOY_PYTHONPATH")
                else {}
            ),
        },
    )
    deployment = launch.Deployment(settings)
    out = Outcome(
        fleet,
        deployment,
        MetaDB(settings.db_url(settings.airflow_db, "psycopg").replace("+psycopg", "")),
        settings.db_url(settings.store_db, "psycopg"),
        slack,
        expected,
    )
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.monotonic()
    try:
        t = time.monotonic()
        deployment.start()
        out.figures["start_s"] = round(time.monotonic() - t, 1)
        out.health_after["start"] = deployment.health()
        _scenario(out, proxy)
        out.figures["models"] = MODELS
        yield out
    finally:
        t = time.monotonic()
        deployment.stop()
        out.figures["stop_s"] = round(time.monotonic() - t, 1)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU of every process the deployment started and waited for (the killed worker's tree is lost)
        out.figures["cpu_s"] = round(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime, 1)
        out.figures["wall_s"] = round(time.monotonic() - wall, 1)
        (root / "figures.json").write_text(json.dumps(out.figures, indent=2))
        print(f"\ncelery deployment figures: {json.dumps(out.figures)}")
        slack.stop()
        proxy.stop()
        if not os.environ.get("WATCHKEEPER_DEPLOY_KEEP"):
            deployment.drop_databases()


# ----------------------------------------------------------------------------------------------- tests


def test_every_component_was_healthy_after_each_disruption(outcome: Outcome) -> None:
    assert set(outcome.health_after) == {
        "start",
        "worker2 killed and restarted",
        "scheduler and dag-processor restarted",
        "redis restarted",
    }
    for moment, report in outcome.health_after.items():
        assert report == dict.fromkeys(report, "healthy"), moment
        assert {
            "api-server",
            "scheduler",
            "dag-processor",
            "triggerer",
            "metadatabase",
            "redis",
            "worker1",
            "worker2",
        } <= set(report)


def test_every_scheduled_run_succeeded(outcome: Outcome) -> None:
    runs = outcome.meta.rows("SELECT dag_id, run_type, state FROM dag_run WHERE dag_id LIKE 'monitor__%'")
    scheduled = [(d, s) for d, t, s in runs if t == "scheduled"]
    assert sorted(d for d, _ in scheduled) == sorted(f"monitor__{n}" for n in outcome.fleet.names)
    assert [r for r in scheduled if r[1] != "success"] == []


def test_both_task_layouts_ran_through_the_disruptions(outcome: Outcome) -> None:
    tasks: dict[str, set[str]] = {}
    for dag_id, task_id in outcome.meta.rows(
        "SELECT DISTINCT dag_id, task_id FROM task_instance WHERE dag_id LIKE 'monitor__fleet%'"
    ):
        tasks.setdefault(dag_id.removeprefix("monitor__"), set()).add(task_id)
    families = {name for i, name in enumerate(outcome.fleet.names) if i % FAMILIES_EVERY == 0}
    assert families and len(families) < len(outcome.fleet.names)
    for name in outcome.fleet.names:
        want = {"baseline", "profile", "check", "report", "health"} if name in families else {"monitor", "health"}
        assert tasks[name] == want, name


def _store_rows(outcome: Outcome, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(outcome.store_url.replace("+psycopg", ""), autocommit=True) as conn:
        return list(conn.execute(sql).fetchall())


def test_the_metric_store_holds_each_window_exactly_once(outcome: Outcome) -> None:
    fleet = outcome.fleet
    runs = _store_rows(outcome, "SELECT model, window_start, window_end FROM runs")
    assert Counter(m for m, _, _ in runs) == Counter(fleet.names), "one stored run per model window"
    assert {(s, e) for _, s, e in runs} == {(fleet.start, fleet.end)}
    metrics = _store_rows(outcome, 'SELECT model, window_start, "check", metric, subject FROM metrics')
    per_model: dict[str, Counter[tuple[str, str, str]]] = {}
    for model, start, check, metric, subject in metrics:
        assert start == fleet.start
        per_model.setdefault(model, Counter())[(check, metric, subject)] += 1
    assert set(per_model) == set(fleet.names)
    for model, keys in per_model.items():
        assert set(keys) == outcome.expected, model
        assert max(keys.values()) == 1, f"{model}: duplicated rows {[k for k, c in keys.items() if c > 1]}"


FAILURE_MESSAGE = re.compile(r"monitoring (of \S+ )?failed", re.IGNORECASE)


def test_exactly_one_alert_message_per_model(outcome: Outcome) -> None:
    failures = [m.text for m in outcome.slack.messages if FAILURE_MESSAGE.search(m.text)]
    assert failures == [], "no task failed for good, so no 'monitoring failed' message"
    alerts = [m for m in outcome.slack.top_level() if not FAILURE_MESSAGE.search(m.text)]
    per_model = Counter(name for m in alerts for name in outcome.fleet.names if name in m.text)
    wrong = {name: per_model[name] for name in outcome.fleet.names if per_model[name] != 1}
    assert wrong == {}, "models without exactly one alert message (name: messages)"
    assert sum(per_model.values()) == len(outcome.fleet.names)


def test_a_killed_worker_s_tasks_are_retried_on_the_other_worker(outcome: Outcome) -> None:
    assert outcome.killed, "worker2 was killed while it ran tasks"
    assert len(outcome.killed_final) == len(outcome.killed)
    for dag_id, task_id, map_index, state, try_number in outcome.killed_final:
        assert state == "success", (dag_id, task_id, map_index)
        assert try_number >= 2, (dag_id, task_id, map_index)  # a second try, on worker1 (worker2 was down)


def test_a_store_outage_fails_the_task_with_the_masked_url_and_a_fix_then_the_retry_completes(
    outcome: Outcome,
) -> None:
    log = outcome.outage_log
    assert STORE_PASSWORD not in log
    assert "postgres:***@127.0.0.1:" in log
    # the masked URL, what failed, then the fix after " -- "
    masked = r"metric store postgresql\+psycopg://postgres:\*\*\*@127\.0\.0\.1:\d+/\w+"
    assert re.search(masked + r": cannot [^\n]* -- \w", log)
    assert outcome.outage_final_states == dict.fromkeys(outcome.outage_dags, "success")


def test_no_secret_reached_slack_the_store_or_the_logs(outcome: Outcome) -> None:
    texts = [m.text + json.dumps(m.blocks or []) for m in outcome.slack.messages]
    assert texts
    assert not [t for t in texts if STORE_PASSWORD in t]
    logs = outcome.deployment.s.airflow_home / "logs"
    leaked = [p for p in logs.rglob("*.log") if STORE_PASSWORD in p.read_text(errors="replace")]
    assert leaked == []
    dumped = _store_rows(outcome, "SELECT coalesce(message, '') || coalesce(details::text, '') FROM metrics")
    assert not [r for (r,) in dumped if STORE_PASSWORD in r]


def test_a_critical_window_is_a_failed_run_with_a_note_and_its_health_event_triggers_the_gate(
    outcome: Outcome,
) -> None:
    (warn_conf, warn_state, warn_note), (crit_conf, crit_state, crit_note) = outcome.probe_runs
    assert "warning" in warn_conf and "critical" in crit_conf
    assert (warn_state, crit_state) == ("success", "failed")
    # the notes were written by Watchkeeper's listener in the scheduler
    assert str(warn_note).startswith("**Watchkeeper** monitor `health_probe`") and "**WARNING**" in str(warn_note)
    assert "**CRITICAL** (2 findings)" in str(crit_note)
    assert f"[Model page]({outcome.deployment.s.base_url}/watchkeeper/models/health_probe)" in str(crit_note)
    # each health event started one gate run; it read the status from the event's extra
    (type1, state1, value1), (type2, state2, _) = outcome.gate_runs
    assert (type1, type2) == ("asset_triggered", "asset_triggered")
    assert (state1, state2) == ("success", "failed")
    decision = json.loads(value1)
    assert decision["status"] == "warning"
    assert decision["findings"] == ["drift.psi[amount]", "service.latency_p95_ms"]
    assert any("health_probe is CRITICAL" in log and "not promoting" in log for log in outcome.gate_logs)
