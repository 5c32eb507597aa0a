"""What every alert sink is: a config model, a class that renders and sends, and one registry.

A sink is **one class in one file** of this package: a subclass of :class:`Sink` with a ``kind``, its YAML
fields as a :class:`SinkConfig` subclass in ``config``, how it finds its credentials (``from_config``:
Airflow connections or environment variables, never YAML), what it accepts (``accepts``: its severity
floor and the kinds of notification it has something to say about) and how it renders and sends a
:class:`~watchkeeper.alerting.notice.Notice` (``send``). Defining the class registers it: the package
imports every module it holds, and the config schema (``alerts.sinks``) is built from the registry.

Parse-time light: this module and the sink modules import pydantic and the standard library only at
module level (service clients load inside ``send``), and never ``watchkeeper.config`` (which imports them).
"""

from __future__ import annotations

import logging
import os
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from watchkeeper.alerting.notice import severity_rank
from watchkeeper.exceptions import AlertDeliveryError, UnknownNameError

if TYPE_CHECKING:
    from watchkeeper.alerting.notice import Notice

log = logging.getLogger(__name__)

#: Registered sinks by kind (filled by :meth:`Sink.__init_subclass__`).
REGISTRY: dict[str, type[Sink]] = {}
DEFAULT_TIMEOUT_S = 10.0


class SinkConfig(BaseModel):
    """Fields every sink has in ``alerts.sinks``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(description="Which sink (slack, slack_webhook, email, pagerduty, teams, webhook, log).")
    name: str | None = Field(
        default=None,
        description="Names the sink in the outbox, logs and errors (default: its kind and target, e.g. "
        "'pagerduty:pagerduty_fraud'). Set it when two sinks of a model would get the same name.",
        min_length=1,
        max_length=120,
    )
    min_severity: Literal["warning", "critical"] = Field(
        default="warning", description="Lowest severity this sink hears about (its own floor)."
    )

    def target(self) -> str:
        """What distinguishes two sinks of the same kind (a channel, a connection...); '' when nothing."""
        return ""

    @property
    def key(self) -> str:
        """The sink's name in the outbox: ``name``, else ``kind`` or ``kind:target``."""
        if self.name:
            return self.name
        target = self.target()
        return f"{self.kind}:{target}" if target else self.kind

    def connection_ids(self) -> list[tuple[str, str]]:
        """(field, Airflow connection id) pairs that must exist, checked by ``watchkeeper validate``."""
        return []

    def env_vars(self) -> list[tuple[str, str]]:
        """(field, environment variable) pairs that must be set where tasks run (reported, not required)."""
        return []


class ConnectionOrEnvConfig(SinkConfig):
    """A sink whose secret (URL, key) comes from an Airflow connection (``conn_id``) or an environment variable.

    The variable's field is named by :attr:`env_field` (``url_env``, ``routing_key_env``...); subclasses
    declare it and ``conn_id`` with their own descriptions. With :attr:`one_source` set, exactly one of the
    two must be given (that message otherwise).
    """

    #: The YAML field naming the environment variable.
    env_field: ClassVar[str] = "url_env"
    #: The error when not exactly one of ``conn_id`` and the variable is given; None: both are optional.
    one_source: ClassVar[str | None] = None

    conn_id: str | None = Field(default=None, description="Airflow connection holding the secret.")

    @property
    def env_var(self) -> str | None:
        """The environment variable named in the YAML, if any."""
        value = getattr(self, self.env_field, None)
        return str(value) if value else None

    @model_validator(mode="after")
    def _one_source(self) -> ConnectionOrEnvConfig:
        if self.one_source is not None and bool(self.conn_id) == bool(self.env_var):
            raise ValueError(self.one_source)
        return self

    def target(self) -> str:
        """The connection or variable."""
        return self.conn_id or self.env_var or ""

    def connection_ids(self) -> list[tuple[str, str]]:
        """The connection named in the YAML."""
        return [("conn_id", self.conn_id)] if self.conn_id else []

    def env_vars(self) -> list[tuple[str, str]]:
        """The variable named in the YAML."""
        return [(self.env_field, self.env_var)] if self.env_var else []


@dataclass(frozen=True)
class SendContext:
    """Where one notification goes: its idempotency key, its routed channel and its thread (if any)."""

    key: str
    model: str
    #: Routed channel (Slack), None for sinks without channels.
    channel: str | None = None
    #: What the sink answered for the thread's parent (Slack ts, e-mail Message-ID), when it was delivered.
    thread: str | None = None
    #: The channel the parent landed in (Slack replies go there).
    thread_channel: str | None = None
    #: Idempotency key of the notification this one replies to.
    parent: str | None = None


@dataclass(frozen=True)
class Delivered:
    """Where a message landed: the id replies thread under (Slack ts, Message-ID) and the channel, when known."""

    ts: str | None
    channel: str | None


class DeliveryFailure(Exception):  # noqa: N818 -- internal signal, turned into AlertDeliveryError by dispatch
    """A send that did not work. ``stop``: later messages to this sink would fail the same way (outage, bad key)."""

    def __init__(self, message: str, *, kind: str, stop: bool) -> None:
        self.kind = kind
        self.stop = stop
        super().__init__(message)


class Sink(ABC):
    """A destination for notifications (see the module docstring)."""

    #: Registry name and the ``kind`` of its YAML entry.
    kind: ClassVar[str]
    #: Its YAML fields.
    config: ClassVar[type[SinkConfig]]
    #: Whether replies can go into the thread of an earlier message (``SendContext.thread``).
    threads: ClassVar[bool] = False
    #: Notification kinds it has something to say about (others are not queued for it).
    notification_kinds: ClassVar[frozenset[str]] = frozenset(
        {"alert", "reminder", "recovered", "monitor_failed", "event"}
    )
    #: Where the credentials come from, for error messages (never the secret itself).
    source: str = ""
    #: The sink's key (``SinkConfig.key``), set by :meth:`build`.
    key: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            if cls.kind in REGISTRY and REGISTRY[cls.kind] is not cls:
                raise ValueError(f"two alert sinks are registered as {cls.kind!r}: {REGISTRY[cls.kind]} and {cls}")
            REGISTRY[cls.kind] = cls

    # -- configuration ---------------------------------------------------------------------------

    @classmethod
    def accepts(cls, config: SinkConfig, notice: Notice) -> bool:
        """Whether this sink gets the notice: a kind it handles, at or above its floor."""
        return notice.kind in cls.notification_kinds and severity_rank(notice.severity) >= severity_rank(
            config.min_severity
        )

    @classmethod
    @abstractmethod
    def from_config(cls, config: Any, *, model: str, default_channel: str | None) -> Sink:
        """The sink with its credentials looked up (raise :class:`AlertDeliveryError` saying what to fix)."""

    @classmethod
    def build(cls, config: SinkConfig, *, model: str, default_channel: str | None = None) -> Sink:
        """:meth:`from_config`, remembering the sink's key."""
        sink = cls.from_config(config, model=model, default_channel=default_channel)
        sink.key = config.key
        return sink

    # -- sending ----------------------------------------------------------------------------------

    @abstractmethod
    def send(self, notice: Notice, ctx: SendContext) -> Delivered:
        """Render the notice in this sink's format and deliver it, or raise :class:`DeliveryFailure`."""

    def secrets(self) -> list[str]:
        """Strings that must never appear in logs, errors or files."""
        return []

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self.secrets():
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"


def sink_class(kind: str) -> type[Sink]:
    """The sink registered as ``kind``; an unknown kind lists the available ones (and the closest)."""
    try:
        return REGISTRY[kind]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(kind, list(REGISTRY), n=1)
        hint = f" -- did you mean {close[0]!r}?" if close else ""
        raise UnknownNameError(
            f"No alert sink named {kind!r}. Available sinks: {', '.join(sorted(REGISTRY))}{hint}"
        ) from None


# --------------------------------------------------------------------------- credentials


def connection(conn_id: str) -> Any | None:
    """The Airflow connection ``conn_id``, or None (not defined, or no Airflow in this process).

    Only looked up at send time: inside a task (Airflow already imported) or when an ``AIRFLOW_CONN_<ID>``
    variable defines it; a plain CLI or test process never imports Airflow here.
    """
    if "airflow.sdk" not in sys.modules and f"AIRFLOW_CONN_{conn_id.upper()}" not in os.environ:
        return None
    try:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException, or no metadata DB outside a task
        log.debug("Airflow connection %s not available: %s", conn_id, type(exc).__name__)
        return None


def extra_of(conn: Any) -> dict[str, Any]:
    """The connection's extra as a dict (a malformed extra must not leak its text)."""
    try:
        extra = conn.extra_dejson
    except Exception:
        return {}
    return extra if isinstance(extra, dict) else {}


def timeout_of(extra: dict[str, Any], env: str | None = None) -> float:
    """The ``timeout`` extra (seconds), else ``$env``, else :data:`DEFAULT_TIMEOUT_S`."""
    value = extra.get("timeout") or (os.environ.get(env) if env else None)
    try:
        return float(value) if value else DEFAULT_TIMEOUT_S
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT_S


def require_connection(conn_id: str, model: str, field: str, what: str) -> Any:
    """The connection, or :class:`AlertDeliveryError` naming the YAML field and what to put in it."""
    conn = connection(conn_id)
    if conn is None:
        raise AlertDeliveryError(
            f"model {model}: {field} is {conn_id!r} but no such Airflow connection is defined -- create it "
            f"({what}), e.g. with the environment variable AIRFLOW_CONN_{conn_id.upper()}"
        )
    return conn


def require_env(var: str, model: str, field: str, what: str) -> str:
    """The environment variable's value, or :class:`AlertDeliveryError` naming it."""
    value = os.environ.get(var, "").strip()
    if not value:
        raise AlertDeliveryError(
            f"model {model}: {field} names the environment variable {var}, which is not set where the task "
            f"runs -- set it to {what}"
        )
    return value
