"""E-mail through Airflow's SMTP connection: an HTML body with the findings table and links, and a plain-text part.

The connection (``conn_id``, default ``smtp_default``) is read as Airflow's SMTP provider reads it: host,
port, login, password, and the extras ``from_email``, ``disable_ssl`` (SSL is on unless disabled),
``disable_tls`` (STARTTLS is on unless disabled) and ``timeout``. Replies (reminders, recoveries) carry
``In-Reply-To``/``References`` to the first message, so mail clients thread them. Everything from the
data is HTML-escaped in the HTML part, and header values are single lines.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from watchkeeper.alerting.messages import fmt, numbers_line, render_slack, sort_entries
from watchkeeper.alerting.sinks.base import (
    Delivered,
    DeliveryFailure,
    SendContext,
    Sink,
    SinkConfig,
    extra_of,
    require_connection,
    timeout_of,
)
from watchkeeper.exceptions import AlertDeliveryError

if TYPE_CHECKING:
    from email.message import EmailMessage

    from watchkeeper.alerting.notice import AlertEntry, Notice

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "smtp_default"
#: A deliberately plain address check: one @, no spaces or angle brackets, a dot in the domain.
_ADDRESS_RE = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")
_COLORS = {"critical": "#c0392b", "error": "#c0392b", "warning": "#b9770e", "ok": "#1e8449"}
#: SMTP reply codes that will not get better by retrying (authentication, rejected sender or recipients).
_PERMANENT = range(500, 600)


def _check_address(value: str) -> str:
    if not _ADDRESS_RE.match(value.strip()):
        raise ValueError(f"{value!r} is not an e-mail address -- write it as name@example.com")
    return value.strip()


class EmailConfig(SinkConfig):
    """E-mail through an Airflow SMTP connection."""

    kind: Literal["email"] = Field(default="email", description="Which sink: email.")
    to: list[str] = Field(min_length=1, description="Recipients, e.g. ['ml-team@example.com'].")
    cc: list[str] = Field(default_factory=list, description="Copy recipients.")
    conn_id: str = Field(
        default=DEFAULT_CONN_ID,
        description="Airflow SMTP connection: host, port, login, password; extras from_email, disable_ssl, "
        "disable_tls, timeout.",
    )
    sender: str | None = Field(
        default=None, description="From address (default: the connection's from_email extra, else its login)."
    )
    subject_prefix: str = Field(default="[Watchkeeper]", description="Put before every subject.", max_length=60)

    @field_validator("to", "cc")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [_check_address(v) for v in value]

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        return None if value is None else _check_address(value)

    def target(self) -> str:
        """The recipients."""
        return ",".join(self.to)

    def connection_ids(self) -> list[tuple[str, str]]:
        """The SMTP connection."""
        return [("conn_id", self.conn_id)]


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def message_id(key: str) -> str:
    """A stable Message-ID per notification (its idempotency key), so replies can refer to it."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@watchkeeper>"


def _cell(value: object) -> str:
    return f'<td style="padding:4px 8px;border-bottom:1px solid #ddd">{html.escape(str(value))}</td>'


def _entry_rows(entry: AlertEntry) -> list[str]:
    color = _COLORS.get(entry.severity, "#333")
    rows = []
    for finding in entry.findings or [{}]:
        metric = str(finding.get("metric", ""))
        rows.append(
            "<tr>"
            + f'<td style="padding:4px 8px;border-bottom:1px solid #ddd;color:{color}">'
            + f"<b>{html.escape(entry.severity.upper())}</b></td>"
            + _cell(entry.tag)
            + _cell(entry.check)
            + _cell(entry.subject or "model-wide")
            + _cell(metric)
            + _cell(fmt(finding.get("value"), metric))
            + _cell(fmt(finding.get("baseline"), metric))
            + _cell(fmt(finding.get("threshold"), metric))
            + _cell(numbers_line(finding).rsplit("change ", 1)[-1] if finding else "")
            + _cell(finding.get("message") or "")
            + "</tr>"
        )
    return rows


def render_html(notice: Notice, title: str, plain: str) -> str:
    """The HTML part: title, window, the findings table, links, owner (every data value escaped)."""
    parts = [f'<h2 style="font-family:sans-serif">{html.escape(title)}</h2>']
    if notice.window is not None:
        start, end = notice.window.start.isoformat(), notice.window.end.isoformat()
        parts.append(f"<p>Window {html.escape(start)} → {html.escape(end)}</p>")
    if notice.alerts:
        head = "".join(
            f'<th style="text-align:left;padding:4px 8px">{h}</th>'
            for h in (
                "severity",
                "event",
                "check",
                "subject",
                "metric",
                "value",
                "baseline",
                "threshold",
                "change",
                "message",
            )
        )
        body = "".join(row for entry in sort_entries(list(notice.alerts)) for row in _entry_rows(entry))
        style = "border-collapse:collapse;font-family:sans-serif;font-size:13px"
        parts.append(f'<table style="{style}"><tr>{head}</tr>{body}</table>')
    elif notice.failure is not None:
        failure = notice.failure
        parts.append(
            "<p>The checks of this run did not complete: <b>no alert does not mean healthy</b>.</p>"
            f"<p>DAG <code>{html.escape(failure.dag_id)}</code>, task <code>{html.escape(failure.task)}</code>,"
            f" run <code>{html.escape(failure.run_id)}</code></p>"
            f"<pre>{html.escape(failure.error)}</pre>"
        )
    else:
        parts.append(f"<pre>{html.escape(plain)}</pre>")
    links = [
        f'<a href="{html.escape(url, quote=True)}">{label}</a>'
        for label, url in (("Airflow run", notice.run_url), ("Report", notice.report_url), ("Task log", notice.log_url))
        if url
    ]
    if links:
        parts.append("<p>" + " · ".join(links) + "</p>")
    if notice.owner:
        parts.append(f"<p>Owner: {html.escape(notice.owner)}</p>")
    return "<html><body>" + "".join(parts) + "</body></html>"


class EmailSink(Sink):
    """E-mail through an SMTP server (an Airflow SMTP connection)."""

    kind = "email"
    config = EmailConfig
    threads = True

    def __init__(
        self,
        *,
        host: str,
        port: int,
        login: str | None,
        password: str | None,
        sender: str,
        to: list[str],
        cc: list[str],
        use_ssl: bool,
        starttls: bool,
        timeout: float,
        source: str,
        subject_prefix: str = "[Watchkeeper]",
    ) -> None:
        self.host, self.port, self._login, self._password = host, port, login, password
        self.sender, self.to, self.cc = sender, to, cc
        self.use_ssl, self.starttls, self.timeout = use_ssl, starttls, timeout
        self.source = source
        self.subject_prefix = subject_prefix

    @classmethod
    def from_config(cls, config: Any, *, model: str, default_channel: str | None) -> EmailSink:
        """Server and credentials from the Airflow SMTP connection."""
        conn = require_connection(
            config.conn_id, model, "alerts.sinks[email].conn_id", "an SMTP connection: host, port, login, password"
        )
        extra = extra_of(conn)
        if not conn.host:
            raise AlertDeliveryError(
                f"Airflow connection {config.conn_id!r} has no host -- set the SMTP server's host and port"
            )
        sender = config.sender or extra.get("from_email") or conn.login
        if not sender:
            raise AlertDeliveryError(
                f"no sender for the e-mail sink of model {model} -- set sender in the YAML or the from_email extra "
                f"of the Airflow connection {config.conn_id!r}"
            )
        use_ssl = not bool(extra.get("disable_ssl", False))
        return cls(
            host=str(conn.host),
            port=int(conn.port or (465 if use_ssl else 25)),
            login=conn.login or None,
            password=conn.password or None,
            sender=str(sender),
            to=list(config.to),
            cc=list(config.cc),
            use_ssl=use_ssl,
            starttls=not use_ssl and not bool(extra.get("disable_tls", False)),
            timeout=timeout_of(extra),
            source=f"Airflow connection {config.conn_id!r}",
            subject_prefix=config.subject_prefix,
        )

    def secrets(self) -> list[str]:
        return [self._password] if self._password else []

    def build_message(self, notice: Notice, ctx: SendContext) -> EmailMessage:
        """The e-mail: a plain-text part and an HTML part, threaded under the parent's Message-ID."""
        from email.message import EmailMessage
        from email.utils import formataddr, formatdate

        rendered = render_slack(notice)
        message = EmailMessage()
        subject = _one_line(f"{self.subject_prefix} {rendered.title}".strip())
        message["Subject"] = f"Re: {subject}" if ctx.thread else subject
        message["From"] = formataddr(("Watchkeeper", self.sender))
        message["To"] = ", ".join(self.to)
        if self.cc:
            message["Cc"] = ", ".join(self.cc)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = message_id(ctx.key)
        if ctx.thread:
            message["In-Reply-To"] = ctx.thread
            message["References"] = ctx.thread
        message["X-Watchkeeper-Model"] = _one_line(notice.model, 100)
        message["X-Watchkeeper-Kind"] = notice.kind
        message.set_content(rendered.plain)
        message.add_alternative(render_html(notice, rendered.title, rendered.plain), subtype="html")
        return message

    def send(self, notice: Notice, ctx: SendContext) -> Delivered:
        import smtplib

        message = self.build_message(notice, ctx)
        where = f"the SMTP server {self.host}:{self.port} of the {self.source}"
        try:
            client: smtplib.SMTP
            if self.use_ssl:
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout)
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.starttls:
                    client.starttls()
                if self._login and self._password:
                    client.login(self._login, self._password)
                refused = client.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailure(
                f"{where} rejected the login ({exc.smtp_code}) -- fix the login and password of the {self.source}; "
                "the notification stays in the outbox",
                kind="auth",
                stop=True,
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailure(
                f"{where} refused every recipient ({', '.join(sorted(exc.recipients))}) -- fix alerts.sinks[email].to "
                "in the model's YAML; the notification stays in the outbox",
                kind="refused",
                stop=False,
            ) from None
        except smtplib.SMTPResponseException as exc:
            permanent = exc.smtp_code in _PERMANENT
            raise DeliveryFailure(
                self.redact(f"{where} answered {exc.smtp_code} ({_one_line(str(exc.smtp_error), 200)})")
                + (" -- fix the sender, the recipients or the connection" if permanent else " -- tried again later"),
                kind="refused" if permanent else "transport",
                stop=True,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailure(
                self.redact(f"cannot reach {where} ({type(exc).__name__}: {exc})")
                + " -- the mail server or the network is down; the notification stays in the outbox for the next run",
                kind="transport",
                stop=True,
            ) from None
        if refused:
            # Some recipients were refused: the others have it; sending again would duplicate it for them.
            log.error("model=%s: e-mail %s refused for %s", ctx.model, ctx.key, ", ".join(sorted(refused)))
        return Delivered(ts=message["Message-ID"], channel=None)
