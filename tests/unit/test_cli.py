"""The watchkeeper command: validate, schema, check, baseline, suggest-suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from support import TinyModel
from watchkeeper.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_valid_model(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", str(tiny.path))
    assert (code, out) == (0, "")
    assert "1 config(s) checked, 1 valid, 0 problem(s)" in err


def test_validate_lists_every_problem_with_fixes(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    def change(d: dict) -> None:
        d["predictions"]["features"]["amout"] = d["predictions"]["features"].pop("amount")
        d["reference"]["source"]["path"] = "../../missing.parquet"
        d["quality"]["suite"] = "nope"

    tiny.edit(change)
    broken = tiny.path.parent / "broken.yaml"
    broken.write_text("name: broken\nowner: x\ntask: regression\nschedul: '@daily'\n")
    code, out, err = run(capsys, "validate", str(tiny.path.parent))
    lines = out.splitlines()
    assert code == 1
    assert f"{broken}: schedul: unknown key 'schedul' -- did you mean 'schedule'?" in lines
    assert f"{broken}: predictions: Field required -- add this required key" in lines
    assert any(line.startswith(f"{tiny.path}: reference.source.path: no parquet file matches") for line in lines)
    assert any(
        line.startswith(f"{tiny.path}: quality.suite: suite file") and "does not exist" in line for line in lines
    )
    assert "2 config(s) checked, 0 valid" in err


def test_validate_flags_column_missing_from_reference(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    tiny.edit(lambda d: d["predictions"]["features"].update(amout="numerical"))
    code, out, _ = run(capsys, "validate", str(tiny.path))
    assert code == 1
    assert out.splitlines() == [
        f"{tiny.path}: predictions.features.amout: column 'amout' is not in the prediction log "
        f"({tiny.root / 'log' / 'day.parquet'}) -- did you mean 'amount'?",
        f"{tiny.path}: predictions.features.amout: column 'amout' is not in the reference data "
        f"({tiny.root / 'reference.parquet'}) -- did you mean 'amount'?",
    ]


def test_validate_project_demo_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", "--schema-only", str(ROOT / "dags" / "models"))
    assert (code, out) == (0, "")


def test_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0 and json.loads(out)["title"] == "ModelConfig"


def test_check_json_prints_one_object_per_result(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "tiny", "--start", "2026-10-01", "--end", "2026-10-02", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) > 20
    assert set(rows[0]) >= {"model", "window", "check", "metric", "subject", "value", "threshold", "status", "message"}
    assert rows[0]["window"] == {"start": "2026-10-01T00:00:00+00:00", "end": "2026-10-02T00:00:00+00:00"}
    assert {r["status"] for r in rows} <= {"ok", "skipped"}


def test_check_records_idempotently_and_fail_on(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    from watchkeeper.store import MetricStore

    args = ("check", "tiny", "--start", "2026-12-01", "--end", "2026-12-02")  # empty window
    code, out, _ = run(capsys, *args, "--fail-on", "critical")
    assert code == 3 and "CRIT quality.row_count: no data in window" in out
    count = len(MetricStore().metrics("tiny"))
    assert run(capsys, *args)[0] == 0
    assert len(MetricStore().metrics("tiny")) == count
    assert run(capsys, "check", "tiny", "--start", "2026-10-01", "--end", "2026-10-02", "--dry-run")[0] == 0
    assert len(MetricStore().metrics("tiny")) == count


def test_check_errors_are_one_clear_line(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "tiyn", "--start", "2026-10-01", "--end", "2026-10-02")
    assert code == 1 and "no config for model 'tiyn' -- did you mean 'tiny'?" in err
    code, _, err = run(capsys, "check", "tiny", "--start", "2026-10-02", "--end", "2026-10-01")
    assert code == 1 and "--start/--end: window end" in err and "is not after start" in err


def test_baseline_and_suggest_suite(tiny: TinyModel, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "baseline", "tiny")
    assert code == 0 and "4000 reference rows, 3 features profiled" in out
    code, _, err = run(capsys, "suggest-suite", "tiny")
    assert code == 1 and "exists -- pass --force" in err
    target = tmp_path / "suite.json"
    code, out, _ = run(capsys, "suggest-suite", "tiny", "-o", str(target))
    assert code == 0 and f"wrote {target}" in out
    assert json.loads(target.read_text())["name"] == "tiny"
    assert yaml.safe_load(tiny.path.read_text())["quality"]["suite"] == "tiny"


def test_validate_reports_unknown_retraining_dag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    dags = tmp_path / "dags"
    (dags / "models").mkdir(parents=True)
    shutil.copy(ROOT / "dags" / "retrain_demo_fraud.py", dags)
    text = (ROOT / "dags" / "models" / "demo_fraud.yaml").read_text()
    (dags / "models" / "demo_fraud.yaml").write_text(
        text.replace("dag_id: retrain__demo_fraud", "dag_id: retrain__demo_frod")
    )
    code, out, _ = run(capsys, "validate", str(dags / "models" / "demo_fraud.yaml"))
    assert code == 1
    assert (
        f"{dags / 'models' / 'demo_fraud.yaml'}: retraining.dag_id: no DAG 'retrain__demo_frod' in "
        f"{dags} -- did you mean 'retrain__demo_fraud'?"
    ) in out.splitlines()


def test_report_command_writes_a_self_contained_page(
    tiny: TinyModel, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "r.html"
    code, _, err = run(capsys, "report", "tiny", "--start", "2026-10-01", "-o", str(out_file))
    assert code == 1 and "--start/--end: give both" in err
    assert run(capsys, "check", "tiny", "--start", "2026-10-01", "--end", "2026-10-02")[0] == 0
    code, out, _ = run(capsys, "report", "tiny", "--start", "2026-10-01", "--end", "2026-10-02", "-o", str(out_file))
    assert code == 0 and out.strip() == f"wrote {out_file}"
    html = out_file.read_text()
    assert "<svg" in html and "tiny" in html
    assert 'src="http' not in html and 'href="http' not in html


def test_validate_checks_the_labels_source(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    tiny.edit(
        lambda d: d.update(
            performance={
                "labels": {
                    "source": {"kind": "parquet", "path": "../../labels/*.parquet"},
                    "id": "pid",
                    "label": "label",
                }
            }
        )
    )
    code, out, _ = run(capsys, "validate", str(tiny.path))
    assert code == 1
    assert out.startswith(f"{tiny.path}: performance.labels.source.path: no parquet file matches")
