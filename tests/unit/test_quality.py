"""Quality helpers: thresholds, volume, GX suite loading errors, suggest-suite."""

from __future__ import annotations

import json

import pytest

from support import TinyModel
from watchkeeper.config import Threshold
from watchkeeper.exceptions import ExpectationSuiteError
from watchkeeper.quality import judge, load_suite_dict, parse_suite, suggest_suite, suite_parameters, volume_result
from watchkeeper.results import Status
from watchkeeper.sources import read_reference


def test_judge_bounds_are_inclusive_and_optional() -> None:
    t = Threshold(warning=0.1, critical=0.2)
    assert [judge(v, t) for v in (0.05, 0.1, 0.15, 0.2, 0.9)] == [
        Status.OK,
        Status.WARNING,
        Status.WARNING,
        Status.CRITICAL,
        Status.CRITICAL,
    ]
    assert judge(5.0, Threshold(warning=None, critical=10)) is Status.OK
    assert judge(None, t) is Status.OK and judge(1.0, None) is Status.OK


def test_volume_without_known_expectation(tiny: TinyModel) -> None:
    result = volume_result(tiny.config(), 10, 24.0, {"rows_per_day": None})
    assert result.status is Status.OK and "set quality.volume.expected_rows_per_day" in result.message
    high = volume_result(tiny.config(), 5000, 24.0, {"rows_per_day": 1000})
    assert high.status is Status.WARNING and high.message == "5000 rows vs 1000 expected (500%)"


def test_missing_suite_file_says_how_to_create_it(tiny: TinyModel) -> None:
    cfg = tiny.edit(lambda d: d["quality"].update(suite="nope"))
    with pytest.raises(
        ExpectationSuiteError,
        match=r"quality.suite: suite file .*nope.json does not exist -- "
        r"create it with `watchkeeper suggest-suite tiny`",
    ):
        load_suite_dict(cfg)


def test_invalid_json_and_non_suite(tiny: TinyModel) -> None:
    path = tiny.root / "expectations" / "tiny.json"
    path.write_text('{"name": "tiny", "expectations": [}')
    with pytest.raises(ExpectationSuiteError, match=r"tiny.json: line 1: invalid JSON"):
        load_suite_dict(tiny.config())
    path.write_text('{"name": "tiny"}')
    with pytest.raises(ExpectationSuiteError, match="not a GX suite"):
        load_suite_dict(tiny.config())


def test_unknown_expectation_type_does_not_parse(tiny: TinyModel) -> None:
    path = tiny.root / "expectations" / "tiny.json"
    path.write_text(json.dumps({"name": "tiny", "expectations": [{"type": "expect_magic", "kwargs": {}}]}))
    with pytest.raises(ExpectationSuiteError, match="does not parse as a GX 1.x suite"):
        parse_suite(tiny.config())


def test_suggested_suite_round_trips_and_passes_on_reference(tiny: TinyModel) -> None:
    import great_expectations as gx

    cfg = tiny.config()
    reference = read_reference(cfg)
    data = suggest_suite(cfg, reference)
    assert data["name"] == "tiny"
    types = [e["type"] for e in data["expectations"]]
    assert types.count("expect_column_values_to_be_between") == 3  # amount, age (baseline-bound), score
    assert "expect_column_values_to_be_in_set" in types
    suite = gx.ExpectationSuite(**json.loads(json.dumps(data)))
    from watchkeeper.baseline import build_baseline

    params = suite_parameters(build_baseline(cfg, reference))
    assert params["amount_max"] == pytest.approx(float(reference["amount"].max()))
    ctx = gx.get_context(mode="ephemeral")
    batch = (
        ctx.data_sources.add_pandas("p")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("b")
        .get_batch(batch_parameters={"dataframe": reference})
    )
    assert batch.validate(suite, expectation_parameters=params).success
