"""Result types shared by every check: a window, a status, one result row."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Outcome of one check result. Ordered by severity through :attr:`rank`."""

    OK = "ok"
    SKIPPED = "skipped"
    WARNING = "warning"
    CRITICAL = "critical"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """Severity rank: higher is worse. ``error`` (the check itself failed) ranks highest."""
        return _RANK[self]

    @property
    def is_finding(self) -> bool:
        """True when the result should be reported to people (warning, critical or error)."""
        return self.rank >= _RANK[Status.WARNING]


_RANK = {Status.OK: 0, Status.SKIPPED: 1, Status.WARNING: 2, Status.CRITICAL: 3, Status.ERROR: 4}


def worst(statuses: list[Status]) -> Status:
    """The most severe status of ``statuses`` (``ok`` for an empty list)."""
    return max(statuses, key=lambda s: s.rank, default=Status.OK)


@dataclass(frozen=True)
class Window:
    """A half-open time window ``[start, end)`` of the prediction log, in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None:
                raise ValueError(f"window {name} {value.isoformat()} has no time zone -- pass an aware datetime (UTC)")
            object.__setattr__(self, name, value.astimezone(UTC))
        if self.end <= self.start:
            raise ValueError(f"window end {self.end.isoformat()} is not after start {self.start.isoformat()}")

    @classmethod
    def parse(cls, start: str, end: str) -> Window:
        """Build a window from ISO strings; naive values are taken as UTC."""
        return cls(_parse_iso(start), _parse_iso(end))

    @property
    def hours(self) -> float:
        """Length of the window in hours."""
        return (self.end - self.start).total_seconds() / 3600.0

    def as_dict(self) -> dict[str, str]:
        """JSON-friendly form."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def _parse_iso(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CheckResult:
    """One measured value of one check, with the threshold it was judged against and the decision.

    ``check`` is the family (``quality``, ``drift``, ``prediction``, ``service``), ``metric`` the
    measured quantity (``psi``, ``missing_share``, ``latency_p95_ms``...) and ``subject`` the feature,
    column or segment it is about (empty for model-wide metrics).
    """

    check: str
    metric: str
    subject: str
    value: float | None
    threshold: float | None
    status: Status
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # NaN/inf never reach the store or JSON: they become None with the raw value kept in details.
        if self.value is not None and not math.isfinite(self.value):
            object.__setattr__(self, "details", {**self.details, "raw_value": str(self.value)})
            object.__setattr__(self, "value", None)

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of the result within one window: (check, metric, subject)."""
        return (self.check, self.metric, self.subject)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        data = asdict(self)
        data["status"] = str(self.status)
        return data
