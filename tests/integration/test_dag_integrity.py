"""DAG integrity: the DAG file imports cleanly, builds one DAG per config, and stays cheap to parse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SHARD_DIR = ROOT / "dags" / "watchkeeper_shards"
HEAVY = ["pandas", "numpy", "scipy", "great_expectations", "sqlalchemy", "slack_sdk", "sklearn", "pyarrow", "alembic"]


def dag_folder(tmp_path: Path, configs: dict[str, str]) -> Path:
    folder = tmp_path / "dags"
    (folder / "models").mkdir(parents=True)
    shutil.copytree(SHARD_DIR, folder / SHARD_DIR.name)
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
    assert Path(dag.fileloc).name == "shard_12_of_16.py"  # crc32("demo_fraud") % 16
    assert {"baseline", "check", "report", "health"} <= set(dag.task_ids)  # the DAG's own shape: tests/unit/airflow
    assert {"watchkeeper", "model:demo_fraud"} <= set(dag.tags)
    assert "```yaml" in dag.doc_md and "name: demo_fraud" in dag.doc_md
    check = dag.get_task("check")
    assert check.op_kwargs_expand_input.value["family"] == ["quality", "drift", "prediction", "service"]
    # an interval timetable: every run has a data window
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    perf = bag.dags["performance__demo_fraud"]
    assert set(perf.task_ids) == {"score", "health", "decide_retraining", "trigger_retraining"}
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
    (error,) = bag.import_errors.values()  # only the shard that holds the broken config fails
    assert "1 invalid model config(s)" in error and "broken.yaml" in error
    assert "monitor__demo_fraud" in bag.dag_ids


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


BAG = textwrap.dedent(
    """
    import json, sys, time
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization
    started = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1])
    for dag in bag.dags.values():
        DagSerialization.to_dict(dag)  # what the DAG processor does next
    print(json.dumps({"errors": {str(k): v for k, v in bag.import_errors.items()}, "dags": sorted(bag.dag_ids),
                      "docs": {d: bag.dags[d].doc_md for d in bag.dag_ids if "config_error" in d},
                      "seconds": time.perf_counter() - started}))
    """
)
BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def parse_in_subprocess(folder: Path, tmp_path: Path, seconds: float = 120) -> dict:
    """DagBag + serialisation of ``folder`` in a fresh process (a hang fails the test instead of the suite)."""
    env = {**os.environ, "WATCHKEEPER_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, "-c", BAG, str(folder)], capture_output=True, text=True, timeout=seconds, check=True, env=env
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_kind_of_broken_config_becomes_its_own_error_dag(tmp_path: Path) -> None:
    good = demo_config()
    latin = good.replace("name: demo_fraud", "name: latin").replace("Card-transaction", "Caf\u00e9 card")
    configs = {
        "demo_fraud.yaml": good,
        "other_model.yaml": good.replace("name: demo_fraud", "name: other_model"),
        "latin.yaml": latin.encode("latin-1"),
        "bomb.yaml": BOMB + "name: bomb\n",
        "bad_cron.yaml": good.replace("name: demo_fraud", "name: bad_cron").replace('"@daily"', '"99 99 * * *"'),
        "twin.yaml": good.replace("name: demo_fraud", "name: twin"),
        "twin.yml": good.replace("name: demo_fraud", "name: twin"),
    }
    folder = dag_folder(tmp_path, {})
    for name, text in configs.items():
        path = folder / "models" / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    result = parse_in_subprocess(folder, tmp_path)
    assert result["seconds"] < 60  # the alias bomb used to never return
    assert result["errors"] == {}  # nothing lands on a shared DAG file
    dags = set(result["dags"])
    assert {"monitor__demo_fraud", "performance__demo_fraud", "monitor__other_model"} <= dags
    errors = {d for d in dags if d.startswith("watchkeeper_config_error__")}
    assert errors == {
        "watchkeeper_config_error__latin",
        "watchkeeper_config_error__bomb",
        "watchkeeper_config_error__bad_cron",
        "watchkeeper_config_error__twin",
        "watchkeeper_config_error__twin_yml",
    }
    assert not {d for d in dags if d.endswith(("__latin", "__bomb", "__bad_cron", "__twin")) and "error" not in d}
    docs = result["docs"]
    assert "not valid UTF-8" in docs["watchkeeper_config_error__latin"]
    assert "YAML aliases expand to more than 50,000 values" in docs["watchkeeper_config_error__bomb"]
    assert "'99 99 * * *' is not a valid cron expression" in docs["watchkeeper_config_error__bad_cron"]
    for dag_id in ("watchkeeper_config_error__twin", "watchkeeper_config_error__twin_yml"):
        assert "model 'twin' is defined by 2 files" in docs[dag_id]
        assert "twin.yaml and " in docs[dag_id] and "twin.yml)" in docs[dag_id]


def test_a_dag_airflow_rejects_is_contained_to_its_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from watchkeeper.airflow import dag_builder

    folder = dag_folder(
        tmp_path,
        {"demo_fraud.yaml": demo_config(), "other_model.yaml": demo_config().replace("demo_fraud", "other_model")},
    )
    real = dag_builder.MODEL_DAGS[1][1]

    def fragile(loaded):  # type: ignore[no-untyped-def]
        if loaded.model.name == "other_model":
            raise ValueError("Invalid max_active_runs: ContinuousTimetable requires max_active_runs <= 1")
        return real(loaded)

    monkeypatch.setattr(
        dag_builder, "MODEL_DAGS", (dag_builder.MODEL_DAGS[0], ("performance__", fragile, lambda _: True))
    )
    dags = dag_builder.build_dags(folder / "models")
    assert {"monitor__demo_fraud", "performance__demo_fraud", "watchkeeper_config_error__other_model"} == set(dags)
    doc = dags["watchkeeper_config_error__other_model"].doc_md
    assert "(dag): Airflow rejected the model's DAG: ValueError: Invalid max_active_runs" in doc


def test_models_are_spread_over_shard_files_and_a_missing_shard_is_reported(tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from watchkeeper.config import shard_of

    names = [f"model_{i:02d}" for i in range(24)]
    template = demo_config()
    folder = dag_folder(tmp_path, {f"{n}.yaml": template.replace("name: demo_fraud", f"name: {n}") for n in names})
    bag = DagBag(dag_folder=str(folder))
    assert bag.import_errors == {}
    for name in names:
        dag = bag.dags[f"monitor__{name}"]
        assert Path(dag.fileloc).name == f"shard_{shard_of(name, 16):02d}_of_16.py"
        assert bag.dags[f"performance__{name}"].fileloc == dag.fileloc
    victim = shard_of("model_05", 16)
    (folder / "watchkeeper_shards" / f"shard_{victim:02d}_of_16.py").unlink()
    bag = DagBag(dag_folder=str(folder))
    lost = sorted(n for n in names if shard_of(n, 16) == victim)
    error = bag.dags[f"watchkeeper_config_error__missing_shard_{victim:02d}_of_16"]
    assert f"the DAGs of {len(lost)} model(s) are not built ({', '.join(lost)})" in error.doc_md
    assert "restore it with `watchkeeper dag-files" in error.doc_md
    assert f"monitor__{lost[0]}" not in bag.dag_ids


def test_an_empty_shard_imports_nothing_but_the_shard_gate(tmp_path: Path) -> None:
    from watchkeeper.config import shard_of

    folder = dag_folder(tmp_path, {"demo_fraud.yaml": demo_config()})
    empty = next(i for i in range(16) if i != shard_of("demo_fraud", 16))
    code = (
        "import json, sys\nfrom airflow.dag_processing.dagbag import DagBag\n"
        "bag = DagBag(dag_folder=sys.argv[1])\n"
        "print(json.dumps({'dags': sorted(bag.dag_ids), 'errors': len(bag.import_errors),"
        " 'modules': sorted(m for m in sys.modules if m.startswith('watchkeeper'))}))"
    )
    for index, expect_dags in ((empty, []), (shard_of("demo_fraud", 16), ["monitor__demo_fraud"])):
        shard = folder / "watchkeeper_shards" / f"shard_{index:02d}_of_16.py"
        out = subprocess.run([sys.executable, "-c", code, str(shard)], capture_output=True, text=True, check=True)
        data = json.loads(out.stdout.strip().splitlines()[-1])
        assert data["errors"] == 0
        if not expect_dags:
            assert data == {"dags": [], "errors": 0, "modules": ["watchkeeper", "watchkeeper.sharding"]}
        else:
            assert set(expect_dags) <= set(data["dags"]) and "watchkeeper.config" in data["modules"]
