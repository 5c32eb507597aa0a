"""Airflow listener that writes a Watchkeeper run's health into its DAG-run note.

Airflow 3's task API has no call that sets a DAG run's note, so the task publishes its health as the XCom
``watchkeeper_health`` (:func:`watchkeeper.airflow.health.emit_health`) and this listener -- registered
by the Watchkeeper plugin (``listeners = [health_listener]``) -- writes the note when the run finishes.
Airflow calls it where the run's state changes, with the metadata-DB session of that change: in the
scheduler for scheduled and triggered runs, in ``airflow dags test``, and in the API server when a
person marks a run. A note a person wrote is never overwritten; a failure here is logged, never raised.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from airflow.listeners import hookimpl

from watchkeeper.airflow.health import HEALTH_XCOM_KEY, NOTE_MARKER, note_markdown

log = logging.getLogger(__name__)

#: DAG ids whose runs carry a health payload.
PREFIXES = ("monitor__", "performance__")


def latest_health(dag_run: Any, session: Any) -> dict[str, Any] | None:
    """The newest ``watchkeeper_health`` XCom of ``dag_run``, or None."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    value = session.scalar(
        select(XComModel.value)
        .where(XComModel.dag_run_id == dag_run.id, XComModel.key == HEALTH_XCOM_KEY)
        .order_by(XComModel.timestamp.desc())
        .limit(1)
    )
    if isinstance(value, str):  # stored serialized by some XCom paths
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def write_note(dag_run: Any, session: Any = None) -> str | None:
    """Set ``dag_run``'s note from its health payload; returns the note, or None when nothing was written.

    In the scheduler the run belongs to the session that changes its state, and the note is written in
    that transaction. ``airflow dags test`` hands over a detached run that ``update_state`` merges back
    into its session afterwards: then the payload is read in a short session of our own and the note is
    attached to the run, to be merged with it.
    """
    if not str(getattr(dag_run, "dag_id", "")).startswith(PREFIXES):
        return None
    from sqlalchemy.orm import object_session

    session = session or object_session(dag_run)
    if session is not None:
        payload, current = latest_health(dag_run, session), dag_run.note
    else:
        from airflow.utils.session import create_session

        with create_session() as reader:
            payload, current = latest_health(dag_run, reader), _stored_note(dag_run, reader)
    if payload is None:
        return None
    if current and not str(current).startswith(NOTE_MARKER):
        return None  # a person's note stays
    note = note_markdown(payload)
    if session is not None:
        dag_run.note = note
        session.flush()
    else:
        from airflow.models.dagrun import DagRunNote

        dag_run.dag_run_note = DagRunNote(content=note)  # type: ignore[no-untyped-call]
    return note


def _stored_note(dag_run: Any, session: Any) -> str | None:
    from airflow.models.dagrun import DagRunNote
    from sqlalchemy import select

    content = session.scalar(select(DagRunNote.content).where(DagRunNote.dag_run_id == dag_run.id))
    return None if content is None else str(content)


def _on_finished(dag_run: Any) -> None:
    try:
        write_note(dag_run)
    except Exception:  # a listener must never break the scheduler
        log.exception("watchkeeper: could not write the note of %s", getattr(dag_run, "run_id", "?"))


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    """A Watchkeeper run succeeded: its note says the window's status, top findings and links."""
    _on_finished(dag_run)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    """A Watchkeeper run failed (a critical window, or the monitoring itself): the note says which."""
    _on_finished(dag_run)
