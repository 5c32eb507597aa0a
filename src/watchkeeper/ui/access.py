"""Who may see what: the pages and the API answer only for the models the viewer may read.

The app itself knows nothing about Airflow. Whoever mounts it puts an :class:`Access` into the ASGI
scope under :data:`ACCESS_SCOPE_KEY` for each request -- the Airflow plugin puts one that asks
Airflow's auth manager whether the user may read the model's DAGs (``monitor__<model>``,
``performance__<model>``). Without one (the app served on its own, e.g. with uvicorn behind your own
proxy) every model is visible.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Protocol

#: ASGI scope key under which the mounting layer passes the request's :class:`Access`.
ACCESS_SCOPE_KEY = "watchkeeper.access"


class Access(Protocol):
    """What one request may see."""

    #: Who is asking, for log lines and 403 texts (never a secret).
    who: str
    #: How to get access, appended to a 403 text (e.g. which DAGs to be granted).
    hint: str

    def may_list(self) -> bool:
        """Whether the viewer may list models at all (Airflow: may read DAGs)."""

    def readable(self, models: Collection[str]) -> set[str]:
        """The subset of ``models`` the viewer may read."""


class AllowAll:
    """Every model is visible: the app is not mounted behind an access layer."""

    who = "anyone"
    hint = ""

    def may_list(self) -> bool:
        """Always."""
        return True

    def readable(self, models: Collection[str]) -> set[str]:
        """Every model."""
        return set(models)


class OnlyModels:
    """A fixed set of models (``None``: all of them) -- e.g. the metrics scraper's token."""

    def __init__(self, models: Collection[str] | None, who: str) -> None:
        self._models = None if models is None else frozenset(models)
        self.who = who
        self.hint = ""

    def may_list(self) -> bool:
        """Always: the token was accepted."""
        return True

    def readable(self, models: Collection[str]) -> set[str]:
        """The models of the token."""
        return set(models) if self._models is None else set(models) & self._models


def access_of(scope: Mapping[str, Any]) -> Access:
    """The access of the request whose ASGI scope is ``scope`` (everything when none was set)."""
    found = scope.get(ACCESS_SCOPE_KEY)
    return found if found is not None else AllowAll()
