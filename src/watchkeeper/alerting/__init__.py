"""Alerting: structured notifications per model run, alert lifecycle, routing, sinks and a durable outbox.

Entry points: :func:`dispatch` (after a run's results are stored), :func:`notify_monitor_failure`
(from the task failure callback), :func:`render_notification_text`, :func:`list_notifications` and
:func:`read_notifications` (to show what was sent). See ``docs/alerting.md``.

Importing this package is cheap (no SQLAlchemy, no service client): the names below load on first use,
and the config schema imports :mod:`watchkeeper.alerting.sinks` while Airflow parses DAG files.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watchkeeper.alerting.entry import dispatch, list_notifications, notify_monitor_failure, read_notifications
    from watchkeeper.alerting.messages import render_notification_text

_WHERE = {
    "dispatch": "watchkeeper.alerting.entry",
    "list_notifications": "watchkeeper.alerting.entry",
    "notify_monitor_failure": "watchkeeper.alerting.entry",
    "read_notifications": "watchkeeper.alerting.entry",
    "render_notification_text": "watchkeeper.alerting.messages",
}

__all__ = ["dispatch", "list_notifications", "notify_monitor_failure", "read_notifications", "render_notification_text"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
