"""`watchkeeper init`: a commented config inferred from the reference data, ready for `validate`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from watchkeeper.cli import main
from watchkeeper.config import load_config


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "dags" / "models").mkdir(parents=True)
    (root / "expectations").mkdir()
    monkeypatch.setenv("WATCHKEEPER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WATCHKEEPER_CONFIG_DIR", str(root / "dags" / "models"))
    monkeypatch.delenv("WATCHKEEPER_EXPECTATIONS_DIR", raising=False)
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_init_on_the_demo_reference_then_validate_passes(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from watchkeeper.demo.generate import day_frame, reference_frame

    reference_frame(rows=3000).to_parquet(project / "reference.parquet")
    (project / "log").mkdir()
    day_frame(date(2026, 10, 2), rows_per_day=500).to_parquet(project / "log" / "2026-10-02.parquet")
    code, lines, err = run(
        capsys,
        "init",
        "fraud",
        "--reference",
        str(project / "reference.parquet"),
        "--predictions",
        "../../log/*.parquet",
    )
    config = project / "dags" / "models" / "fraud.yaml"
    assert code == 0, err
    assert lines[0] == f"wrote {config} (7 features; 1 TODO(s) to fill in)"  # the owner
    assert lines[1].startswith(f"wrote {project / 'expectations' / 'fraud.json'} (GX suite, ")
    text = config.read_text()
    assert "owner: TODO-team   # TODO: the owning team" in text
    assert "task: binary_classification   # guessed: 'predicted_label' holds 2 classes" in text
    model = load_config(config).model
    roles = model.predictions.role_columns()
    assert roles == {
        "timestamp": "ts",
        "id": "prediction_id",
        "prediction": "predicted_label",
        "score": "fraud_score",
        "latency": "latency_ms",
        "status": "status",
    }
    assert {k: str(v) for k, v in model.predictions.features.items()} == {
        "amount": "numerical",
        "merchant_category": "categorical",
        "country": "categorical",
        "hour": "numerical",
        "account_age_days": "numerical",
        "txn_count_24h": "numerical",
        "device_type": "categorical",
    }
    assert "label" not in model.predictions.features  # the target is not a feature
    assert "#     label: label   # found in the reference" in text
    assert model.quality.suite == "fraud" and model.paused is False
    code, lines, err = run(capsys, "validate", str(config))
    assert (code, lines) == (0, []), lines
    assert "1 config(s) checked, 1 valid, 0 problem(s)" in err
    code, _, err = run(capsys, "init", "fraud", "--reference", str(project / "reference.parquet"))
    assert code == 1 and f"{config}: (file): exists -- pass --force" in err


def breast_cancer_reference(rows: int = 400) -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame.head(rows)
    rng = np.random.default_rng(0)
    score = rng.random(len(data))
    data.insert(0, "prediction_id", [f"p{i}" for i in range(len(data))])
    data.insert(0, "ts", pd.date_range("2026-09-01", periods=len(data), freq="h", tz="UTC"))
    data["score"] = score
    data["prediction"] = (score >= 0.5).astype("int64")
    return data


def test_sklearn_names_with_spaces_work_end_to_end(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reference = breast_cancer_reference()
    assert "mean radius" in reference.columns
    reference.to_csv(project / "reference.csv", index=False)
    (project / "log").mkdir()
    reference.drop(columns=["target"]).to_csv(project / "log" / "day.csv", index=False)
    code, _, err = run(
        capsys, "init", "cancer", "--reference", str(project / "reference.csv"), "--predictions", "../../log/*.csv"
    )
    assert code == 0, err
    config = project / "dags" / "models" / "cancer.yaml"
    text = config.read_text()
    assert '    "mean radius": numerical' in text
    model = load_config(config).model
    assert len(model.predictions.features) == 30 and "target" not in model.predictions.features
    assert model.predictions.source.kind == "csv"
    suite = json.loads((project / "expectations" / "cancer.json").read_text())
    assert any(e["kwargs"].get("column") == "mean radius" for e in suite["expectations"])
    code, lines, err = run(capsys, "validate", str(config))
    assert (code, lines) == (0, []), lines


def test_without_a_log_the_placeholder_says_what_to_fill_in(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.DataFrame({"x": [1.5, 2.5, 3.5, 4.5, 5.5, 6.5], "colour": list("rgbrgb"), "y": [0, 1, 0, 1, 0, 1]})
    frame.to_parquet(project / "ref.parquet")
    code, lines, _ = run(capsys, "init", "tiny_model", "--reference", str(project / "ref.parquet"), "--no-suite")
    config = project / "dags" / "models" / "tiny_model.yaml"
    assert code == 0 and lines[0] == f"wrote {config} (2 features; 6 TODO(s) to fill in)"
    text = config.read_text()
    assert "  timestamp: TODO_timestamp_column   # TODO: when the prediction was made" in text
    assert "  score: TODO_score_column   # TODO: probability of the positive class" in text
    assert "quality:" not in text
    code, lines, _ = run(capsys, "validate", str(config))
    assert code == 1
    assert lines[0].startswith(f"{config}: predictions.source.path: no parquet file matches") and "TODO" in lines[0]


def test_multiclass_and_regression_are_recognised(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from watchkeeper.scaffold import infer

    rng = np.random.default_rng(1)
    probs = rng.dirichlet([1, 1, 1], 90)
    iris = pd.DataFrame(
        {
            "sepal length (cm)": rng.normal(5, 1, 90),
            "species": rng.choice(["a", "b", "c"], 90),
            "p_setosa": probs[:, 0],
            "p_versicolor": probs[:, 1],
            "p_virginica": probs[:, 2],
            "predicted_class": rng.choice(["setosa", "versicolor", "virginica"], 90),
        }
    )
    found = infer(iris)
    assert str(found.task) == "multiclass_classification"
    assert found.scores == {"setosa": "p_setosa", "versicolor": "p_versicolor", "virginica": "p_virginica"}
    assert set(found.features) == {"sepal length (cm)", "species"}
    house = pd.DataFrame({"rooms": rng.integers(1, 9, 50), "prediction": rng.normal(3e5, 5e4, 50)})
    found = infer(house)
    assert str(found.task) == "regression" and found.roles["score"] is None
    assert str(found.features["rooms"][0]) == "numerical"
    flags = pd.DataFrame({"flag": rng.integers(0, 2, 50), "prediction": rng.integers(0, 2, 50)})
    assert str(infer(flags).features["flag"][0]) == "categorical"


def test_bad_model_name_and_reference(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd.DataFrame({"x": [1.0]}).to_parquet(project / "r.parquet")
    code, _, err = run(capsys, "init", "Bad-Name", "--reference", str(project / "r.parquet"))
    assert code == 1 and "not a valid model name" in err
    code, _, err = run(capsys, "init", "m", "--reference", str(project / "r.xlsx"))
    assert code == 1 and "not a .csv or .parquet file" in err


def test_dag_files_writes_the_shards_and_removes_stale_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dags = tmp_path / "dags"
    code, lines, _ = run(capsys, "dag-files", str(dags), "--shards", "4")
    assert code == 0 and lines == [f"wrote 4 DAG file(s) in {dags / 'watchkeeper_shards'}"]
    assert sorted(p.name for p in (dags / "watchkeeper_shards").iterdir()) == [f"shard_0{i}_of_04.py" for i in range(4)]
    assert (dags / "models").is_dir()
    (dags / "watchkeeper_shards" / "mine.py").write_text("# a user file is never removed\n")
    code, lines, _ = run(capsys, "dag-files", str(dags))
    assert code == 0
    names = sorted(p.name for p in (dags / "watchkeeper_shards").iterdir())
    assert names == sorted([*(f"shard_{i:02d}_of_16.py" for i in range(16)), "mine.py"])
    assert run(capsys, "dag-files", str(dags))[1] == ["DAG files are up to date"]
    repo = Path(__file__).resolve().parents[3] / "dags" / "watchkeeper_shards"
    for path in repo.iterdir():  # the project's DAG files are exactly what the command writes
        assert path.read_text() == (dags / "watchkeeper_shards" / path.name).read_text()
