"""Model config schema: valid configs load, every kind of mistake gets a precise, fixable message."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

import pytest
import yaml

from watchkeeper.config import (
    FeatureKind,
    TaskType,
    find_config,
    json_schema,
    load_configs,
    parse_config,
    parse_duration,
)
from watchkeeper.exceptions import ConfigError

VALID = {
    "name": "m1",
    "owner": "team-a",
    "task": "binary_classification",
    "predictions": {
        "source": {"kind": "parquet", "path": "data/*.parquet"},
        "timestamp": "ts",
        "id": "id",
        "features": {"amount": "numerical", "country": "categorical"},
        "prediction": "label",
        "score": "score",
    },
    "reference": {"source": {"kind": "csv", "path": "ref.csv"}},
}


def parse(data: dict, name: str = "m1") -> object:
    return parse_config(Path(f"dags/models/{name}.yaml"), yaml.safe_dump(data))


def with_(path: str, value: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(VALID))
    node = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return data


def problems(data: dict, name: str = "m1") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(data, name)
    return info.value.problems


def test_valid_config_loads_with_defaults() -> None:
    loaded = parse(VALID)
    model = loaded.model  # type: ignore[attr-defined]
    assert model.task is TaskType.BINARY_CLASSIFICATION
    assert model.predictions.features["amount"] is FeatureKind.NUMERICAL
    assert model.schedule == "@daily"
    assert model.start_date.tzinfo is UTC
    assert model.quality.freshness_max_lag == timedelta(hours=2)
    assert model.drift.numerical_method == "auto"


def test_config_is_frozen() -> None:
    model = parse(VALID).model  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="frozen"):
        model.owner = "x"


def test_unknown_top_level_key_suggests_the_right_one() -> None:
    data = dict(VALID, schedul="@daily")
    assert problems(data) == ["dags/models/m1.yaml: schedul: unknown key 'schedul' -- did you mean 'schedule'?"]


def test_unknown_nested_key_in_source_suggests_path() -> None:
    data = with_("predictions.source", {"kind": "parquet", "pth": "x.parquet"})
    found = problems(data)
    assert "dags/models/m1.yaml: predictions.source.pth: unknown key 'pth' -- did you mean 'path'?" in found
    assert "dags/models/m1.yaml: predictions.source.path: Field required -- add this required key" in found


def test_unknown_key_without_close_match_lists_allowed_keys() -> None:
    data = with_("quality.zzzz", 1)
    (msg,) = problems(data)
    assert msg.startswith("dags/models/m1.yaml: quality.zzzz: unknown key 'zzzz' -- remove it (allowed keys: ")
    assert "freshness_max_lag" in msg and "suite" in msg


def test_wrong_type_names_field_and_values() -> None:
    data = with_("predictions.features.country", "categoricl")
    (msg,) = problems(data)
    assert msg == (
        "dags/models/m1.yaml: predictions.features.country: Input should be 'numerical' or "
        "'categorical' -- use one of the values listed"
    )


def test_every_problem_is_listed_at_once() -> None:
    data = dict(with_("task", "clustering"), owner=None, schedul="x")
    found = problems(data)
    assert len(found) == 3
    assert {p.split(": ")[1] for p in found} == {"task", "owner", "schedul"}


def test_unknown_source_kind() -> None:
    (msg,) = problems(with_("reference.source", {"kind": "excel", "path": "x.xlsx"}))
    assert "reference.source" in msg and "'csv', 'parquet', 'sql'" in msg


def test_sql_source_requires_bound_parameters_not_formatting() -> None:
    src = {"kind": "sql", "url": "sqlite:///x.db", "query": "select * from t where ts >= '{start}'"}
    (msg,) = problems(with_("predictions.source", src))
    assert msg.endswith("the query formats the window into the string -- use the bound parameters :start and :end")


def test_sql_source_rejects_literal_password() -> None:
    src = {"kind": "sql", "url": "postgresql://u:hunter2@h/db", "query": "select 1"}
    (msg,) = problems(with_("reference.source", src))
    assert "literal password" in msg and "hunter2" not in msg


def test_sql_source_accepts_env_password_and_conn_id() -> None:
    ok = {"kind": "sql", "url": "postgresql+psycopg://u:${PGPASS}@h/db", "query": "select 1"}
    assert parse(with_("reference.source", ok))
    assert parse(with_("reference.source", {"kind": "sql", "conn_id": "warehouse", "query": "select 1"}))
    (msg,) = problems(with_("reference.source", {"kind": "sql", "query": "select 1"}))
    assert "give exactly one of 'url' or 'conn_id'" in msg


def test_binary_classifier_needs_a_score() -> None:
    data = with_("predictions.score", None)
    (msg,) = problems(data)
    assert "predictions.score is required for binary_classification" in msg


def test_drift_override_for_unknown_feature() -> None:
    (msg,) = problems(with_("drift.features", {"amout": {"method": "ks"}}))
    assert "drift.features names ['amout'] which are not in predictions.features" in msg


def test_feature_cannot_also_be_a_role_column() -> None:
    (msg,) = problems(with_("predictions.features.ts", "numerical"))
    assert "both a feature and a role column" in msg


def test_bad_duration_threshold_schedule_and_timezone() -> None:
    assert "not a duration" in problems(with_("quality.freshness_max_lag", "2 days"))[0]
    assert (
        "critical (0.1) is below warning (0.5) -- swap them"
        in problems(with_("service.error_rate", {"warning": 0.5, "critical": 0.1}))[0]
    )
    assert "is not a cron expression" in problems(with_("schedule", "every day"))[0]
    assert "unknown time zone 'Mars/Olympus'" in problems(with_("predictions.timezone", "Mars/Olympus"))[0]


def test_name_must_match_file_and_be_identifier() -> None:
    with pytest.raises(ConfigError, match="differs from the file name 'other' -- rename the file"):
        parse(VALID, name="other")
    assert "not a valid model name" in problems(with_("name", "Bad-Name"), name="Bad-Name")[0]


def test_invalid_yaml_and_non_mapping() -> None:
    with pytest.raises(ConfigError, match=r"x\.yaml: line 2: invalid YAML"):
        parse_config(Path("x.yaml"), "name: a\n  owner: : b\n")
    with pytest.raises(ConfigError, match="expected a mapping of keys, got list"):
        parse_config(Path("x.yaml"), "- a\n- b\n")


def test_parse_duration() -> None:
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("3d") == timedelta(days=3)
    assert parse_duration(90) == timedelta(seconds=90)
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration("soon")


def test_load_configs_isolates_broken_files(tmp_path: Path) -> None:
    (tmp_path / "m1.yaml").write_text(yaml.safe_dump(VALID))
    (tmp_path / "broken.yaml").write_text("name: broken\nowner: x\n")
    good, bad = load_configs(tmp_path)
    assert [c.model.name for c in good] == ["m1"]
    assert list(bad) == [tmp_path / "broken.yaml"]
    assert any("task: Field required" in p for p in bad[tmp_path / "broken.yaml"].problems)


def test_find_config_suggests_known_model(tmp_path: Path) -> None:
    (tmp_path / "m1.yaml").write_text(yaml.safe_dump(VALID))
    assert find_config("m1", tmp_path).model.name == "m1"
    with pytest.raises(ConfigError, match="no config for model 'm1x' -- did you mean 'm1'"):
        find_config("m1x", tmp_path)
    with pytest.raises(ConfigError, match="no config for model 'zz' -- known models: m1"):
        find_config("zz", tmp_path)


def test_json_schema_documents_fields() -> None:
    schema = json_schema()
    assert schema["additionalProperties"] is False
    assert "description" in schema["properties"]["owner"]
    assert set(schema["required"]) >= {"name", "owner", "task", "predictions", "reference"}


def test_yaml_cache_never_serves_stale_content(tmp_path: Path) -> None:
    (tmp_path / "m1.yaml").write_text(yaml.safe_dump(VALID))
    first, _ = load_configs(tmp_path)
    assert first[0].model.owner == "team-a"
    (tmp_path / "m1.yaml").write_text(yaml.safe_dump(dict(VALID, owner="team-b", start_date="2026-03-04")))
    second, _ = load_configs(tmp_path)  # served from a cache keyed by content: the edit is seen
    assert second[0].model.owner == "team-b"
    assert second[0].model.start_date.isoformat() == "2026-03-04T00:00:00+00:00"
    third, _ = load_configs(tmp_path)
    assert third[0].model == second[0].model


def test_alert_settings_durations_and_quiet_hours_zone() -> None:
    alerts = {
        "cooldown": "12h",
        "quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Europe/Paris"},
        "severity_channels": {"critical": "#oncall"},
    }
    model = parse(with_("alerts", alerts)).model  # type: ignore[attr-defined]
    assert model.alerts.cooldown == timedelta(hours=12)
    assert (
        "unknown time zone 'Nowhere/City'"
        in problems(with_("alerts", {"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Nowhere/City"}}))[0]
    )
    assert "quiet_hours.start" in problems(with_("alerts", {"quiet_hours": {"start": "25:00", "end": "07:00"}}))[0]


def test_rules_keys_and_relative_shorthand() -> None:
    model = parse(with_("rules", {"service.latency_p95_ms": {"relative_rise": 0.5}})).model  # type: ignore[attr-defined]
    assert model.rules["service.latency_p95_ms"].relative_rise.warning == 0.5
    (msg,) = problems(with_("rules", {"latency": {"relative_rise": 0.5}}))
    assert "rules key 'latency' is not 'check.metric' or 'check.metric[subject]'" in msg


def test_performance_segments_must_be_log_columns() -> None:
    perf = {"labels": {"source": {"kind": "csv", "path": "l.csv"}, "id": "id", "label": "y"}, "segments": ["zip"]}
    (msg,) = problems(with_("performance", perf))
    assert "performance.segments names ['zip'] which are not prediction-log columns" in msg


def test_performance_rules_are_checked_against_the_models_task() -> None:
    perf = {"labels": {"source": {"kind": "csv", "path": "l.csv"}, "id": "id", "label": "y"}}
    (msg,) = problems(with_("performance", {**perf, "rules": {"mae": {"relative_rise": 0.1}}}))
    assert "mae" in msg
    assert "binary_classification" in msg
