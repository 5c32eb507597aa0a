"""Task bodies of the monitor DAG. Each imports what it needs inside, calls the core, returns a small dict.

Nothing here is imported with heavy libraries at module level: the DAG file imports this module.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from watchkeeper.config import load_config
from watchkeeper.results import Window

log = logging.getLogger(__name__)


def window_from_context(context: Any) -> Window:
    """The DAG run's data interval as a window."""
    start, end = context["data_interval_start"], context["data_interval_end"]
    if start is None or end is None or end <= start:
        raise ValueError(
            f"the run has no usable data interval ({start}..{end}) -- monitor DAGs need an interval schedule"
        )
    return Window(start, end)


def _store() -> Any:
    from watchkeeper.store import MetricStore

    store = MetricStore()
    store.migrate()
    return store


def prepare_baseline(config_path: str) -> dict[str, Any]:
    """Make sure the model's baseline exists and matches the reference data; return its hash."""
    from watchkeeper.baseline import ensure_baseline

    config = load_config(Path(config_path))
    content_hash, payload = ensure_baseline(config, _store())
    return {"hash": content_hash, "reference_rows": payload.get("n_rows")}


def run_check_family(config_path: str, family: str, context: Any) -> dict[str, Any]:
    """Run one check family on the run's window; results travel as small dicts."""
    from watchkeeper.checks import load_context, run_family

    config = load_config(Path(config_path))
    window = window_from_context(context)
    ctx = load_context(config, window, _store())
    results = run_family(family, ctx)
    for r in results:
        if r.status.is_finding:
            log.warning(
                "model=%s %s %s.%s[%s]: %s",
                config.model.name,
                r.status.upper(),
                r.check,
                r.metric,
                r.subject,
                r.message,
            )
    return {"family": family, "n_rows": len(ctx.df), "results": [r.as_dict() for r in results]}
