"""Schedules and rule keys are resolved when the config loads, with a fix for every mistake."""

from __future__ import annotations

import pytest

from watchkeeper.config import check_schedule

from .cfgdata import parse, problems, with_


@pytest.mark.parametrize(
    "schedule",
    [
        "@daily",
        "@hourly",
        "@weekly",
        "@monthly",
        "@quarterly",
        "@yearly",
        "0 6 * * *",
        "*/15 * * * *",
        "0 0 * * MON-FRI",
        "0 0 L * *",
    ],
)
def test_airflow_schedules_load(schedule: str) -> None:
    assert parse(with_("schedule", schedule)).model.schedule == schedule


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("99 99 * * *", "'99 99 * * *' is not a valid cron expression: [99 99 * * *] is not acceptable, out of range"),
        ("0 0 30 2 *", "cron expression '0 0 30 2 *' never fires (no such date) -- fix the day and month"),
        ("@dayly", "unknown preset '@dayly' -- did you mean '@daily'?"),
        ("@continuous", "schedule '@continuous' has no data interval"),
        ("0 0 * * * 0", "'0 0 * * * 0' is not a cron expression (it has 6 fields; Airflow schedules use 5"),
        ("every day", "'every day' is not a cron expression (it has 2 fields"),
    ],
)
def test_invalid_schedules_are_config_errors(schedule: str, expected: str) -> None:
    (msg,) = problems(with_("schedule", schedule))
    assert msg.startswith("dags/models/m1.yaml: schedule: ")
    assert expected in msg


def test_every_accepted_schedule_builds_an_airflow_timetable_that_validates() -> None:
    from airflow.sdk import CronDataIntervalTimetable

    for schedule in ["@daily", "@quarterly", "0 6 * * *", "0 0 L * *", "*/15 * * * *"]:
        CronDataIntervalTimetable(check_schedule(schedule), timezone="UTC").validate()


@pytest.mark.parametrize(
    "key",
    [
        "service.latency_p95_ms",
        "drift.psi[amount]",
        "quality.gx.expect_column_values_to_not_be_null",
        "prediction.estimated_recall",
        "quality.missing_share[country]",
        "prediction.class_rate_change[1]",
    ],
)
def test_known_rule_keys_load(key: str) -> None:
    form = "relative_drop" if key == "prediction.estimated_recall" else "relative_rise"  # recall: higher is better
    assert key in parse(with_("rules", {key: {form: 0.5}})).model.rules


def test_an_estimated_metric_rule_must_watch_the_way_the_metric_degrades() -> None:
    (msg,) = problems(with_("rules", {"prediction.estimated_recall": {"relative_rise": 0.5}}))
    assert "relative_rise alerts when recall rises, but higher recall is better" in msg


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (
            "service.latency_p95",
            "'latency_p95' is not a metric of the service checks, so this rule would never fire "
            "-- did you mean 'latency_p95_ms'?",
        ),
        (
            "services.error_rate",
            "unknown check family 'services' in rules key 'services.error_rate' -- did you mean 'service'?",
        ),
        (
            "drift.psi[amout]",
            "'amout' is not a feature of predictions.features, so this rule would never fire -- did you mean 'amount'?",
        ),
        ("quality.missing_share[zzz]", "'zzz' is not a feature of predictions.features"),
        ("latency", "rules key 'latency' is not 'check.metric' or 'check.metric[subject]'"),
    ],
)
def test_unknown_rule_keys_name_the_key_and_the_fix(key: str, expected: str) -> None:
    (msg,) = problems(with_("rules", {key: {"relative_rise": 0.5}}))
    assert msg.startswith(f"dags/models/m1.yaml: rules.{key}: ")
    assert expected in msg
