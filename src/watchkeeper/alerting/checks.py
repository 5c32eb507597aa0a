"""What ``watchkeeper validate`` can check about a model's sinks without sending anything.

The schema (unknown kinds with "did you mean", invalid addresses, a secret written in the YAML, two sinks
with the same name) is checked when the config loads. Here, where Airflow's connections can be looked up:
every Airflow connection a sink names exists (environment ``AIRFLOW_CONN_*`` variables, the secrets
backend, the metadata database), and the environment variables a sink names are set in this shell (a
warning only: tasks may run elsewhere). A connection that cannot be looked up here (no Airflow metadata
database reachable) is not reported: it is checked when the first notification is sent.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig

log = logging.getLogger(__name__)

State = Literal["found", "missing", "unknown"]


@functools.cache
def _metastore_readable() -> bool:
    """Whether Airflow's metadata database answers here (so a connection missing from it is really missing)."""
    try:
        from airflow.utils.session import create_session
        from sqlalchemy import text

        with create_session() as session:
            session.execute(text("SELECT 1 FROM connection WHERE 1 = 0"))
    except Exception as exc:  # no Airflow, no database, no tables: connections cannot be checked here
        log.debug("Airflow metadata database not readable: %s", type(exc).__name__)
        return False
    return True


def connection_state(conn_id: str) -> State:
    """``found``, ``missing`` (Airflow's lookup is conclusive here) or ``unknown``."""
    if f"AIRFLOW_CONN_{conn_id.upper()}" in os.environ:
        return "found"
    try:
        from airflow.models.connection import Connection

        Connection.get_connection_from_secrets(conn_id)
    except ImportError:
        return "unknown"
    except Exception as exc:
        if type(exc).__name__ == "AirflowNotFoundException":
            return "missing" if _metastore_readable() else "unknown"
        log.debug("connection %s could not be looked up: %s", conn_id, type(exc).__name__)
        return "unknown"
    return "found"


def sink_problems(loaded: LoadedConfig) -> list[str]:
    """``file: alerts.sinks[i].conn_id: ...`` for every named Airflow connection that does not exist."""
    sinks = loaded.model.alerts.sinks or []
    problems: list[str] = []
    for index, sink in enumerate(sinks):
        for field, conn_id in sink.connection_ids():
            if connection_state(conn_id) == "missing":
                problems.append(
                    f"{loaded.path}: alerts.sinks[{index}].{field}: Airflow connection {conn_id!r} of the {sink.kind} "
                    f"sink is not defined -- create it (airflow connections add {conn_id} ..., or the environment "
                    f"variable AIRFLOW_CONN_{conn_id.upper()}) or fix the id"
                )
        for field, var in sink.env_vars():
            if not os.environ.get(var):
                log.warning(
                    "%s: alerts.sinks[%d].%s: the environment variable %s is not set in this shell -- set it where "
                    "the tasks run",
                    loaded.path,
                    index,
                    field,
                    var,
                )
    settings = loaded.model.alerts
    for index, spec in enumerate(settings.on_failure_notifiers):
        problem = _notifier_problem(spec)
        if problem:
            problems.append(f"{loaded.path}: alerts.on_failure_notifiers[{index}]: {problem}")
    for field in ("slack_conn_id", "webhook_conn_id"):
        conn_id = getattr(settings, field)
        if conn_id and connection_state(conn_id) == "missing":
            problems.append(
                f"{loaded.path}: alerts.{field}: Airflow connection {conn_id!r} is not defined -- create it or fix "
                "the id"
            )
    return problems


def _notifier_problem(spec: object) -> str | None:
    """Why an ``on_failure_notifiers`` entry cannot be built (import path, class, arguments), or None."""
    try:
        from watchkeeper.airflow.notifiers import load_notifier
    except ImportError:
        return None  # no Airflow here: checked when a task fails
    from watchkeeper.exceptions import ConfigError

    try:
        load_notifier(spec)
    except ConfigError as exc:
        return str(exc).removeprefix("alerts.on_failure_notifiers: ")
    except Exception as exc:  # the notifier's own constructor refused its arguments
        return f"{getattr(spec, 'class_', '?')} cannot be created: {type(exc).__name__}: {exc}"
    return None
