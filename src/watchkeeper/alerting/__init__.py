"""Alerting: consolidated Slack messages per model run, alert lifecycle, routing and a durable outbox.

Entry points: :func:`dispatch` (after a run's results are stored), :func:`notify_monitor_failure`
(from the task failure callback), :func:`render_notification_text`, :func:`list_notifications` and
:func:`read_notifications` (to show what was sent). See ``docs/alerting.md``.

Importing this package is cheap (no SQLAlchemy, no slack-sdk): they load when a message is sent.
"""

from __future__ import annotations

from watchkeeper.alerting.dispatch import dispatch, list_notifications, notify_monitor_failure, read_notifications
from watchkeeper.alerting.messages import render_notification_text

__all__ = ["dispatch", "list_notifications", "notify_monitor_failure", "read_notifications", "render_notification_text"]
