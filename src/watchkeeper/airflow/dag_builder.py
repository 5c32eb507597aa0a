"""Turn model configs into Airflow DAGs.

``build_dags(folder)`` returns ``{dag_id: DAG}`` and is testable on its own; ``register(globals(), folder)``
puts them where Airflow's DAG processor finds them. Parsing stays cheap: YAML and pydantic only, no
pandas, GX, SQLAlchemy, database queries or connection lookups.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, task

from watchkeeper.airflow.dag_common import (
    CONFIG_ERROR_PREFIX,
    FAMILIES,
    MONITOR_PREFIX,
    PERFORMANCE_PREFIX,
    labels_asset,
    labels_asset_name,
    monitor_dag_id,
    performance_dag_id,
)
from watchkeeper.airflow.monitor_dag import build_monitor_dag
from watchkeeper.airflow.performance_dag import build_performance_dag
from watchkeeper.config import load_config, load_configs
from watchkeeper.exceptions import ConfigError
from watchkeeper.settings import strict_mode

log = logging.getLogger(__name__)

__all__ = [
    "CONFIG_ERROR_PREFIX",
    "FAMILIES",
    "MONITOR_PREFIX",
    "PERFORMANCE_PREFIX",
    "build_dags",
    "build_error_dag",
    "build_monitor_dag",
    "build_performance_dag",
    "labels_asset",
    "labels_asset_name",
    "monitor_dag_id",
    "performance_dag_id",
    "register",
]


def build_error_dag(path: Path, error: ConfigError) -> DAG:
    """A placeholder DAG that shows a broken config in the Airflow UI (and fails with its message if run)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)
    problems = "\n".join(f"- `{p}`" for p in error.problems)
    with DAG(
        dag_id=f"{CONFIG_ERROR_PREFIX}{stem}",
        schedule=None,
        tags=["watchkeeper", "config-error"],
        doc_md=f"## Invalid Watchkeeper config `{path.name}`\n\nThis model is NOT monitored until fixed.\n\n"
        f"{problems}\n\nRun `watchkeeper validate {path}` locally.",
        description=f"INVALID CONFIG {path.name}: {error.problems[0][:150]}",
    ) as dag:
        message = str(error)

        @task(task_id="config_error")
        def config_error() -> None:
            raise ConfigError(message)

        config_error()
    return dag


def build_dags(folder: str | Path, *, only_dag_id: str | None = None) -> dict[str, DAG]:
    """Every DAG for the configs of ``folder``; invalid configs become error DAGs (or raise in strict mode)."""
    folder = Path(folder)
    for prefix, builder in ((MONITOR_PREFIX, build_monitor_dag), (PERFORMANCE_PREFIX, build_performance_dag)):
        if only_dag_id is None or not only_dag_id.startswith(prefix):
            continue
        # A worker needs one DAG: the file name equals the model name, so read just that file.
        name = only_dag_id.removeprefix(prefix)
        paths = [p for p in (folder / f"{name}.yaml", folder / f"{name}.yml") if p.exists()]
        try:
            loaded = load_config(paths[0]) if paths else None
        except ConfigError:
            loaded = None  # fall through: the full path reports it as an error DAG
        if loaded is not None and (prefix == MONITOR_PREFIX or loaded.model.performance is not None):
            return {only_dag_id: builder(loaded)}
    configs, errors = load_configs(folder)
    if errors and strict_mode():
        first = next(iter(errors.values()))
        raise ConfigError(
            f"{len(errors)} invalid model config(s); first: {first}", [p for e in errors.values() for p in e.problems]
        )
    dags: dict[str, DAG] = {}
    for loaded in configs:
        dag_id = monitor_dag_id(loaded.model.name)
        if dag_id in dags:
            log.error("duplicate model name %s in %s: skipped", loaded.model.name, loaded.path)
            continue
        if only_dag_id is None or dag_id == only_dag_id:
            dags[dag_id] = build_monitor_dag(loaded)
        perf_id = performance_dag_id(loaded.model.name)
        if loaded.model.performance is not None and (only_dag_id is None or perf_id == only_dag_id):
            dags[perf_id] = build_performance_dag(loaded)
    for path, error in errors.items():
        log.error("invalid Watchkeeper config %s:\n%s", path, error)
        dag = build_error_dag(path, error)
        if only_dag_id is None or dag.dag_id == only_dag_id:
            dags[dag.dag_id] = dag
    return dags


def register(namespace: dict[str, Any], folder: str | Path) -> dict[str, DAG]:
    """Build the DAGs of ``folder`` and put them into ``namespace`` (the DAG file's ``globals()``).

    When Airflow runs a single task it tells which DAG it needs; then only that DAG is built.
    """
    from airflow.sdk import get_parsing_context

    wanted = get_parsing_context().dag_id
    prefixes = (MONITOR_PREFIX, PERFORMANCE_PREFIX, CONFIG_ERROR_PREFIX)
    only = wanted if wanted and wanted.startswith(prefixes) else None
    dags = build_dags(folder, only_dag_id=only)
    if only is not None and not dags:  # name not found this way: fall back to everything
        dags = build_dags(folder)
    namespace.update(dags)
    return dags
