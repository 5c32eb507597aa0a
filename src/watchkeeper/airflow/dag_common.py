"""What every Watchkeeper DAG shares: DAG ids, asset names, the timetable and task defaults.

Imported at DAG parse time: YAML, pydantic and Airflow only.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from watchkeeper.airflow import publishing
from watchkeeper.config import LoadedConfig
from watchkeeper.sharding import SHARD_FOLDER, SHARDS, shard_file_name, shard_file_text

MONITOR_PREFIX = "monitor__"
PERFORMANCE_PREFIX = "performance__"
CONFIG_ERROR_PREFIX = "watchkeeper_config_error__"
FAMILIES = ("quality", "drift", "prediction", "service")

__all__ = [
    "SHARDS",
    "SHARD_FOLDER",
    "dag_kwargs",
    "labels_asset",
    "monitor_dag_id",
    "performance_dag_id",
    "shard_file_name",
    "shard_file_text",
]


def monitor_dag_id(model: str) -> str:
    """DAG id of a model's monitor DAG."""
    return f"{MONITOR_PREFIX}{model}"


@functools.cache
def _timetable(schedule: str) -> Any:
    if schedule in {"@once", "@continuous"}:
        return schedule
    from airflow.sdk import CronDataIntervalTimetable

    # An interval timetable gives every run a data interval [start, end): the window to check.
    return CronDataIntervalTimetable(schedule, timezone="UTC")


def performance_dag_id(model: str) -> str:
    """DAG id of a model's performance DAG."""
    return f"{PERFORMANCE_PREFIX}{model}"


def labels_asset_name(model: str) -> str:
    """Name of the Airflow Asset a label pipeline updates when a model's labels arrive."""
    return f"watchkeeper_labels__{model}"


def labels_asset(model: str) -> Any:
    """The Asset that signals label arrival: ``Asset(name="watchkeeper_labels__<model>", uri="watchkeeper://labels/<model>")``."""
    from airflow.sdk import Asset

    return Asset(name=labels_asset_name(model), uri=f"watchkeeper://labels/{model}")


def on_task_failure(context: Any) -> None:
    """Failure callback of every Watchkeeper task: reports "monitoring failed" (see ``publishing.on_task_failure``)."""
    publishing.on_task_failure(context)


# Airflow serialises a callable in default_args as its source code, re-reading and tokenising the
# function on every DAG it serialises: a one-line wrapper keeps that cheap (about 1 ms less per DAG).


def _default_args(owner: str) -> dict[str, Any]:
    """Task defaults of every Watchkeeper DAG: one retry, and the failure callback that reports a broken monitor."""
    return {
        "owner": owner,
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
        "on_failure_callback": on_task_failure,
    }


def dag_kwargs(loaded: LoadedConfig) -> dict[str, Any]:
    """The ``DAG(...)`` keyword arguments every DAG of a model shares.

    ``start_date``, ``catchup``, ``default_args`` (owner, retries, failure callback), the base ``tags``
    (``watchkeeper``, ``model:<name>``, ``owner:<owner>``; a builder may append its own) and
    ``is_paused_upon_creation`` from the model's ``paused`` (default false: a new model runs without a click).
    """
    model = loaded.model
    return {
        "start_date": model.start_date,
        "catchup": model.catchup,
        "default_args": _default_args(model.owner),
        "tags": [_tag("watchkeeper"), _tag(f"model:{model.name}"), _tag(f"owner:{model.owner}")],
        "is_paused_upon_creation": model.paused,
    }


def _doc_md(loaded: LoadedConfig) -> str:
    model = loaded.model
    return (
        f"## Monitor of `{model.name}`\n\n{model.description}\n\n"
        f"Owner: **{model.owner}** · task: `{model.task}` · config: `{loaded.path.name}`\n\n"
        "Each run checks its data interval of the prediction log: data quality (schema, volume, freshness, "
        "missing values, ranges, unseen categories, GX suite), feature drift, prediction drift and "
        "confidence, service health. Results go to the metric store; findings to the task log and the "
        "alert file.\n\n"
        f"```yaml\n{loaded.text.rstrip()}\n```\n"
    )


def _tag(text: str) -> str:
    return text[:100]
