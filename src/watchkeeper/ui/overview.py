"""The overview data: one row per model the viewer may read (status, last window, open alerts, key metric)."""

from __future__ import annotations

from typing import Any

from watchkeeper.ui import queries
from watchkeeper.ui.access import Access
from watchkeeper.ui.context import Known, UIContext


def overview_rows(ctx: UIContext, access: Access) -> tuple[list[dict[str, Any]], Known]:
    """The rows of the overview and ``/api/models`` (JSON-ready), and what the viewer may see."""
    store = ctx.store
    known = ctx.known(access)
    wanted = set(known.models)
    latest = {m: r for m, r in queries.latest_runs(store).items() if m in wanted}
    for model in known.models:
        if model not in latest:
            found = queries.latest_result_window(store, model)
            if found is not None:
                latest[model] = found
    alerts = queries.open_alert_counts(store)
    keys = queries.key_metrics(store, {m: r.window for m, r in latest.items()})
    rows = []
    for model in known.models:
        run = latest.get(model)
        config = known.configs.get(model)
        key = keys.get(model)
        rows.append(
            {
                "model": model,
                "owner": config.model.owner if config else None,
                "configured": config is not None,
                "status": run.status if run else None,
                "last_window": run.window.as_dict() if run else None,
                "run_id": run.run_id if run else None,
                "open_alerts": alerts.get(model, 0),
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
