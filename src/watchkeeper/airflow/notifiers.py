"""Airflow notifiers, both ways.

* :func:`run_failure_notifiers`: the notifiers a model's YAML adds to its "monitoring failed" path
  (``alerts.on_failure_notifiers``: any ``BaseNotifier`` subclass by import path, with its kwargs), called
  with the failed task's Airflow context after Watchkeeper's own notification. A notifier that fails is
  logged, never raised (a failure callback must not fail).
* :class:`WatchkeeperNotifier`: Watchkeeper's sinks as an Airflow notifier for any DAG, e.g.
  ``on_failure_callback=WatchkeeperNotifier(sinks=[{"kind": "pagerduty", "conn_id": "pd_etl"}])`` -- or
  ``WatchkeeperNotifier(model="fraud")`` to use that model's ``alerts`` (its sinks, channel, mentions).
  Delivery goes through the same outbox (exactly once per sink; a sink that is down is caught up by the
  next notification under the same name) when the metric store is reachable, straight to the sinks
  otherwise.

This module is imported by DAG files that use the notifier: Airflow and pydantic only at module level.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from collections.abc import Sequence

    from watchkeeper.config import AlertSettings, LoadedConfig

log = logging.getLogger(__name__)


def load_notifier(spec: Any) -> BaseNotifier:
    """The notifier of one ``on_failure_notifiers`` entry (imported now; a clear error when it cannot be)."""
    from importlib import import_module

    from watchkeeper.exceptions import ConfigError

    module, _, name = spec.class_.rpartition(".")
    try:
        cls = getattr(import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"alerts.on_failure_notifiers: cannot import {spec.class_!r} ({exc}) -- check the import path and that "
            "its provider is installed"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, BaseNotifier)):
        raise ConfigError(f"alerts.on_failure_notifiers: {spec.class_!r} is not an Airflow notifier (BaseNotifier)")
    try:
        return cls(**spec.kwargs)
    except TypeError as exc:
        raise ConfigError(f"alerts.on_failure_notifiers: {spec.class_}({', '.join(spec.kwargs)}): {exc}") from None


def run_failure_notifiers(config: LoadedConfig | None, context: Any) -> list[str]:
    """Call the model's ``alerts.on_failure_notifiers`` with the failed task's context; returns the errors."""
    if config is None:
        return []
    errors: list[str] = []
    for index, spec in enumerate(config.model.alerts.on_failure_notifiers):
        try:
            notifier = load_notifier(spec)
            notifier(context)
        except Exception as exc:  # a failure callback must never fail
            text = f"{config.path}: alerts.on_failure_notifiers[{index}] ({spec.class_}) failed: "
            text += f"{type(exc).__name__}: {exc}"
            log.exception("model=%s: %s", config.model.name, text)
            errors.append(text)
        else:
            log.info("model=%s: notifier %s called", config.model.name, spec.class_)
    return errors


def _context_value(context: Any, *names: str) -> Any:
    for name in names:
        value = context.get(name) if hasattr(context, "get") else None
        if value is not None:
            return value
    return None


class WatchkeeperNotifier(BaseNotifier):
    """Watchkeeper's sinks as an Airflow notifier (see the module docstring).

    :param sinks: sink entries as in ``alerts.sinks`` (``[{"kind": "email", "to": [...], "conn_id": ...}]``);
        default: the model's sinks when ``model`` is given, else the default sink (Slack or the log).
    :param model: a Watchkeeper model whose ``alerts`` to use (its YAML is found in the config folder);
        also the name the notifications are kept under (default: the DAG id).
    :param title: one line (templated), default ``"<dag>.<task> failed"`` (or the DAG's state).
    :param text: the body (templated), default the exception.
    :param severity: ``critical`` (default) or ``warning``.
    """

    template_fields = ("title", "text")

    def __init__(
        self,
        *,
        sinks: Sequence[dict[str, Any]] | None = None,
        model: str | None = None,
        title: str = "",
        text: str = "",
        severity: str = "critical",
        channel: str | None = None,
    ) -> None:
        super().__init__()
        if severity not in {"warning", "critical"}:
            raise ValueError(f"severity={severity!r} -- use 'warning' or 'critical'")
        self.sinks = [dict(s) for s in sinks] if sinks is not None else None
        self.model = model
        self.title = title
        self.text = text
        self.severity = severity
        self.channel = channel
        if self.sinks is not None:
            self.settings()  # a bad sink is an error where the DAG is defined, not when it fails

    def settings(self) -> AlertSettings:
        """The alert settings to use: the given sinks, else the model's, else the defaults."""
        from watchkeeper.config import AlertSettings

        if self.sinks is not None:
            return AlertSettings.model_validate({"sinks": self.sinks, "channel": self.channel})
        if self.model is not None:
            from watchkeeper.config import find_config
            from watchkeeper.settings import config_dir

            return find_config(self.model, config_dir()).model.alerts
        return AlertSettings(channel=self.channel)

    def notify(self, context: Any) -> None:
        """Build an ``event`` notice from the context and send it to the sinks."""
        from watchkeeper.alerting.entry import send_notice
        from watchkeeper.alerting.lifecycle import idempotency_key
        from watchkeeper.alerting.notice import Failure, Notice

        ti = _context_value(context, "ti", "task_instance")
        dag = context.get("dag")
        dag_id = str(getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None) or "?")
        task_id = str(getattr(ti, "task_id", None) or "")
        run_id = str(_context_value(context, "run_id") or getattr(ti, "run_id", "") or "")
        exception = context.get("exception")
        error = f"{type(exception).__name__}: {exception}" if exception is not None else ""
        where = f"{dag_id}.{task_id}" if task_id else dag_id
        title = self.title or (f"{where} failed" if exception is not None else f"{where}: {self.severity}")
        failure = Failure(dag_id=dag_id, task=task_id or "(dag)", run_id=run_id, error=error) if error else None
        try:
            log_url = getattr(ti, "log_url", None)
        except Exception:  # the link is a nicety
            log_url = None
        settings = self.settings()
        name = self.model or dag_id
        notice = Notice(
            kind="event",
            model=name,
            severity=self.severity,
            mentions=tuple(settings.mentions),
            failure=failure,
            links={"log": str(log_url)} if log_url else {},
            title=title,
            text=self.text or "",
        )
        try_number = getattr(ti, "try_number", None)
        key = idempotency_key("event", name, dag_id, run_id, task_id, try_number, title)
        summary = send_notice(notice, settings, key=key, run_id=run_id, keep={"dag_id": dag_id, "task_id": task_id})
        if not summary.get("sent"):
            self.log.error("Watchkeeper notification %s not delivered (yet): %s", key, summary.get("errors"))
