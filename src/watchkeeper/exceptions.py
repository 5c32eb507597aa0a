"""The one exception hierarchy of Watchkeeper.

Every error raised on purpose by Watchkeeper derives from :class:`WatchkeeperError` and from the
builtin it resembles, so callers may catch either. Messages name the file, field or value at fault
and say how to fix it.
"""

from __future__ import annotations


class WatchkeeperError(Exception):
    """Base class of every error Watchkeeper raises on purpose."""


class ConfigError(WatchkeeperError, ValueError):
    """A model config (YAML) is invalid: unknown keys, wrong types, missing files or columns.

    ``problems`` lists every problem found, each formatted as ``file: field: what -- how to fix``.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems if problems is not None else [message]
        super().__init__(message)


class UnknownNameError(WatchkeeperError, KeyError):
    """A name looked up in a registry (drift test, source kind, sink...) does not exist."""

    def __str__(self) -> str:  # KeyError would repr() the message; show it as written
        return str(self.args[0]) if self.args else ""


class SourceError(WatchkeeperError, OSError):
    """A data source cannot be read: missing file, bad glob, failing SQL query or connection."""


class DataError(WatchkeeperError, ValueError):
    """Data read from a source does not fit the config (missing columns, unusable types)."""


class StoreError(WatchkeeperError, RuntimeError):
    """The metric store cannot be reached or written. Credentials are masked in the message."""


class BaselineError(WatchkeeperError, RuntimeError):
    """No usable baseline exists for a model, or it cannot be built from the reference data."""


class ExpectationSuiteError(WatchkeeperError, ValueError):
    """A Great Expectations suite file is missing, is not valid JSON, or does not parse as a suite."""


class AlertDeliveryError(WatchkeeperError, RuntimeError):
    """An alert could not be delivered: Slack rejected the token or the channel, or did not answer.

    The notification stays in the outbox and is retried by the next dispatch; the message says which
    Airflow connection, environment variable or YAML field to fix. It never contains the token.
    ``summary`` is the dispatch summary when raised by :func:`watchkeeper.alerting.dispatch`.
    """

    def __init__(self, message: str, summary: dict[str, object] | None = None) -> None:
        self.summary = summary or {}
        super().__init__(message)
