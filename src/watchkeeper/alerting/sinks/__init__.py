"""Alert sinks: where a notification goes. One class per sink, one file per sink, one registry.

Every module of this package is imported here, and defining a :class:`~watchkeeper.alerting.sinks.base.Sink`
subclass with a ``kind`` registers it: adding a sink is adding one file (plus its tests). The YAML schema of
``alerts.sinks`` is the union of the registered sinks' ``config`` models (:func:`config_models`).

Registered: ``slack`` (bot token, threads), ``slack_webhook``, ``email`` (SMTP connection), ``pagerduty``
(Events API v2), ``teams`` (Adaptive Card), ``webhook`` (generic JSON, HMAC-signed) and ``log``. A model
without ``alerts.sinks`` uses the ``default`` sink (:mod:`.default`: Slack or the log, from the
environment, as before).
"""

from __future__ import annotations

import importlib
import pkgutil

from watchkeeper.alerting.sinks.base import (
    REGISTRY,
    Delivered,
    DeliveryFailure,
    SendContext,
    Sink,
    SinkConfig,
    sink_class,
)

_NOT_SINKS = frozenset({"base", "http", "default", "select"})
for _info in pkgutil.iter_modules(__path__):
    if _info.name not in _NOT_SINKS:
        importlib.import_module(f"{__name__}.{_info.name}")


def config_models() -> tuple[type[SinkConfig], ...]:
    """The YAML models of every registered sink, by kind."""
    return tuple(REGISTRY[kind].config for kind in sorted(REGISTRY))


def kinds() -> list[str]:
    """Registered sink kinds."""
    return sorted(REGISTRY)


__all__ = [
    "REGISTRY",
    "Delivered",
    "DeliveryFailure",
    "SendContext",
    "Sink",
    "SinkConfig",
    "config_models",
    "kinds",
    "sink_class",
]
