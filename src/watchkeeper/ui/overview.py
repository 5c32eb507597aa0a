"""The overview data: one row per model the viewer may read (status, last window, open alerts, key metric)."""

from __future__ import annotations

from typing import Any

from watchkeeper.ui import queries
from watchkeeper.ui.access import Access
from watchkeeper.ui.context import Known, UIContext


def overview_rows(ctx: UIContext, access: Access) -> tuple[list[dict[str, Any]], Known]:
    """The rows of the overview and ``/api/models`` (JSON-ready), and what the viewer may see.

    Two small queries whatever the history: the model list and the health summary (one row per model).
    """
    known = ctx.known(access)
    health = ctx.store.health(set(known.models))
    rows = []
    for model in known.models:
        summary = health.get(model)
        run = None if summary is None else queries.latest_run(summary)
        key = None if summary is None else queries.key_metric(summary)
        config = known.configs.get(model)
        rows.append(
            {
                "model": model,
                "owner": config.model.owner if config else None,
                "configured": config is not None,
                "status": run.status if run else None,
                "last_window": run.window.as_dict() if run else None,
                "run_id": run.run_id if run else None,
                "open_alerts": summary.open_alerts if summary else 0,
                "key_metric": None
                if key is None
                else {
                    "name": key.label,
                    "check": key.check,
                    "value": key.value,
                    "baseline": key.baseline,
                    "status": key.status,
                    "series": key.series,
                },
            }
        )
    return rows, known
