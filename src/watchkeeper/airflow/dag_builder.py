"""Turn model configs into Airflow DAGs.

``build_dags(folder)`` returns ``{dag_id: DAG}`` and is testable on its own; ``register(globals(), folder)``
puts them where Airflow's DAG processor finds them. Parsing stays cheap: YAML and pydantic only, no
pandas, GX, SQLAlchemy, database queries or connection lookups.
"""

from __future__ import annotations

import functools
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, task

from watchkeeper.airflow import tasks as t
from watchkeeper.config import LoadedConfig, load_config, load_configs
from watchkeeper.exceptions import ConfigError
from watchkeeper.settings import strict_mode

log = logging.getLogger(__name__)

MONITOR_PREFIX = "monitor__"
PERFORMANCE_PREFIX = "performance__"
CONFIG_ERROR_PREFIX = "watchkeeper_config_error__"
FAMILIES = ("quality", "drift", "prediction", "service")


def monitor_dag_id(model: str) -> str:
    """DAG id of a model's monitor DAG."""
    return f"{MONITOR_PREFIX}{model}"


@functools.cache
def _timetable(schedule: str) -> Any:
    if schedule in {"@once", "@continuous"}:
        return schedule
    from airflow.sdk import CronDataIntervalTimetable

    # An interval timetable gives every run a data interval [start, end): the window to check.
    return CronDataIntervalTimetable(schedule, timezone="UTC")


def performance_dag_id(model: str) -> str:
    """DAG id of a model's performance DAG."""
    return f"{PERFORMANCE_PREFIX}{model}"


def labels_asset_name(model: str) -> str:
    """Name of the Airflow Asset a label pipeline updates when a model's labels arrive."""
    return f"watchkeeper_labels__{model}"


def labels_asset(model: str) -> Any:
    """The Asset that signals label arrival: ``Asset(name="watchkeeper_labels__<model>", uri="watchkeeper://labels/<model>")``."""
    from airflow.sdk import Asset

    return Asset(name=labels_asset_name(model), uri=f"watchkeeper://labels/{model}")


def _default_args(owner: str) -> dict[str, Any]:
    """Task defaults of every Watchkeeper DAG: one retry, and the failure callback that reports a broken monitor."""
    return {
        "owner": owner,
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
        "on_failure_callback": t.on_task_failure,
    }


def _doc_md(loaded: LoadedConfig) -> str:
    model = loaded.model
    return (
        f"## Monitor of `{model.name}`\n\n{model.description}\n\n"
        f"Owner: **{model.owner}** · task: `{model.task}` · config: `{loaded.path.name}`\n\n"
        "Each run checks its data interval of the prediction log: data quality (schema, volume, freshness, "
        "missing values, ranges, unseen categories, GX suite), feature drift, prediction drift and "
        "confidence, service health. Results go to the metric store; findings to the task log and the "
        "alert file.\n\n"
        f"```yaml\n{loaded.text.rstrip()}\n```\n"
    )


def _tag(text: str) -> str:
    return text[:100]


def build_monitor_dag(loaded: LoadedConfig) -> DAG:
    """The monitor DAG of one model."""
    model = loaded.model
    path = str(loaded.path.resolve())
    default_args = _default_args(model.owner)
    with DAG(
        dag_id=monitor_dag_id(model.name),
        schedule=_timetable(model.schedule),
        start_date=model.start_date,
        catchup=model.catchup,
        max_active_runs=4,
        default_args=default_args,
        tags=[_tag("watchkeeper"), _tag(f"model:{model.name}"), _tag(f"owner:{model.owner}")],
        doc_md=_doc_md(loaded),
        description=(model.description or f"Monitor of {model.name}")[:200],
    ) as dag:

        @task(task_id="baseline", multiple_outputs=False)
        def baseline() -> dict[str, Any]:
            """Build or reuse the reference baseline."""
            return t.prepare_baseline(path)

        # One mapped task, one instance per check family: cheap to parse, one visible instance per family.
        @task(task_id="check", multiple_outputs=False, map_index_template="{{ family }}")
        def check(family: str, **context: Any) -> dict[str, Any]:
            """Run one check family on the run's data interval."""
            return t.run_check_family(path, family, context)

        @task(task_id="report", multiple_outputs=False)
        def report(outputs: list[dict[str, Any]], **context: Any) -> dict[str, Any]:
            """Record all results in the metric store (idempotently) and report findings."""
            return t.record_and_report(path, list(outputs), context)

        checks = check.expand(family=list(FAMILIES))
        baseline() >> checks
        report(checks)  # type: ignore[arg-type]  # an XComArg resolves to the list at run time
    return dag


def build_performance_dag(loaded: LoadedConfig) -> DAG:
    """The performance DAG of a model with a ``performance`` section.

    It runs when the label pipeline updates the labels asset, and otherwise on the model's schedule; a
    scheduled run scores the prediction window one label delay before its data interval.
    """
    from airflow.sdk import AssetOrTimeSchedule

    from watchkeeper.airflow import performance_tasks as pt

    model = loaded.model
    assert model.performance is not None
    path = str(loaded.path.resolve())
    schedule: Any = _timetable(model.schedule)
    if not isinstance(schedule, str):
        schedule = AssetOrTimeSchedule(timetable=schedule, assets=[labels_asset(model.name)])
    default_args = _default_args(model.owner)
    with DAG(
        dag_id=performance_dag_id(model.name),
        schedule=schedule,
        start_date=model.start_date,
        catchup=model.catchup,
        max_active_runs=1,
        default_args=default_args,
        tags=[_tag("watchkeeper"), _tag("performance"), _tag(f"model:{model.name}"), _tag(f"owner:{model.owner}")],
        doc_md=_performance_doc(loaded),
        description=f"Performance of {model.name} on ground-truth labels"[:200],
    ) as dag:

        @task(task_id="score", multiple_outputs=False)
        def score(**context: Any) -> dict[str, Any]:
            """Join labels; compute metrics, intervals, segments and rules; record and report them."""
            return pt.score_and_report(path, context)

        summary = score()
        if model.retraining.dag_id:
            from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

            @task.short_circuit(task_id="decide_retraining")
            def decide(summary: dict[str, Any], **context: Any) -> dict[str, Any] | bool:
                """Retrain when degradation persisted, outside the cooldown (recorded for audit)."""
                return pt.decide_retraining(path, summary, context)

            conf = decide(summary)  # type: ignore[arg-type]  # XComArgs resolve at run time
            trigger_retraining = TriggerDagRunOperator(
                task_id="trigger_retraining",
                trigger_dag_id=model.retraining.dag_id,
                conf=conf,  # type: ignore[arg-type]
                wait_for_completion=False,
            )
            conf >> trigger_retraining
    return dag


def _performance_doc(loaded: LoadedConfig) -> str:
    model = loaded.model
    assert model.performance is not None
    return (
        f"## Performance of `{model.name}`\n\n"
        f"Runs when the label pipeline updates the asset `{labels_asset_name(model.name)}` "
        f"(uri `watchkeeper://labels/{model.name}`; an event's extra may name the window: "
        '`{"start": ISO, "end": ISO}`), and otherwise on the schedule, scoring the window '
        f"{model.performance.labels.delay} (the label delay) before its data interval. Windows below "
        f"{model.performance.labels.min_coverage:.0%} label coverage are skipped with the reason; late labels "
        "recompute the window. Retraining: "
        f"`{model.retraining.dag_id or 'none'}`.\n\n```yaml\n{loaded.text.rstrip()}\n```\n"
    )


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
