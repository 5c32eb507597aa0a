"""Helpers every part of the metric store shares: JSON conversion, row copying, window filters, the
transaction protocol the repositories rely on."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from sqlalchemy import ColumnElement, text

from watchkeeper.results import Window
from watchkeeper.store.schema import Alert, Metric, Run, WindowProfileRecord

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")


class StoreBase:
    """What the repository mixins need from :class:`~watchkeeper.store.store.MetricStore`."""

    def _transact(self, action: str, work: Callable[[Session], T], *, write: bool = True) -> T:
        raise NotImplementedError


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: NaN/inf become None, numpy values and arrays become Python ones.

    Dates become ISO strings, enums their value, sets and tuples lists, mapping keys strings; anything
    else unknown is stored as its ``str()``.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, pandas series
    if callable(tolist):
        return to_jsonable(tolist())
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, numbers.Real):  # Decimal, Fraction
        return to_jsonable(float(value))
    return str(value)


def _dumps(value: Any) -> str:
    """JSON serializer of the engine: strict JSON (PostgreSQL rejects NaN), sanitized only when needed."""
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(to_jsonable(value), allow_nan=False)


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _now() -> datetime:
    return datetime.now(UTC)


def _copy_row(cls: type[T], orm: Any, **overrides: Any) -> T:
    """A frozen row dataclass from an ORM object with the same attribute names (JSON values copied)."""
    values: dict[str, Any] = dict(overrides)
    for field_ in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field_.name in values:
            continue
        value = getattr(orm, field_.name)
        if isinstance(value, list):
            value = list(value)
        elif isinstance(value, dict):
            value = dict(value)
        values[field_.name] = value
    return cls(**values)


_WindowTable: TypeAlias = type[Run] | type[Metric] | type[Alert] | type[WindowProfileRecord]


def _in_window(table: _WindowTable, model: str, window: Window) -> list[ColumnElement[bool]]:
    return [table.model == model, table.window_start == window.start, table.window_end == window.end]


def _time_filter(
    table: _WindowTable, start: datetime | None, end: datetime | None, window: Window | None
) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if start is not None:
        clauses.append(table.window_start >= start)
    if end is not None:
        clauses.append(table.window_start < end)
    if window is not None:
        clauses += [table.window_start == window.start, table.window_end == window.end]
    return clauses


def _serialize(session: Session, *key: object) -> None:
    """Make concurrent writers of the same key wait for each other until commit.

    SQLite writers already take the database lock at BEGIN IMMEDIATE. On PostgreSQL, two writers
    replacing the same window would both delete the old rows and then collide on insert; a
    transaction-scoped advisory lock on a hash of the key queues them instead.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int.from_bytes(digest, "big", signed=True)})
