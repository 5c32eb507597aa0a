"""What every route of the app shares: the metric store, the config folder, access checks, model lookup."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from watchkeeper.ui.access import Access
from watchkeeper.ui.configs import BrokenConfig, ConfigFolder

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig
    from watchkeeper.report.run_report import CurrentCounts, WindowData
    from watchkeeper.store import MetricStore

log = logging.getLogger(__name__)


class BadRequestError(ValueError):
    """A query parameter the API cannot use (answered 400)."""


class ForbiddenError(PermissionError):
    """The viewer may not read this model, or may not list models (answered 403)."""


class StoreHolder:
    """The metric store, created on first use and migrated once."""

    def __init__(self, store: MetricStore | None) -> None:
        self._store = store
        self._ready = False
        self._lock = threading.Lock()

    def get(self) -> MetricStore:
        """The store, migrated (raises StoreError when it cannot be reached)."""
        with self._lock:
            if self._store is None:
                from watchkeeper.store import MetricStore

                self._store = MetricStore()
            if not self._ready:
                self._store.migrate()
                self._ready = True
            return self._store


@dataclass
class Known:
    """The models one viewer may see, their configs and the broken config files they may see."""

    models: list[str]
    configs: dict[str, LoadedConfig]
    broken: list[BrokenConfig] = field(default_factory=list)


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO date or datetime query parameter (UTC when naive); None when empty."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequestError(
            f"{name}={value!r} is not an ISO date or datetime, e.g. 2026-10-28T00:00:00+00:00"
        ) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class UIContext:
    """Shared state of one app: store, configs and a small cache of current distribution counts."""

    def __init__(self, store: MetricStore | None, config_dir: Path | None) -> None:
        self.stores = StoreHolder(store)
        self.configs = ConfigFolder(config_dir)
        self._lock = threading.Lock()

    @property
    def store(self) -> MetricStore:
        """The migrated metric store."""
        return self.stores.get()

    def warm_up(self) -> None:
        """Pay the one-off costs before the first request: imports, the store's migration check, configs."""
        import watchkeeper.drift.registry  # noqa: F401 -- the overview's key metrics need its names
        import watchkeeper.report.run_report  # noqa: F401

        self.configs.load()
        try:
            self.store.models()
        except Exception as exc:  # the store may come up later: the first request will try again
            log.warning("metric store not reachable while warming up: %s", exc)

    # -- access --------------------------------------------------------------------------------

    @staticmethod
    def require_listing(access: Access) -> None:
        """Raise :class:`ForbiddenError` unless the viewer may list models."""
        if not access.may_list():
            raise ForbiddenError(f"{access.who} may not list models{_hint(access)}")

    @staticmethod
    def require(access: Access, model: str) -> None:
        """Raise :class:`ForbiddenError` unless the viewer may read ``model``."""
        if model not in access.readable({model}):
            raise ForbiddenError(f"{access.who} may not read model {model!r}{_hint(access)}")

    def known(self, access: Access) -> Known:
        """Configured and stored models the viewer may read (sorted), all configs, and broken files they may see."""
        good, broken = self.configs.load()
        stored = self.store.models()
        candidates: set[str] = set(good) | set(stored) | {b.model_guess for b in broken}
        visible = access.readable(candidates)
        models = sorted((set(good) | set(stored)) & visible)
        return Known(models, good, [b for b in broken if b.model_guess in visible])

    def resolve(self, model: str) -> tuple[LoadedConfig | None] | None:
        """``(config,)`` when the model exists (config None for a model only in the store); None otherwise."""
        from watchkeeper.ui import queries

        good, _ = self.configs.load()
        if model in good:
            return (good[model],)
        if queries.model_exists(self.store, model):
            return (None,)
        return None

    def current_for(self, config: LoadedConfig | None, data: WindowData) -> CurrentCounts | None:
        """Current distribution counts of the window's features, from its stored window profile (never raw data)."""
        from watchkeeper.report.run_report import stored_counts

        if data.window is None or not data.baseline:
            return None
        return stored_counts(self.store, data.model, data.window)


def _hint(access: Access) -> str:
    return f" -- {access.hint}" if access.hint else ""
