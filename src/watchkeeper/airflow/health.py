"""A window's health where data engineers look: a DAG-run note, a task link, the grid, and an Asset event.

The DAG builders call these helpers (see docs/deployment.md, "Health in Airflow"):

- :func:`emit_health` at the end of the task that publishes a window (``report`` in the monitor DAG,
  ``score`` in the performance DAG), whose ``outlets`` include :func:`health_asset`: it sets the Asset
  event's extra (status, findings' keys, window, links) and pushes the health payload as the XCom
  ``watchkeeper_health``, which the scheduler-side listener (:mod:`watchkeeper.airflow.health_listener`)
  turns into the DAG run's note once the run finishes.
- :func:`check_health` in a final ``health`` task (:data:`HEALTH_TASK_ARGS`, with :class:`ModelPageLink`
  attached by :func:`attach_model_link`): it fails -- never retried and without "monitoring failed" --
  only when the window is critical, so a critical window is a red run in the grid and a healthy one green.

Imported at DAG parse time: Airflow's task SDK and the standard library only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperatorLink

from watchkeeper.results import Status, Window, worst

log = logging.getLogger(__name__)

#: XCom key of the health payload (read by the listener that writes the DAG-run note).
HEALTH_XCOM_KEY = "watchkeeper_health"
#: Notes written by Watchkeeper start with this; any other note (a person's) is never overwritten.
NOTE_MARKER = "**Watchkeeper**"
#: Airflow stores at most 1,000 characters of a DAG-run note.
NOTE_MAX_CHARS = 1000
#: Findings listed in the note and in the payload's ``top_findings``.
TOP_FINDINGS = 5
#: Task id of the final task that makes a critical window a failed run.
HEALTH_TASK_ID = "health"
#: Arguments of that task: no "monitoring failed" alert (it is the model that is unhealthy, not the
#: monitoring). A critical window is not retried: :func:`check_health` raises ``AirflowFailException``, which
#: Airflow never retries (a critical window stays critical); the task keeps the DAG's retries so that a
#: worker lost while it runs does not turn a healthy window into a failed run.
HEALTH_TASK_ARGS: dict[str, Any] = {
    "task_id": HEALTH_TASK_ID,
    "on_failure_callback": None,
    "multiple_outputs": False,
}
_SHORT = {Status.WARNING: "WARN", Status.CRITICAL: "CRIT", Status.ERROR: "ERR"}


# --------------------------------------------------------------------------- names and links


def health_asset_name(model: str) -> str:
    """Name of the Airflow Asset that monitor and performance runs of ``model`` update."""
    return f"watchkeeper_health__{model}"


def health_asset_uri(model: str) -> str:
    """URI of that Asset."""
    return f"watchkeeper://health/{model}"


def health_asset(model: str) -> Any:
    """``Asset(name="watchkeeper_health__<model>", uri="watchkeeper://health/<model>")``: schedule on it."""
    from airflow.sdk import Asset

    return Asset(name=health_asset_name(model), uri=health_asset_uri(model))


def model_from_dag_id(dag_id: str) -> str:
    """``monitor__fraud`` and ``performance__fraud`` -> ``fraud``."""
    return dag_id.split("__", 1)[-1]


def airflow_base_url() -> str | None:
    """``[api] base_url`` of this Airflow, read at run time; None when Airflow's config cannot be read."""
    try:
        from airflow.sdk.configuration import conf

        base = str(conf.get("api", "base_url", fallback="http://localhost:8080") or "http://localhost:8080")
    except Exception:  # a missing link must never fail a task
        return None
    return base.rstrip("/")


def model_page_url(model: str) -> str | None:
    """The model's page on the model-health UI (the Watchkeeper plugin, under ``/watchkeeper``)."""
    base = airflow_base_url()
    return None if base is None else f"{base}/watchkeeper/models/{model}"


def report_url(model: str, window: Window) -> str | None:
    """The window's HTML report on the model-health UI (see :func:`watchkeeper.publish.report_url`)."""
    from watchkeeper import publish

    return publish.report_url(model, window, airflow_base_url())


def run_url(dag_id: str, run_id: str) -> str | None:
    """The DAG run in Airflow's UI, from ``[api] base_url`` (read at task run time)."""
    from urllib.parse import quote

    base = airflow_base_url()
    return None if base is None else f"{base}/dags/{dag_id}/runs/{quote(run_id)}"


class ModelPageLink(BaseOperatorLink):
    """The "Model health" button of a task: the model's page on the model-health UI.

    Airflow 3 resolves an operator's own links on the worker when the task finishes and keeps them in
    XCom (``_link_ModelPageLink``), so the API server needs no plugin to show them.
    """

    name = "Model health"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return model_page_url(model_from_dag_id(str(ti_key.dag_id))) or ""


def attach_model_link(task: Any) -> Any:
    """Give a task (an operator, or the ``XComArg`` a ``@task`` call returns) the :class:`ModelPageLink`."""
    operator = getattr(task, "operator", task)
    operator.operator_extra_links = [*getattr(operator, "operator_extra_links", ()), ModelPageLink()]
    return task


def add_health_task(summary: Any) -> Any:
    """Add the final ``health`` task after the publishing task whose output (an ``XComArg``) is ``summary``.

    It runs :func:`check_health` with :data:`HEALTH_TASK_ARGS` and carries the "Model health" link; the DAG
    builders call this inside their ``with DAG(...)`` block.
    """
    from airflow.sdk import task

    return attach_model_link(task(**HEALTH_TASK_ARGS)(check_health)(summary))


# --------------------------------------------------------------------------- the payload


def finding_key(check: str, metric: str, subject: str | None) -> str:
    """``check.metric[subject]`` (``check.metric`` without a subject): how rules and alerts name a result."""
    return f"{check}.{metric}[{subject}]" if subject else f"{check}.{metric}"


def _field(result: Any, name: str) -> Any:
    return result.get(name) if isinstance(result, Mapping) else getattr(result, name, None)


def _findings(results: Iterable[Any]) -> list[dict[str, str]]:
    """Findings (warning, critical, error) of ``results`` -- CheckResults or their dicts -- worst first."""
    found = []
    for r in results:
        status = Status(str(_field(r, "status")))
        if status.is_finding:
            key = finding_key(str(_field(r, "check")), str(_field(r, "metric")), _field(r, "subject"))
            found.append({"key": key, "status": str(status), "message": str(_field(r, "message") or "")})
    found.sort(key=lambda f: -Status(f["status"]).rank)
    return found


def health_payload(
    model: str,
    kind: str,
    windows: Sequence[Window],
    results: Iterable[Any],
    *,
    dag_id: str,
    run_id: str,
) -> dict[str, Any]:
    """The window's health as a small JSON dict: status, findings' keys, the worst findings, links.

    ``kind`` is ``monitor`` or ``performance``; ``windows`` are the windows the run judged (one for a
    monitor run, one or more for a performance run); ``results`` their results (CheckResults or dicts).
    """
    listed = list(results)
    findings = _findings(listed)
    status = worst([Status(str(_field(r, "status"))) for r in listed]) if listed else Status.SKIPPED
    last = windows[-1] if windows else None
    payload: dict[str, Any] = {
        "model": model,
        "kind": kind,
        "status": str(status),
        "window": last.as_dict() if last else None,
        "windows": [w.as_dict() for w in windows],
        "findings": sorted({f["key"] for f in findings}),
        "n_findings": len(findings),
        "top_findings": findings[:TOP_FINDINGS],
        "dag_id": dag_id,
        "run_id": run_id,
        "model_url": model_page_url(model),
        "report_url": report_url(model, last) if last else None,
        "run_url": run_url(dag_id, run_id),
    }
    return payload


def asset_extra(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What the health Asset event carries: enough for a gate to decide without reading the store."""
    keys = ("model", "kind", "status", "window", "findings", "dag_id", "run_id", "model_url", "report_url")
    return {k: payload.get(k) for k in keys}


# --------------------------------------------------------------------------- task-side helpers


def context_dag_id(context: Mapping[str, Any]) -> str:
    """The DAG id of a task's context (``"?"`` when it names none)."""
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    return str(getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None) or "?")


def emit_health(
    context: Mapping[str, Any],
    model: str,
    kind: str,
    windows: Sequence[Window],
    results: Iterable[Any],
) -> dict[str, Any]:
    """Publish a run's health from the task that published its window; returns the payload.

    Sets the extra of the ``watchkeeper_health__<model>`` Asset event (when the task has that Asset in its
    ``outlets``: Airflow emits it when the task succeeds) and pushes the payload as the XCom
    :data:`HEALTH_XCOM_KEY`, from which the DAG-run note is written. Never raises: health is a view.
    """
    payload = health_payload(
        model, kind, windows, results, dag_id=context_dag_id(context), run_id=str(context.get("run_id"))
    )
    try:
        asset = health_asset(model)
        ti = context.get("ti") or context.get("task_instance")
        outlets = list(getattr(getattr(ti, "task", None), "outlets", None) or [])
        if any(getattr(o, "name", None) == asset.name for o in outlets):
            context["outlet_events"][asset].extra = asset_extra(payload)
        else:
            log.warning("model=%s: the task has no outlet %s; no health event is emitted", model, asset.name)
        if ti is not None:
            ti.xcom_push(key=HEALTH_XCOM_KEY, value=payload)
    except Exception:  # the window is already recorded; a missing note or event must not fail it
        log.exception("model=%s: could not publish the run's health", model)
    log.info("model=%s %s health: %s, %d finding(s)", model, kind, payload["status"], payload["n_findings"])
    return payload


def check_health(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    """Body of the final ``health`` task: fail the run (``AirflowFailException``: no retry) when the window is critical.

    ``payload`` is the output of the publishing task: its health payload, or a summary that carries one
    under ``"health"``, or at least a ``"status"``. An ``error`` status is not raised here: the task that
    hit the error already failed the run.
    """
    data = dict(payload or {})
    health = dict(data.get("health") or data)
    status = Status(str(health.get("status") or Status.SKIPPED))
    if status is Status.CRITICAL:
        from airflow.sdk.exceptions import AirflowFailException

        top = "; ".join(f"{f['key']}: {f['message']}"[:160] for f in (health.get("top_findings") or [])[:3])
        page = health.get("model_url") or "the model page"
        raise AirflowFailException(
            f"model {health.get('model', '?')}: the window is CRITICAL -- this is the model's health, not a "
            f"pipeline failure (the results are recorded and alerted). {top} -- see {page}"
        )
    return {**health, "status": str(status)}


# --------------------------------------------------------------------------- the note


def note_markdown(payload: Mapping[str, Any]) -> str:
    """The DAG-run note for a health payload (Markdown, at most :data:`NOTE_MAX_CHARS` characters)."""
    window = payload.get("window") or {}
    span = f"{str(window.get('start', '?'))[:16]} → {str(window.get('end', '?'))[:16]} UTC" if window else ""
    status = str(payload.get("status", "?")).upper()
    n = int(payload.get("n_findings") or 0)
    head = f"{NOTE_MARKER} {payload.get('kind', '')} `{payload.get('model', '?')}` {span}: **{status}**"
    head += f" ({n} finding{'s' if n != 1 else ''})" if n else " (no findings)"
    links = [
        f"[{label}]({url})"
        for label, url in (("Model page", payload.get("model_url")), ("Run report", payload.get("report_url")))
        if url
    ]
    tail = " · ".join(links)
    lines = []
    for finding in payload.get("top_findings") or []:
        short = _SHORT.get(Status(finding["status"]), finding["status"].upper())
        lines.append(f"- {short} `{finding['key']}`: {finding['message']}"[:220])
    if n > len(lines):
        lines.append(f"- … and {n - len(lines)} more")
    body = "\n".join([head, *lines])
    budget = NOTE_MAX_CHARS - len(tail) - 2
    if len(body) > budget:
        body = body[: budget - 1] + "…"
    return f"{body}\n\n{tail}" if tail else body
