"""Turn model configs into Airflow DAGs.

``build_dags(folder)`` returns ``{dag_id: DAG}`` and is testable on its own; ``register(globals(), folder)``
puts them where Airflow's DAG processor finds them. With ``shard=(i, n)`` a DAG file builds only the
models whose name hashes to shard ``i`` of ``n`` (``dags/watchkeeper_shards/shard_*.py``), so thousands of
models parse as ``n`` small files, each far inside Airflow's import timeout, and a slow or failing
shard never affects the others. Anything that goes wrong with one config -- loading it, building its
DAGs, Airflow's validation of them -- becomes that config's ``watchkeeper_config_error__<file>`` DAG.
Parsing stays cheap: YAML and pydantic only, no pandas, GX, SQLAlchemy, database queries or
connection lookups.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Callable
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
    shard_file_name,
)
from watchkeeper.airflow.monitor_dag import build_monitor_dag
from watchkeeper.airflow.performance_dag import build_performance_dag
from watchkeeper.config import LoadedConfig, config_paths, load_config, load_configs, shard_of
from watchkeeper.exceptions import ConfigError
from watchkeeper.settings import strict_mode
from watchkeeper.sharding import missing_shards

log = logging.getLogger(__name__)

__all__ = [
    "CONFIG_ERROR_PREFIX",
    "FAMILIES",
    "MONITOR_PREFIX",
    "PERFORMANCE_PREFIX",
    "build_dags",
    "build_error_dag",
    "build_model_dags",
    "build_monitor_dag",
    "build_performance_dag",
    "error_dag_id",
    "labels_asset",
    "labels_asset_name",
    "missing_shard_dags",
    "monitor_dag_id",
    "performance_dag_id",
    "register",
]

Shard = tuple[int, int]

#: The DAGs of one model: (dag-id prefix, builder, whether the model has this DAG).
MODEL_DAGS: tuple[tuple[str, Callable[[LoadedConfig], DAG], Callable[[LoadedConfig], bool]], ...] = (
    (MONITOR_PREFIX, build_monitor_dag, lambda loaded: True),
    (PERFORMANCE_PREFIX, build_performance_dag, lambda loaded: loaded.model.performance is not None),
)


def error_dag_id(path: Path, taken: set[str] | None = None) -> str:
    """``watchkeeper_config_error__<file stem>``; ``m.yml`` next to ``m.yaml`` gets ``..._m_yml``."""
    taken = taken or set()
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)[:200]
    if stem != path.stem:  # sanitised names could collide with another file's, in another shard: make unique
        return f"{CONFIG_ERROR_PREFIX}{stem}_{zlib.crc32(path.name.encode()):08x}"
    for candidate in (stem, f"{stem}_{path.suffix.lstrip('.')}"):
        if f"{CONFIG_ERROR_PREFIX}{candidate}" not in taken:
            return f"{CONFIG_ERROR_PREFIX}{candidate}"
    return f"{CONFIG_ERROR_PREFIX}{stem}_{zlib.crc32(path.name.encode()):08x}"


def build_error_dag(path: Path, error: ConfigError, dag_id: str | None = None) -> DAG:
    """A placeholder DAG that shows a broken config in the Airflow UI (and fails with its message if run)."""
    problems = "\n".join(f"- `{p}`" for p in error.problems)
    with DAG(
        dag_id=dag_id or error_dag_id(path),
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


def build_model_dags(loaded: LoadedConfig, only_dag_id: str | None = None) -> dict[str, DAG]:
    """The model's DAGs (or just ``only_dag_id``), each validated the way the DAG processor will."""
    dags: dict[str, DAG] = {}
    for prefix, builder, applies in MODEL_DAGS:
        dag_id = f"{prefix}{loaded.model.name}"
        if (only_dag_id is None or dag_id == only_dag_id) and applies(loaded):
            dag = builder(loaded)
            dag.validate()  # type: ignore[no-untyped-call]  # a timetable Airflow rejects: this model's error
            dags[dag_id] = dag
    return dags


def _single(folder: Path, only_dag_id: str, shard: Shard | None) -> dict[str, DAG] | None:
    """A worker needs one DAG: the file name equals the model name, so read just that file (None: fall back)."""
    for prefix, _, _ in MODEL_DAGS:
        if not only_dag_id.startswith(prefix):
            continue
        name = only_dag_id.removeprefix(prefix)
        if shard is not None and shard_of(name, shard[1]) != shard[0]:
            return {}
        paths = [p for p in (folder / f"{name}.yaml", folder / f"{name}.yml") if p.exists()]
        if len(paths) != 1:
            return None  # missing or defined twice: the full path reports it
        try:
            dags = build_model_dags(load_config(paths[0]), only_dag_id)
        except Exception:  # fall through: the full path reports it as an error DAG
            return None
        return dags or None
    return None


def build_dags(folder: str | Path, *, only_dag_id: str | None = None, shard: Shard | None = None) -> dict[str, DAG]:
    """Every DAG for the configs of ``folder`` (or of one shard of it); invalid configs become error DAGs.

    In strict mode (``WATCHKEEPER_STRICT=1``) the first invalid config raises instead.
    """
    folder = Path(folder)
    if only_dag_id is not None:
        single = _single(folder, only_dag_id, shard)
        if single is not None:
            return single
    configs, errors = load_configs(folder, shard)
    dags: dict[str, DAG] = {}
    for loaded in configs:
        try:
            dags.update(build_model_dags(loaded, only_dag_id))
        except Exception as exc:  # contain any failure to build one model's DAGs to that model
            log.exception("cannot build the DAGs of %s", loaded.path)
            errors[loaded.path] = ConfigError(
                f"{loaded.path}: (dag): Airflow rejected the model's DAG: {type(exc).__name__}: {str(exc)[:300]} "
                f"-- fix the config (`watchkeeper validate {loaded.path}` shows it too)"
            )
    if errors and strict_mode():
        first = errors[min(errors)]
        raise ConfigError(
            f"{len(errors)} invalid model config(s); first: {first}", [p for e in errors.values() for p in e.problems]
        )
    taken = set(dags)
    for path in sorted(errors):
        error = errors[path]
        log.error("invalid Watchkeeper config %s:\n%s", path, error)
        dag_id = error_dag_id(path, taken)
        taken.add(dag_id)
        if only_dag_id is None or dag_id == only_dag_id:
            dags[dag_id] = build_error_dag(path, error, dag_id)
    return dags


def register(namespace: dict[str, Any], folder: str | Path, *, shard: Shard | None = None) -> dict[str, DAG]:
    """Build the DAGs of ``folder`` (or of shard ``(i, n)`` of it) and put them into ``namespace``.

    ``namespace`` is the DAG file's ``globals()``. When Airflow runs a single task it tells which DAG
    it needs; then only that DAG is built.
    """
    from airflow.sdk import get_parsing_context

    wanted = get_parsing_context().dag_id
    prefixes = (MONITOR_PREFIX, PERFORMANCE_PREFIX, CONFIG_ERROR_PREFIX)
    only = wanted if wanted and wanted.startswith(prefixes) else None
    dags = build_dags(folder, only_dag_id=only, shard=shard)
    if only is not None and not dags:  # name not found this way: fall back to everything
        dags = build_dags(folder, shard=shard)
    if shard is not None and only is None and namespace.get("__file__"):
        dags.update(missing_shard_dags(Path(str(namespace["__file__"])), Path(folder), shard))
    namespace.update(dags)
    return dags


def missing_shard_dags(dag_file: Path, folder: Path, shard: Shard) -> dict[str, DAG]:
    """Error DAGs for sibling shard files that are missing (their models would silently vanish).

    Only the lowest-numbered shard file present reports, so each missing shard is reported once.
    """
    count = shard[1]
    dags = {}
    for index in missing_shards(dag_file, count):
        models = [p.stem for p in config_paths(folder, (index, count))]
        if not models:
            continue
        missing = dag_file.parent / shard_file_name(index, count)
        error = ConfigError(
            f"{missing}: (file): this DAG file is missing, so the DAGs of {len(models)} model(s) are not built "
            f"({', '.join(models[:20])}{', ...' if len(models) > 20 else ''}) -- restore it with "
            f"`watchkeeper dag-files {dag_file.parent.parent}`"
        )
        dag_id = f"{CONFIG_ERROR_PREFIX}missing_{missing.stem}"
        dags[dag_id] = build_error_dag(missing, error, dag_id)
    return dags
