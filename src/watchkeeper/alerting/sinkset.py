"""The sinks of one model: which take a notification (decided when it is queued, pure) and the live sink of
each key (credentials looked up when sending, never while Airflow parses DAGs)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from watchkeeper.alerting.routing import route
from watchkeeper.alerting.sinks import sink_class
from watchkeeper.alerting.sinks.default import DEFAULT_KEY, resolve_default_sink
from watchkeeper.exceptions import AlertDeliveryError

if TYPE_CHECKING:
    from watchkeeper.alerting.notice import Notice
    from watchkeeper.alerting.sinks import Sink, SinkConfig
    from watchkeeper.config import AlertSettings

log = logging.getLogger(__name__)


class SinkRemovedError(LookupError):
    """A delivery's sink is no longer in the model's ``alerts.sinks``."""


class SinkSet:
    """``alerts.sinks`` of a model (or the default sink when it has none)."""

    def __init__(self, settings: AlertSettings, model: str) -> None:
        self.settings = settings
        self.model = model
        configured = settings.sinks
        self.configs: dict[str, SinkConfig] | None = (
            None if configured is None else {config.key: config for config in configured}
        )
        self._live: dict[str, Sink | AlertDeliveryError] = {}

    @property
    def keys(self) -> list[str]:
        """The configured sink keys (``default`` without ``alerts.sinks``)."""
        return [DEFAULT_KEY] if self.configs is None else list(self.configs)

    def targets(self, notice: Notice) -> list[str]:
        """Keys of the sinks that take ``notice``: each sink's kinds and severity floor. Pure: no lookups."""
        if self.configs is None:
            return [DEFAULT_KEY]
        return [key for key, config in self.configs.items() if sink_class(config.kind).accepts(config, notice)]

    def channel_for(self, notice: Notice) -> str | None:
        """The routed Slack channel of a top-level message (``alerts.severity_channels``, ``alerts.channel``...)."""
        return route(self.settings, notice.severity)

    def get(self, key: str) -> Sink:
        """The sink of ``key`` with its credentials; :class:`AlertDeliveryError` saying what to fix, or
        :class:`SinkRemovedError` when the YAML no longer has it. Looked up once per dispatch."""
        if key not in self._live:
            try:
                self._live[key] = self._build(key)
            except AlertDeliveryError as exc:
                self._live[key] = exc
        found = self._live[key]
        if isinstance(found, AlertDeliveryError):
            raise found
        return found

    def _build(self, key: str) -> Sink:
        if key == DEFAULT_KEY:
            # also when alerts.sinks was added later: what was queued for the default sink is still delivered
            return resolve_default_sink(self.settings, self.model)
        if self.configs is None or key not in self.configs:
            raise SinkRemovedError(key)
        config = self.configs[key]
        return sink_class(config.kind).build(config, model=self.model, default_channel=self.settings.channel)

    def describe(self) -> dict[str, str]:
        """Each configured key and what it resolves to now (the sink's kind, or the error)."""
        out: dict[str, str] = {}
        for key in self.keys:
            try:
                out[key] = self.get(key).kind
            except (AlertDeliveryError, SinkRemovedError) as exc:
                out[key] = f"error: {exc}"
        return out
