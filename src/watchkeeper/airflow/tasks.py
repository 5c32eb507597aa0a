"""Task bodies of the monitor DAG. Each imports what it needs inside, calls the core, returns a small dict.

Nothing here is imported with heavy libraries at module level: the DAG file imports this module.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
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
    # Plain datetimes: Airflow hands pendulum ones, whose arithmetic differs (e.g. dividing intervals).
    return Window(_plain(start), _plain(end))


def _plain(value: Any) -> datetime:
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)


def _store() -> Any:
    from watchkeeper.store import MetricStore

    store = MetricStore()
    store.migrate()
    return store


def prepare_baseline(config_path: str, store: Any = None) -> dict[str, Any]:
    """Make sure the model's baseline exists and matches the reference data; return its hash."""
    from watchkeeper.baseline import ensure_baseline

    config = load_config(Path(config_path))
    content_hash, payload = ensure_baseline(config, store or _store())
    return {"hash": content_hash, "reference_rows": payload.get("n_rows")}


def build_window_profile(config_path: str, baseline: dict[str, Any], context: Any, store: Any = None) -> dict[str, Any]:
    """Read the run's window once, build its profile (and run the GX suite on the same batches), store it.

    ``baseline`` is the ``baseline`` task's output (its content hash): the reference is not hashed again.
    Returns a small summary; the profile itself is in the metric store.
    """
    from watchkeeper.exceptions import BaselineError
    from watchkeeper.profile.scan import build_profile

    config = load_config(Path(config_path))
    window = window_from_context(context)
    store = store or _store()
    content_hash = str(baseline["hash"])
    payload = store.baseline_by_hash(config.model.name, content_hash)
    if payload is None:
        raise BaselineError(f"model {config.model.name}: baseline {content_hash} is not in the store -- re-run the DAG")
    profile = build_profile(config, window, payload, baseline_hash=content_hash)
    store.save_window_profile(config.model.name, window, profile)
    return {
        "n_rows": profile.rows,
        "baseline_hash": content_hash,
        "batches": profile.scan.get("batches"),
        "rows_read": profile.scan.get("rows_read"),
        "files_read": profile.scan.get("files_read"),
        "seconds": profile.scan.get("seconds"),
        "gx_results": len(profile.gx or []),
    }


def run_check_family(config_path: str, family: str, context: Any, store: Any = None) -> dict[str, Any]:
    """Run one check family on the run's stored window profile (the window is never re-read)."""
    from watchkeeper.checks import run_family, stored_context

    config = load_config(Path(config_path))
    window = window_from_context(context)
    ctx = stored_context(config, window, store or _store())
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
    return {"family": family, "n_rows": ctx.n_rows, "results": [r.as_dict() for r in results]}


def run_all_families(config_path: str, families: tuple[str, ...], context: Any) -> list[dict[str, Any]]:
    """The ``compact`` layout's one task up to the report: baseline, the window's profile (read once, stored),
    then every family on the stored profile -- the same calls, in the same order, as the ``families``
    layout's tasks, on one store connection. Returns the families' outputs for the report."""
    store = _store()
    try:
        profile = build_window_profile(config_path, prepare_baseline(config_path, store), context, store)
        log.info("window profile: %s", profile)
        return [run_check_family(config_path, family, context, store) for family in families]
    finally:
        store.close()
