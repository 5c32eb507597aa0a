"""DAG integrity: the DAG file imports cleanly, builds one DAG per config, and stays cheap to parse."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "watchkeeper_dags.py"
HEAVY = ["pandas", "numpy", "scipy", "great_expectations", "sqlalchemy", "slack_sdk", "sklearn", "pyarrow", "alembic"]


def dag_folder(tmp_path: Path, configs: dict[str, str]) -> Path:
    folder = tmp_path / "dags"
    (folder / "models").mkdir(parents=True)
    shutil.copy(DAG_FILE, folder / DAG_FILE.name)
    for name, text in configs.items():
        (folder / "models" / name).write_text(text)
    return folder


def demo_config() -> str:
    return (ROOT / "dags" / "models" / "demo_fraud.yaml").read_text()


def test_project_dags_import_without_errors() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert "monitor__demo_fraud" in bag.dag_ids
    dag = bag.dags["monitor__demo_fraud"]
    assert set(dag.task_ids) == {"baseline", "check", "report"}
    assert {"watchkeeper", "model:demo_fraud"} <= set(dag.tags)
    assert "```yaml" in dag.doc_md and "name: demo_fraud" in dag.doc_md
    # one mapped instance per check family, after the baseline; the report waits for all of them
    check = dag.get_task("check")
    assert check.upstream_task_ids == {"baseline"}
    assert check.op_kwargs_expand_input.value["family"] == ["quality", "drift", "prediction", "service"]
    assert dag.get_task("report").upstream_task_ids == {"check"}
    # an interval timetable: every run has a data window
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    perf = bag.dags["performance__demo_fraud"]
    assert set(perf.task_ids) == {"score", "decide_retraining", "trigger_retraining"}
    assert perf.get_task("trigger_retraining").trigger_dag_id == "retrain__demo_fraud"
    assert {"retrain__demo_fraud", "labels__demo_fraud"} <= set(bag.dag_ids)


def test_one_dag_per_config_and_broken_config_is_isolated(tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    good = demo_config()
    second = good.replace("name: demo_fraud", "name: other_model")
    broken = "name: broken\nowner: me\ntask: clustering\n"
    folder = dag_folder(tmp_path, {"demo_fraud.yaml": good, "other_model.yaml": second, "broken.yaml": broken})
    bag = DagBag(dag_folder=str(folder))
    assert bag.import_errors == {}
    assert {"monitor__demo_fraud", "monitor__other_model", "watchkeeper_config_error__broken"} == {
        d for d in bag.dag_ids if not d.startswith("performance__")
    }
    err = bag.dags["watchkeeper_config_error__broken"]
    assert "config-error" in err.tags
    assert "task: Input should be 'binary_classification'" in err.doc_md
    assert "predictions: Field required" in err.doc_md


def test_strict_mode_fails_on_first_invalid_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("WATCHKEEPER_STRICT", "1")
    folder = dag_folder(tmp_path, {"demo_fraud.yaml": demo_config(), "broken.yaml": "name: broken\n"})
    bag = DagBag(dag_folder=str(folder))
    (error,) = bag.import_errors.values()
    assert "1 invalid model config(s)" in error and "broken.yaml" in error


PROBE = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from airflow.sdk import BaseHook, Variable

    queries, lookups = [], []
    event.listen(Engine, "before_cursor_execute", lambda *a, **k: queries.append(a[2]))
    def record(kind):
        def fn(*a, **k):
            lookups.append(kind)
            raise RuntimeError(kind + " looked up at parse time")
        return fn
    BaseHook.get_connection = classmethod(record("connection"))
    Variable.get = staticmethod(record("variable"))
    DagBag(dag_folder=sys.argv[2])  # warm up Airflow's own imports
    before = set(sys.modules)
    bag = DagBag(dag_folder=sys.argv[1])
    new = sorted({m.split(".")[0] for m in set(sys.modules) - before})
    print(json.dumps({"errors": {str(k): v for k, v in bag.import_errors.items()}, "dags": sorted(bag.dag_ids),
                      "queries": queries, "lookups": lookups, "new_modules": new}))
    """
)


def test_parsing_imports_nothing_heavy_and_touches_no_database(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    folder = dag_folder(tmp_path, {"demo_fraud.yaml": demo_config()})
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(folder), str(empty)], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["errors"] == {}
    assert data["dags"] == ["monitor__demo_fraud", "performance__demo_fraud"]
    assert data["queries"] == []
    assert data["lookups"] == []
    assert [m for m in data["new_modules"] if m in HEAVY] == []


def test_parsing_context_builds_only_the_wanted_dag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from watchkeeper.airflow.dag_builder import build_dags

    folder = dag_folder(
        tmp_path,
        {
            "demo_fraud.yaml": demo_config(),
            "other_model.yaml": demo_config().replace("name: demo_fraud", "name: other_model"),
        },
    )
    assert set(build_dags(folder / "models")) == {
        "monitor__demo_fraud",
        "monitor__other_model",
        "performance__demo_fraud",
        "performance__other_model",
    }
    assert set(build_dags(folder / "models", only_dag_id="monitor__other_model")) == {"monitor__other_model"}
    assert set(build_dags(folder / "models", only_dag_id="performance__other_model")) == {"performance__other_model"}
    assert yaml.safe_load((folder / "models" / "other_model.yaml").read_text())["name"] == "other_model"
