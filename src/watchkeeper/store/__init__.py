"""The metric store: results, runs, baselines, alerts, the alert outbox and retraining triggers.

Importing this package is cheap: SQLAlchemy and Alembic load only when a name below is first used,
so modules imported while Airflow parses DAG files may import it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watchkeeper.store.store import (
        AlertingPlan,
        AlertRow,
        AlertStateRow,
        MetricRow,
        MetricStore,
        NotificationRow,
        RetrainRow,
        RunRow,
        WindowProfileRow,
        to_jsonable,
    )

__all__ = [
    "AlertRow",
    "AlertStateRow",
    "AlertingPlan",
    "MetricRow",
    "MetricStore",
    "NotificationRow",
    "RetrainRow",
    "RunRow",
    "WindowProfileRow",
    "to_jsonable",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("watchkeeper.store.store"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
