"""PagerDuty Events API v2: ``trigger`` on new or escalated alerts, ``resolve`` on recovered ones.

Each alert key is one PagerDuty alert: ``dedup_key`` = ``watchkeeper/<model>/<check>[<subject>]``, so a new
or escalated key triggers (PagerDuty groups repeats), and its recovery resolves exactly that alert.
Ongoing keys and reminders send nothing (the incident is open already). A broken monitor triggers an
``error`` alert per DAG run. Severity mapping: critical and error → ``critical``, warning → ``warning``.
Only keys at or above the sink's ``min_severity`` trigger; every recovered key is resolved (a key whose
severity dropped before it recovered must still close its alert, and PagerDuty ignores a resolve of an
alert it does not have).

The integration (routing) key comes from an Airflow connection (``conn_id``: the key as password, as the
PagerDuty provider's ``pagerduty_events`` connections store it; an optional host overrides the Events API
URL) or an environment variable (``routing_key_env``). A 4xx answer (an invalid or revoked key, a
payload PagerDuty refuses) is permanent: a clear error, the notification kept for the next run. 429 and
5xx are retried.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from watchkeeper.alerting.messages import numbers_line, title_of
from watchkeeper.alerting.notice import severity_rank
from watchkeeper.alerting.sinks import http
from watchkeeper.alerting.sinks.base import (
    ConnectionOrEnvConfig,
    Delivered,
    DeliveryFailure,
    SendContext,
    Sink,
    SinkConfig,
    extra_of,
    require_connection,
    require_env,
    timeout_of,
)

if TYPE_CHECKING:
    from watchkeeper.alerting.notice import AlertEntry, Notice

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
#: Events API limits: summary 1,024 characters, dedup_key 255.
SUMMARY_CHARS = 1024
DEDUP_CHARS = 255
_SEVERITY = {"critical": "critical", "error": "critical", "warning": "warning"}


class PagerDutyConfig(ConnectionOrEnvConfig):
    """PagerDuty Events API v2 (an Events API v2 integration of a service)."""

    kind: Literal["pagerduty"] = Field(default="pagerduty", description="Which sink: pagerduty.")
    conn_id: str | None = Field(
        default=None, description="Airflow connection with the integration (routing) key as its password."
    )
    routing_key_env: str | None = Field(
        default=None, description="Environment variable with the integration key (instead of conn_id)."
    )
    source: str = Field(default="watchkeeper", description="PagerDuty's 'source' field.", max_length=255)

    env_field: ClassVar[str] = "routing_key_env"
    one_source: ClassVar[str | None] = (
        "give the integration key through exactly one of conn_id (an Airflow connection) or "
        "routing_key_env (an environment variable) -- never in the YAML"
    )


def dedup_key(model: str, label: str) -> str:
    """The PagerDuty alert of one Watchkeeper alert key."""
    return f"watchkeeper/{model}/{label}"[:DEDUP_CHARS]


class PagerDutySink(Sink):
    """PagerDuty Events API v2."""

    kind = "pagerduty"
    config = PagerDutyConfig
    notification_kinds = frozenset({"alert", "recovered", "monitor_failed", "event"})

    def __init__(self, routing_key: str, *, url: str, source: str, timeout: float, floor: str, origin: str) -> None:
        self._key = routing_key
        self.url = url
        self.source = source
        self.timeout = timeout
        self.floor = floor
        self.origin = origin

    @classmethod
    def accepts(cls, config: SinkConfig, notice: Notice) -> bool:
        """Alerts with a new or escalated key at the floor; recoveries of keys that were at the floor."""
        if notice.kind not in cls.notification_kinds:
            return False
        if notice.kind == "monitor_failed":
            return True
        if notice.kind == "event":
            return severity_rank(notice.severity) >= severity_rank(config.min_severity)
        return bool(_events(notice, config.min_severity))

    @classmethod
    def from_config(cls, config: Any, *, model: str, default_channel: str | None) -> PagerDutySink:
        """The key from the connection (password; host overrides the URL) or the variable."""
        url = EVENTS_URL
        timeout = timeout_of({})
        if config.conn_id:
            conn = require_connection(
                config.conn_id, model, "alerts.sinks[pagerduty].conn_id", "password: the integration key"
            )
            key = str(conn.password or extra_of(conn).get("routing_key") or "").strip()
            if not key:
                from watchkeeper.exceptions import AlertDeliveryError

                raise AlertDeliveryError(
                    f"Airflow connection {config.conn_id!r} holds no PagerDuty integration key -- put the key of "
                    "the service's Events API v2 integration in its password"
                )
            if conn.host:
                host = str(conn.host).rstrip("/")
                url = host if "://" in host else f"https://{host}"
                url = url if url.endswith("/enqueue") else f"{url}/v2/enqueue"
            timeout = timeout_of(extra_of(conn))
            origin = f"Airflow connection {config.conn_id!r}"
        else:
            key = require_env(config.routing_key_env, model, "alerts.sinks[pagerduty].routing_key_env", "the key")
            url = os.environ.get("WATCHKEEPER_PAGERDUTY_URL") or url
            origin = f"${config.routing_key_env}"
        return cls(key, url=url, source=config.source, timeout=timeout, floor=config.min_severity, origin=origin)

    def secrets(self) -> list[str]:
        return [self._key]

    def events(self, notice: Notice, ctx: SendContext) -> list[dict[str, Any]]:
        """The Events API v2 bodies for the notice (without the routing key)."""
        links = [
            {"href": url, "text": text}
            for text, url in (
                ("Report", notice.report_url),
                ("Airflow run", notice.run_url),
                ("Task log", notice.log_url),
            )
            if url
        ]
        if notice.kind == "event":
            failure = notice.failure
            where = f"{failure.dag_id}/{failure.task}/{failure.run_id}" if failure else ctx.key
            return [
                {
                    "event_action": "trigger",
                    "dedup_key": dedup_key(notice.model, where),
                    "payload": {
                        "summary": (notice.title or f"{notice.model}: {notice.severity}")[:SUMMARY_CHARS],
                        "source": self.source,
                        "severity": _SEVERITY.get(notice.severity, "critical"),
                        "component": notice.model,
                        "group": notice.owner or None,
                        "class": "event",
                        "custom_details": {"text": notice.text, "error": failure.error if failure else None},
                    },
                    "links": links,
                }
            ]
        if notice.kind == "monitor_failed":
            failure = notice.failure
            where = f"{failure.dag_id}.{failure.task} (run {failure.run_id})" if failure else ""
            return [
                {
                    "event_action": "trigger",
                    "dedup_key": dedup_key(
                        notice.model, f"monitor_failed/{failure.dag_id}/{failure.run_id}" if failure else ctx.key
                    ),
                    "payload": {
                        "summary": f"Watchkeeper: monitoring of {notice.model} failed in {where}"[:SUMMARY_CHARS],
                        "source": self.source,
                        "severity": "error",
                        "component": notice.model,
                        "group": notice.owner or None,
                        "class": "monitor_failed",
                        "custom_details": {"error": failure.error if failure else "", "model": notice.model},
                    },
                    "links": links,
                }
            ]
        out: list[dict[str, Any]] = []
        for action, entry in _events(notice, self.floor):
            if action == "resolve":
                out.append({"event_action": "resolve", "dedup_key": dedup_key(notice.model, entry.label)})
                continue
            finding = entry.findings[0] if entry.findings else {}
            summary = (
                f"{notice.model}: {entry.severity.upper()} {entry.label} -- {numbers_line(finding)}"
                if finding
                else f"{notice.model}: {entry.severity.upper()} {entry.label}"
            )
            out.append(
                {
                    "event_action": "trigger",
                    "dedup_key": dedup_key(notice.model, entry.label),
                    "payload": {
                        "summary": summary[:SUMMARY_CHARS],
                        "source": self.source,
                        "severity": _SEVERITY.get(entry.severity, "critical"),
                        "component": notice.model,
                        "group": notice.owner or None,
                        "class": entry.check,
                        "custom_details": {
                            "model": notice.model,
                            "alert": entry.label,
                            "event": entry.tag,
                            "window": notice.window.as_dict() if notice.window else None,
                            "findings": entry.findings,
                            "title": title_of(notice),
                        },
                    },
                    "links": links,
                }
            )
        return out

    def send(self, notice: Notice, ctx: SendContext) -> Delivered:
        last = None
        for event in self.events(notice, ctx):
            body = json.dumps({"routing_key": self._key, **event, "client": "Watchkeeper"}, default=str).encode()
            answer = http.post_json(
                self.url,
                body,
                headers={},
                timeout=self.timeout,
                target=f"PagerDuty ({self.origin})",
                redact=self.redact,
            )
            if answer.status >= 400:
                detail = answer.json() or {}
                errors = "; ".join(str(e) for e in detail.get("errors", [])) if isinstance(detail, dict) else ""
                message = detail.get("message") if isinstance(detail, dict) else None
                reason = self.redact(errors or str(message or answer.body.strip()[:200]))
                fix = (
                    "the integration key is invalid or revoked: put a valid Events API v2 integration key in the "
                    if answer.status in {400, 401, 403, 404} and "key" in reason.lower()
                    else "PagerDuty refused the event: check the "
                )
                raise DeliveryFailure(
                    f"PagerDuty answered HTTP {answer.status} ({reason}) for model {ctx.model} -- {fix}{self.origin}; "
                    "the notification stays in the outbox and is reported until it is sent or expires",
                    kind="refused",
                    stop=True,
                )
            data = answer.json()
            last = data.get("dedup_key") if isinstance(data, dict) else None
        return Delivered(ts=last, channel=None)


def _events(notice: Notice, floor: str) -> list[tuple[str, AlertEntry]]:
    """(action, entry) for the entries PagerDuty should hear about."""
    out: list[tuple[str, AlertEntry]] = []
    for entry in notice.alerts:
        if entry.tag in {"new", "escalated"} and severity_rank(entry.severity) >= severity_rank(floor):
            out.append(("trigger", entry))
        elif entry.tag == "resolved":  # whatever its severity was: PagerDuty ignores a resolve it has no alert for
            out.append(("resolve", entry))
    return out
