"""The performance DAG of a model with labels: score the window, then maybe trigger retraining."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from watchkeeper.airflow import health
from watchkeeper.airflow.dag_common import (
    _tag,
    _timetable,
    dag_kwargs,
    labels_asset,
    labels_asset_name,
    performance_dag_id,
)
from watchkeeper.config import LoadedConfig


def build_performance_dag(loaded: LoadedConfig) -> DAG:
    """The performance DAG of a model with a ``performance`` section: ``score`` (which publishes the run's
    health), ``health`` (fails the run when a scored window is critical) and, with retraining, the decision
    and the trigger -- downstream of ``score`` only, so a critical window still triggers retraining.

    It runs when the label pipeline updates the labels asset, and otherwise on the model's schedule (the
    monitor's timetable); a scheduled run scores the monitor windows whose labels fell due (window end + label
    delay) during its data interval -- exactly the spans the monitor checked.
    """
    from airflow.sdk import AssetOrTimeSchedule

    from watchkeeper.airflow import performance_tasks as pt

    model = loaded.model
    assert model.performance is not None
    path = str(loaded.path.resolve())
    schedule: Any = _timetable(model.schedule)
    if not isinstance(schedule, str):
        schedule = AssetOrTimeSchedule(timetable=schedule, assets=[labels_asset(model.name)])
    shared = dag_kwargs(loaded)
    shared["tags"] = [*shared["tags"][:1], _tag("performance"), *shared["tags"][1:]]
    with DAG(
        dag_id=performance_dag_id(model.name),
        schedule=schedule,
        max_active_runs=1,
        **shared,
        doc_md=_performance_doc(loaded),
        description=f"Performance of {model.name} on ground-truth labels"[:200],
    ) as dag:

        @task(task_id="score", multiple_outputs=False, outlets=[health.health_asset(model.name)])
        def score(**context: Any) -> dict[str, Any]:
            """Join labels; compute metrics, intervals, segments and rules; record and report them; publish the
            run's health (the DAG-run note and the ``watchkeeper_health__<model>`` Asset event)."""
            return pt.score_and_report(path, context)

        summary = health.attach_model_link(score())
        health.add_health_task(summary)
        if model.retraining.dag_id:
            from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

            @task.short_circuit(task_id="decide_retraining")
            def decide(summary: dict[str, Any], **context: Any) -> dict[str, Any] | bool:
                """Retrain when degradation persisted, outside the cooldown (recorded for audit)."""
                return pt.decide_retraining(path, summary, context)

            conf = decide(summary)
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
        '`{"start": ISO, "end": ISO}`), and otherwise on the schedule, scoring the monitor window whose labels '
        f"fell due (its end + the label delay {model.performance.labels.delay}) during the run's data interval: "
        "the delay decides when a window is scored, never which span. Windows below "
        f"{model.performance.labels.min_coverage:.0%} label coverage are skipped with the reason; late labels "
        "recompute the window. Retraining: "
        f"`{model.retraining.dag_id or 'none'}`.\n\n```yaml\n{loaded.text.rstrip()}\n```\n"
    )
