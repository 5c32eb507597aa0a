"""Which windows a performance run scores: always monitor windows -- the label delay decides when a window is
scored, never which span -- for every kind of schedule; asset events that name windows score those."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from watchkeeper.airflow.performance_tasks import due_windows, latest_due_window, windows_for_run
from watchkeeper.config import LoadedConfig, load_config, parse_config
from watchkeeper.results import Window

DEMO = Path(__file__).resolve().parents[3] / "dags" / "models" / "demo_fraud.yaml"


@dataclass
class Event:
    extra: dict = field(default_factory=dict)
    timestamp: datetime | None = None


def with_schedule(schedule: str, delay: str) -> LoadedConfig:
    data = yaml.safe_load(DEMO.read_text())
    data["schedule"] = schedule
    data["performance"]["labels"]["delay"] = delay
    return parse_config(DEMO, yaml.safe_dump(data))


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def run_context(start: datetime, end: datetime) -> dict:
    return {"data_interval_start": start, "data_interval_end": end}


def test_scheduled_daily_run_scores_the_day_whose_labels_fell_due() -> None:
    ctx = run_context(at(2026, 10, 30), at(2026, 10, 31))
    assert windows_for_run(load_config(DEMO), ctx) == [Window.parse("2026-10-27", "2026-10-28")]


def test_monthly_run_scores_a_calendar_month_never_a_shifted_span() -> None:
    config = with_schedule("@monthly", "3d")
    # the run for May (fires on 06-01) scores April: its labels were due on 05-04; May's only on 06-04
    assert windows_for_run(config, run_context(at(2026, 5, 1), at(2026, 6, 1))) == [
        Window(at(2026, 4, 1), at(2026, 5, 1))
    ]
    # February is short: still exactly the calendar month
    assert windows_for_run(config, run_context(at(2026, 3, 1), at(2026, 4, 1))) == [
        Window(at(2026, 2, 1), at(2026, 3, 1))
    ]


@pytest.mark.parametrize(
    ("schedule", "delay", "first", "step", "expected"),
    [
        ("@hourly", "90m", at(2026, 10, 30, 5), timedelta(hours=1), Window(at(2026, 10, 30, 3), at(2026, 10, 30, 4))),
        ("@daily", "36h", at(2026, 10, 30), timedelta(days=1), Window(at(2026, 10, 28), at(2026, 10, 29))),
        ("@weekly", "3d", at(2026, 11, 1), timedelta(weeks=1), Window(at(2026, 10, 25), at(2026, 11, 1))),
        (
            "30 6 * * *",
            "1d",
            at(2026, 10, 30, 6, 30),
            timedelta(days=1),
            Window(at(2026, 10, 29, 6, 30), at(2026, 10, 30, 6, 30)),
        ),
    ],
)
def test_each_schedule_scores_its_latest_due_monitor_window(
    schedule: str, delay: str, first: datetime, step: timedelta, expected: Window
) -> None:
    config = with_schedule(schedule, delay)
    assert windows_for_run(config, run_context(first, first + step)) == [expected]


@pytest.mark.parametrize(
    ("schedule", "delay", "runs"),
    [
        ("@hourly", timedelta(minutes=90), 24 * 9),
        ("@daily", timedelta(days=3), 60),
        ("@weekly", timedelta(days=10), 30),
        ("@monthly", timedelta(days=3), 30),
        ("0 9 * * 1-5", timedelta(hours=60), 40),  # weekdays only: windows of 1 and 3 days
    ],
)
def test_consecutive_runs_score_every_monitor_window_exactly_once(schedule: str, delay: timedelta, runs: int) -> None:
    """The performance DAG runs on the monitor's timetable; over consecutive runs the scored windows are exactly
    the monitor's windows, contiguous and never overlapping, each scored once its labels were due."""
    from watchkeeper.airflow.performance_tasks import _core_timetable

    timetable = _core_timetable(schedule)
    intervals = []
    info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=_restriction(at(2026, 1, 5)))
    for _ in range(runs):
        intervals.append(info.data_interval)
        info = timetable.next_dagrun_info(
            last_automated_data_interval=info.data_interval, restriction=_restriction(at(2026, 1, 5))
        )
    monitor = {Window(*(datetime.fromtimestamp(t.timestamp(), UTC) for t in (i.start, i.end))) for i in intervals}
    scored: list[Window] = []
    for interval in intervals:
        start, end = (datetime.fromtimestamp(t.timestamp(), UTC) for t in (interval.start, interval.end))
        got = due_windows(schedule, delay, start, end)
        assert all(w.end + delay <= end for w in got)
        scored += got
    assert len(scored) == len(set(scored))  # never twice
    assert set(scored) <= monitor | {w for w in scored if w.end <= min(m.start for m in monitor)}
    inside = sorted((w for w in scored if w.start >= min(m.start for m in monitor)), key=lambda w: w.start)
    assert inside, "no window scored"
    for a, b in zip(inside, inside[1:], strict=False):
        assert a.end == b.start  # contiguous: nothing skipped, nothing overlapping
    last_end = max(datetime.fromtimestamp(i.end.timestamp(), UTC) for i in intervals)
    missed = [m for m in monitor if m.start >= inside[0].start and m.end + delay <= last_end and m not in scored]
    assert missed == []


def _restriction(earliest: datetime):  # type: ignore[no-untyped-def]
    import pendulum
    from airflow.timetables.base import TimeRestriction

    return TimeRestriction(earliest=pendulum.instance(earliest), latest=None, catchup=True)


def test_asset_events_name_the_windows() -> None:
    events = {
        "labels": [
            Event({"start": "2026-10-05T00:00:00+00:00", "end": "2026-10-06T00:00:00+00:00"}),
            Event({"start": "2026-10-04T00:00:00+00:00", "end": "2026-10-05T00:00:00+00:00"}),
            Event({"start": "2026-10-05T00:00:00+00:00", "end": "2026-10-06T00:00:00+00:00"}),
        ]
    }
    ctx = {"triggering_asset_events": events, "data_interval_start": None, "data_interval_end": None}
    assert windows_for_run(load_config(DEMO), ctx) == [
        Window.parse("2026-10-04", "2026-10-05"),
        Window.parse("2026-10-05", "2026-10-06"),
    ]


def test_asset_event_without_a_window_scores_the_latest_window_due_when_labels_arrived() -> None:
    config = with_schedule("@monthly", "3d")
    events = {"labels": [Event(timestamp=at(2026, 5, 10, 8)), Event(timestamp=at(2026, 5, 3))]}
    ctx = {
        "triggering_asset_events": events,
        "data_interval_start": at(2026, 5, 3),
        "data_interval_end": at(2026, 5, 10, 8),
    }
    assert windows_for_run(config, ctx) == [Window(at(2026, 4, 1), at(2026, 5, 1))]
    assert latest_due_window("@monthly", timedelta(days=3), at(2026, 5, 3)) == Window(at(2026, 3, 1), at(2026, 4, 1))


def test_event_without_window_and_no_interval_is_a_clear_error() -> None:
    ctx = {"triggering_asset_events": {"labels": [Event()]}, "data_interval_start": None, "data_interval_end": None}
    with pytest.raises(ValueError, match="no usable data interval .* and no asset event names a window"):
        windows_for_run(load_config(DEMO), ctx)


def test_schedule_without_intervals_needs_named_windows() -> None:
    with pytest.raises(ValueError, match="has no data intervals, so no monitor windows to score -- name the window"):
        due_windows("@once", timedelta(days=3), at(2026, 5, 1), at(2026, 6, 1))


def test_performance_dag_ends_in_the_health_task_beside_the_retraining_branch() -> None:
    from watchkeeper.airflow.performance_dag import build_performance_dag

    dag = build_performance_dag(load_config(DEMO))
    assert set(dag.task_ids) == {"score", "health", "decide_retraining", "trigger_retraining"}
    score, gate = dag.get_task("score"), dag.get_task("health")
    assert [a.name for a in score.outlets] == ["watchkeeper_health__demo_fraud"]
    assert score.downstream_task_ids == {"health", "decide_retraining"}  # a critical window still retrains
    assert gate.upstream_task_ids == {"score"} and gate.downstream_task_ids == set()
    assert gate.retries == 1 and not gate.on_failure_callback
    assert [link.name for link in gate.operator_extra_links] == ["Model health"]


def test_performance_health_is_the_worst_of_the_scored_windows() -> None:
    from types import SimpleNamespace

    from airflow.sdk.exceptions import AirflowFailException

    from watchkeeper.airflow.health import check_health
    from watchkeeper.airflow.performance_tasks import publish_health
    from watchkeeper.results import CheckResult, Status

    def scored(day: int, status: Status) -> dict:
        result = CheckResult("performance", "recall", "", 0.4, 0.6, status, f"recall 0.40 ({status})")
        ok = CheckResult("performance", "label_coverage", "", 0.9, 0.5, Status.OK, "")
        window = Window(at(2026, 10, day), at(2026, 10, day + 1))
        return {"window": window.as_dict(), "results": [result.as_dict(), ok.as_dict()]}

    summary = {"scored": [scored(27, Status.CRITICAL), scored(26, Status.WARNING)]}
    context = {"run_id": "scheduled__1", "dag": SimpleNamespace(dag_id="performance__demo_fraud")}
    payload = publish_health(str(DEMO), summary, context)
    assert (payload["model"], payload["kind"], payload["status"]) == ("demo_fraud", "performance", "critical")
    assert [w["start"][:10] for w in payload["windows"]] == ["2026-10-26", "2026-10-27"]
    assert payload["window"]["start"] == "2026-10-27T00:00:00+00:00"  # the latest window: the note's and report's
    assert payload["findings"] == ["performance.recall"] and payload["n_findings"] == 2
    assert payload["dag_id"] == "performance__demo_fraud" and payload["run_id"] == "scheduled__1"
    with pytest.raises(AirflowFailException, match="model demo_fraud: the window is CRITICAL"):
        check_health({**summary, "health": payload})
    summary["scored"] = [scored(27, Status.WARNING)]
    assert check_health({"health": publish_health(str(DEMO), summary, context)})["status"] == "warning"
