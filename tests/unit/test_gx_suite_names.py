"""GX suites for columns with any name (scikit-learn's ``mean radius``), and the suite dry run used by validate."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from support import TinyModel, make_rows
from watchkeeper.baseline import build_baseline
from watchkeeper.gx_suite import (
    dry_run_suite,
    gx_results,
    parameter_bases,
    parameter_name,
    suggest_suite,
    suite_parameters,
)
from watchkeeper.results import Status
from watchkeeper.sources import read_reference

RENAMES = {"amount": "mean radius", "age": "1st-age", "country": "tumour kind"}


@pytest.fixture
def spaced(tiny: TinyModel) -> TinyModel:
    """The tiny model with feature names GX's parameter grammar cannot take as they are."""
    ref = pd.read_parquet(tiny.root / "reference.parquet").rename(columns=RENAMES)
    ref.to_parquet(tiny.root / "reference.parquet")
    tiny.write_log(make_rows(1000, "2026-10-01", seed=2).rename(columns=RENAMES))

    def change(d: dict) -> None:
        d["predictions"]["features"] = {
            "mean radius": "numerical",
            "1st-age": "numerical",
            "tumour kind": "categorical",
        }

    tiny.edit(change)
    return tiny


def test_parameter_names_are_valid_and_unique() -> None:
    assert parameter_name("amount", "max") == "amount_max"  # valid names are kept: old suites still work
    assert parameter_name("mean radius", "min") == "mean_radius_min"
    assert parameter_name("1st-age", "q99") == "c_1st_age_q99"
    bases = parameter_bases(["mean radius", "mean_radius", "a b", "a-b"])
    assert bases["mean_radius"] == "mean_radius"  # the column that is already a name keeps it
    assert bases["mean radius"].startswith("mean_radius_") and len(set(bases.values())) == 4
    assert bases["a b"] != bases["a-b"]


def test_suggested_suite_for_spaced_columns_parses_and_runs(spaced: TinyModel) -> None:
    cfg = spaced.config()
    reference = read_reference(cfg)
    data = suggest_suite(cfg, reference)
    params = {
        e["kwargs"]["min_value"]["$PARAMETER"]
        for e in data["expectations"]
        if isinstance(e["kwargs"].get("min_value"), dict)
    }
    assert params == {"mean_radius_min", "c_1st_age_min"}
    assert {e["severity"] for e in data["expectations"]} == {"critical", "warning"}
    (spaced.root / "expectations" / "tiny.json").write_text(json.dumps(data))
    assert dry_run_suite(cfg, reference) == []
    baseline = build_baseline(cfg, reference)
    assert {"mean_radius_max", "c_1st_age_max", "tumour_kind_categories"} <= set(suite_parameters(baseline))
    results = gx_results(cfg, reference, baseline)
    assert len(results) == len(data["expectations"])
    assert all(r.status is Status.OK for r in results), [r.message for r in results if r.status is not Status.OK]
    window = make_rows(1000, "2026-10-01", seed=3).rename(columns=RENAMES)
    window.loc[:99, "mean radius"] = 1e9  # 10 % above the reference max: fails mostly=0.99
    by = {r.subject: r for r in gx_results(cfg, window, baseline) if r.metric.endswith("to_be_between")}
    assert by["mean radius"].status is Status.WARNING and by["mean radius"].value == pytest.approx(0.1)


def _write(tiny: TinyModel, expectations: list[dict]) -> None:
    (tiny.root / "expectations" / "tiny.json").write_text(json.dumps({"name": "tiny", "expectations": expectations}))


def test_dry_run_names_file_expectation_and_fix(spaced: TinyModel) -> None:
    cfg = spaced.config()
    reference = read_reference(cfg)
    _write(
        spaced,
        [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "mean radius", "max_value": {"$PARAMETER": "mean radius_max"}},
            },
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "mean radios"}},
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "mean radius", "max_value": {"$PARAMETER": "mean_radius_mx"}},
            },
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "pid"},
                "severity": "critical",
                "meta": {"severity": "warning"},
            },
        ],
    )
    problems = dry_run_suite(cfg, reference)
    prefix = f"{cfg.path}: quality.suite: {spaced.root / 'expectations' / 'tiny.json'}: "
    assert all(p.startswith(prefix) for p in problems)
    text = "\n".join(p.removeprefix(prefix) for p in problems)
    assert (
        "expectation 1 (expect_column_values_to_be_between): $PARAMETER 'mean radius_max' is not a name GX can "
        "parse (a letter, then letters, digits or _) -- write 'mean_radius_max'" in text
    )
    assert (
        "expectation 2 (expect_column_values_to_not_be_null): column 'mean radios' is neither in the reference" in text
    )
    assert "did you mean 'mean radius'?" in text
    assert "$PARAMETER 'mean_radius_mx' is not filled from the baseline -- did you mean 'mean_radius_max'?" in text
    assert "severity 'critical' and meta.severity 'warning' disagree (severity wins) -- remove meta.severity" in text
    assert len(problems) == 4


def test_dry_run_reports_what_gx_cannot_evaluate_on_the_reference(tiny: TinyModel) -> None:
    cfg = tiny.config()
    reference = read_reference(cfg)
    _write(
        tiny,
        [
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": 0}},
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "country", "min_value": 0}},
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "latency", "max_value": 10}},
        ],
    )
    problems = dry_run_suite(cfg, reference)
    assert len(problems) == 1, problems
    assert "expectation 2 (expect_column_values_to_be_between): GX cannot evaluate it on the reference:" in problems[0]
    assert problems[0].endswith("-- fix its kwargs")
    _write(tiny, [{"type": "expect_magic", "kwargs": {}}])
    (problem,) = dry_run_suite(cfg, reference)
    assert problem.startswith(f"{cfg.path}: quality.suite: ") and "does not parse as a GX 1.x suite" in problem


def test_dry_run_without_suite_or_with_missing_file(tiny: TinyModel) -> None:
    cfg = tiny.edit(lambda d: d["quality"].pop("suite"))
    assert dry_run_suite(cfg, read_reference(cfg)) == []
    cfg = tiny.edit(lambda d: d["quality"].update(suite="nope"))
    (problem,) = dry_run_suite(cfg, read_reference(cfg))
    assert "does not exist -- create it with `watchkeeper suggest-suite tiny`" in problem
