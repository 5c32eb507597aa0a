"""Names in the checks' config resolve at load against the drift-test catalog, with did-you-mean."""

from __future__ import annotations

import pytest

from support import TinyModel
from watchkeeper.catalogs.monitor import DRIFT_TEST_KINDS, DRIFT_TESTS, METRICS
from watchkeeper.config.checks import DriftSettings, QualitySettings
from watchkeeper.drift.registry import available_tests, get_drift_test
from watchkeeper.exceptions import ConfigError


@pytest.mark.parametrize(
    ("drift", "expected"),
    [
        ({"numerical_method": "psy"}, "drift.numerical_method: unknown drift test 'psy' -- did you mean 'psi'?"),
        ({"thresholds": {"pis": {"warning": 0.1}}}, "thresholds for unknown drift test 'pis' -- did you mean 'psi'?"),
        (
            {"features": {"amount": {"method": "nosuch_test"}}},
            "unknown drift test 'nosuch_test' -- use one of: auto, chisquare",
        ),
        ({"categorical_method": "ks"}, "drift test 'ks' does not apply to categorical features -- use auto or one of"),
        ({"min_sample": 0}, "min_sample"),
    ],
)
def test_unknown_drift_names_fail_validation(tiny: TinyModel, drift: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        tiny.edit(lambda d: d.update(drift=drift))
    assert expected in str(excinfo.value)


def test_catalog_matches_the_registry() -> None:
    assert list(DRIFT_TESTS) == available_tests()
    assert {n: tuple(sorted(get_drift_test(n).kinds)) for n in DRIFT_TESTS} == DRIFT_TEST_KINDS
    assert "duplicate_id_share" in METRICS["quality"]


def test_quality_limits_default_to_the_documented_levels() -> None:
    quality = QualitySettings()
    assert (quality.missing_share.warning, quality.missing_share.critical) == (0.05, 0.20)
    assert (quality.out_of_range_share.warning, quality.out_of_range_share.critical) == (0.01, 0.05)
    assert (quality.unseen_category_share.warning, quality.unseen_category_share.critical) == (0.0, 0.05)
    assert (quality.nonfinite_count.warning, quality.nonfinite_count.critical) == (1.0, None)
    assert (quality.duplicate_id_share.warning, quality.duplicate_id_share.critical) == (0.0, 0.05)
    assert DriftSettings().min_sample == 100
