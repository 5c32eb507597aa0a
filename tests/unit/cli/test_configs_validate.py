"""`watchkeeper validate`: every bad-input case is one clear line naming file and field, never a traceback.

Validate loads with the same functions as the DAG files, then checks what needs data: columns against
the prediction log's and the reference's schemas, the GX suite (dry run), the DAG build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from support import TinyModel
from watchkeeper.cli import main

ROOT = Path(__file__).resolve().parents[3]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_role_column_typos_are_checked_against_the_log(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    def typos(d: dict) -> None:
        d["predictions"].update(score="scroe", timestamp="tss", latency="latncy", status="stauts", id="pdi")

    tiny.edit(typos)
    code, lines, err = run(capsys, "validate", str(tiny.path))
    log = tiny.root / "log" / "day.parquet"
    assert code == 1
    for field, typo, right in [
        ("timestamp", "tss", "ts"),
        ("id", "pdi", "pid"),
        ("score", "scroe", "score"),
        ("latency", "latncy", "latency"),
        ("status", "stauts", "status"),
    ]:
        line = f"{tiny.path}: predictions.{field}: column '{typo}' is not in the prediction log ({log})"
        assert f"{line} -- did you mean '{right}'?" in lines
    assert "1 config(s) checked, 0 valid" in err
    assert "Traceback" not in err


def test_multiclass_score_columns_are_checked(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    def multiclass(d: dict) -> None:
        d["task"] = "multiclass_classification"
        d["predictions"]["scores"] = {"0": "scroe_0", "1": "p_1"}

    tiny.edit(multiclass)
    code, lines, _ = run(capsys, "validate", str(tiny.path))
    assert code == 1
    log = tiny.root / "log" / "day.parquet"
    assert (
        f"{tiny.path}: predictions.scores.0: column 'scroe_0' is not in the prediction log ({log}) -- "
        "did you mean 'score'?" in lines
    )
    assert any(
        line.startswith(f"{tiny.path}: predictions.scores.1: column 'p_1' is not in the prediction log")
        for line in lines
    )


def test_labels_needed_by_the_reference_performance(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    labels = tiny.root / "labels"
    labels.mkdir()
    tiny.config()
    import pandas as pd

    pd.DataFrame({"pid": ["1"], "y": [1]}).to_parquet(labels / "l.parquet")
    perf = {"labels": {"source": {"kind": "parquet", "path": "../../labels/*.parquet"}, "id": "pid", "label": "labl"}}
    tiny.edit(lambda d: d.update(performance=perf))
    code, lines, _ = run(capsys, "validate", str(tiny.path))
    assert code == 1
    assert any(
        line.startswith(f"{tiny.path}: performance.labels.label: column 'labl' is not in the reference data")
        and "the reference performance (the baseline of performance rules) is computed from it" in line
        for line in lines
    )
    assert any(
        line.startswith(f"{tiny.path}: performance.labels.label: column 'labl' is not in the labels") for line in lines
    )


def test_schedule_rule_keys_and_drift_names_fail_validate(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    text = tiny.path.read_text()
    data = yaml.safe_load(text)
    data["schedule"] = "99 99 * * *"
    data["rules"] = {"service.latency_p95": {"relative_rise": 0.5}}
    tiny.path.write_text(yaml.safe_dump(data))
    code, lines, _ = run(capsys, "validate", str(tiny.path))
    assert code == 1
    assert any(
        line.startswith(f"{tiny.path}: schedule: '99 99 * * *' is not a valid cron expression") for line in lines
    )
    assert (
        f"{tiny.path}: rules.service.latency_p95: 'latency_p95' is not a metric of the service checks, so this "
        "rule would never fire -- did you mean 'latency_p95_ms'?" in lines
    )


def test_broken_files_are_one_line_each_and_others_still_checked(
    tiny: TinyModel, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tiny.path.parent
    (folder / "latin.yaml").write_bytes("name: latin\ndescription: caf\u00e9\n".encode("latin-1"))
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    (folder / "bomb.yaml").write_text(bomb)
    shutil.copy(tiny.path, folder / "tiny.yml")
    code, lines, err = run(capsys, "validate", str(folder))
    assert code == 1
    assert (
        f"{folder / 'latin.yaml'}: line 2: not valid UTF-8 (byte 0xe9 at column 17) -- save the file as UTF-8 "
        "(e.g. `iconv -f latin1 -t utf-8`)" in lines
    )
    assert any(
        line.startswith(f"{folder / 'bomb.yaml'}: line ") and "YAML aliases expand to more than" in line
        for line in lines
    )
    for path in (tiny.path, folder / "tiny.yml"):
        assert (
            f"{path}: name: model 'tiny' is defined by 2 files ({tiny.path} and {folder / 'tiny.yml'}) -- "
            "keep one file per model: delete or rename the others" in lines
        )
    assert "4 config(s) checked, 0 valid, 4 problem(s)" in err
    # the same duplicate is found when one file is named on its own
    code, lines, _ = run(capsys, "validate", str(tiny.path))
    assert code == 1 and "model 'tiny' is defined by 2 files" in lines[0]


def test_gx_suite_is_dry_run_against_the_reference(tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> None:
    suite = tiny.root / "expectations" / "tiny.json"
    data = yaml.safe_load(suite.read_text())
    data["expectations"].append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "amuont"}})
    suite.write_text(yaml.safe_dump(data))  # JSON is YAML: keep the file JSON
    import json

    suite.write_text(json.dumps(data))
    code, lines, _ = run(capsys, "validate", str(tiny.path))
    assert code == 1
    assert any(
        line.startswith(f"{tiny.path}: quality.suite") and "'amuont'" in line and "did you mean 'amount'" in line
        for line in lines
    )


def test_a_crashing_check_is_one_problem_not_a_traceback(
    tiny: TinyModel, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from watchkeeper import validation

    def broken(loaded: object) -> list[str]:
        raise KeyError("boom")

    monkeypatch.setattr(validation, "CHECKS", (broken, *validation.CHECKS))
    code, lines, err = run(capsys, "validate", str(tiny.path))
    assert code == 1
    assert lines == [
        f"{tiny.path}: (broken): could not be checked: KeyError: 'boom' -- fix the file it names, or run "
        "with -v for details"
    ]
    assert "Traceback" not in err


def test_validate_passes_on_the_project_models(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = run(capsys, "validate", "--schema-only", str(ROOT / "dags" / "models"))
    assert (code, lines) == (0, [])
