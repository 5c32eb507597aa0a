"""Airflow notifiers in the YAML (``alerts.on_failure_notifiers``) and Watchkeeper's own notifier: bad input is
refused where it is written (the YAML, the DAG file), with the field and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from support import minimal_config
from watchkeeper.alerting.checks import sink_problems
from watchkeeper.config import parse_config
from watchkeeper.exceptions import ConfigError

BASE: dict[str, Any] = minimal_config()
SLACK = "airflow.providers.slack.notifications.slack.SlackNotifier"


def load(tmp_path: Path, notifiers: list[dict[str, Any]]) -> Any:
    return parse_config(
        tmp_path / "fraud.yaml", yaml.safe_dump({**BASE, "alerts": {"on_failure_notifiers": notifiers}})
    )


def test_a_notifier_by_import_path_and_kwargs_parses(tmp_path: Path) -> None:
    config = load(tmp_path, [{"class": SLACK, "kwargs": {"slack_conn_id": "slack_api_default", "channel": "#x"}}])
    (spec,) = config.model.alerts.on_failure_notifiers
    assert spec.class_ == SLACK and spec.kwargs == {"slack_conn_id": "slack_api_default", "channel": "#x"}
    assert sink_problems(config) == []  # importable, a BaseNotifier, arguments accepted


@pytest.mark.parametrize(
    ("notifier", "expected"),
    [
        ({"class": "SlackNotifier"}, "alerts.on_failure_notifiers.0.class"),
        ({"class": SLACK, "kwargs": {"token": "xoxb-secret"}}, "kwargs.token looks like a secret"),
        ({"class": SLACK, "extra": 1}, "unknown key 'extra'"),
    ],
)
def test_bad_notifier_entries_are_refused_when_the_config_loads(
    tmp_path: Path, notifier: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, [notifier])
    (problem,) = err.value.problems
    assert problem.startswith(str(tmp_path / "fraud.yaml")) and expected in problem
    assert "xoxb-secret" not in problem


@pytest.mark.parametrize(
    ("notifier", "expected"),
    [
        ({"class": "airflow.providers.slack.notifications.slak.SlackNotifier"}, "cannot import"),
        ({"class": "watchkeeper.config.AlertSettings"}, "is not an Airflow notifier (BaseNotifier)"),
        ({"class": SLACK, "kwargs": {"chanel": "#x"}}, "unexpected keyword argument 'chanel'"),
    ],
)
def test_validate_builds_each_notifier(tmp_path: Path, notifier: dict[str, Any], expected: str) -> None:
    (problem,) = sink_problems(load(tmp_path, [notifier]))
    assert problem.startswith(f"{tmp_path / 'fraud.yaml'}: alerts.on_failure_notifiers[0]: ") and expected in problem


def test_the_watchkeeper_notifier_refuses_a_bad_sink_where_the_dag_is_defined() -> None:
    from pydantic import ValidationError

    from watchkeeper.airflow.notifiers import WatchkeeperNotifier

    with pytest.raises(ValidationError, match="kind 'pagerdutty' is not a sink -- did you mean 'pagerduty'"):
        WatchkeeperNotifier(sinks=[{"kind": "pagerdutty", "conn_id": "pd"}])
    with pytest.raises(ValueError, match="severity='page'"):
        WatchkeeperNotifier(severity="page")
    notifier = WatchkeeperNotifier(sinks=[{"kind": "log"}], title="{{ dag.dag_id }} failed")
    assert notifier.template_fields == ("title", "text")
