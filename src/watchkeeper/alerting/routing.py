"""Who hears about what: severities, the alert filter (min severity, severe-only), channels, quiet hours."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watchkeeper.alerting.sinks.slack import CHANNEL_ENV
from watchkeeper.config import AlertSettings, Severity
from watchkeeper.results import Status

log = logging.getLogger(__name__)

__all__ = ["CHANNEL_ENV", "in_quiet_hours", "is_alertable", "route", "severity_of"]


def severity_of(status: Status | str) -> Severity:
    """Alert severity of a finding: ``error`` (the check itself failed) counts as critical."""
    return Severity.WARNING if Status(status) is Status.WARNING else Severity.CRITICAL


def is_alertable(status: Status, settings: AlertSettings) -> bool:
    """Whether a result with ``status`` is an alert under the model's settings.

    Findings below ``min_severity`` and, in ``severe_only`` mode, warnings are recorded in the store
    but never alert.
    """
    if not status.is_finding:
        return False
    if severity_of(status) is Severity.CRITICAL:
        return True
    return not settings.severe_only and settings.min_severity is Severity.WARNING


def route(settings: AlertSettings, severity: Severity | str) -> str | None:
    """Channel of a top-level message of ``severity``: the severity's channel, else the model's, else
    ``$WATCHKEEPER_SLACK_CHANNEL``; None when none is set (a webhook or the log sink needs none)."""
    return settings.severity_channels.get(Severity(severity)) or settings.channel or os.environ.get(CHANNEL_ENV) or None


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def in_quiet_hours(settings: AlertSettings, now: datetime) -> bool:
    """Whether ``now`` falls in the model's quiet hours ``[start, end)`` (spanning midnight when end < start)."""
    quiet = settings.quiet_hours
    if quiet is None:
        return False
    start, end = _hhmm(quiet.start), _hhmm(quiet.end)
    zone: tzinfo
    try:
        zone = ZoneInfo(quiet.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("quiet_hours.timezone %r is not an IANA time zone: reading the quiet hours in UTC", quiet.timezone)
        zone = UTC
    local = now.astimezone(zone).time().replace(tzinfo=None)
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end
