"""Load-time rules of file sources: path templates, partitioning, partition time zone."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.exceptions import ConfigError

from .helpers import config


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"path": "logs/{yyyy}/{month}/*.parquet"}, "unknown placeholder {month} in the path -- use {yyyy}, {mm}"),
        ({"path": "logs/{yyyy}/{dd}/*.parquet"}, "the path has {dd} without {yyyy} and {mm}"),
        ({"path": "logs/{mm}/*.parquet"}, "the path has {mm} without {yyyy}"),
        ({"path": "logs/{yyyy}/{mm}/{hh}/*.parquet"}, "the path has {hh} without a day"),
        ({"path": "logs/{date}/{yyyy}/*.parquet"}, "the path has both {date} and {yyyy}/{mm}/{dd}"),
        ({"path": "logs/{date}/{date}.parquet"}, "placeholder {date} appears twice in the path"),
        ({"path": "logs/{date}/*.parquet", "partitioning": "none"}, "partitioning is 'none' -- remove one or"),
        ({"path": "logs/*.parquet", "partitioning": "daily"}, "partitioning: Input should be 'auto' or 'none'"),
        ({"path": "logs/*.parquet", "partition_timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_bad_partitioning_is_a_clear_load_error(tmp_path: Path, source: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config(tmp_path, {"kind": "parquet", **source})
    problem = info.value.problems[0]
    assert problem.startswith(f"{tmp_path / 'm.yaml'}: predictions.source")
    assert message in problem


def test_env_vars_are_not_placeholders(tmp_path: Path) -> None:
    cfg = config(tmp_path, {"kind": "csv", "path": "${WATCHKEEPER_HOME}/logs/{yyyy}/{mm}/{dd}.csv"})
    assert cfg.model.predictions.source.kind == "csv"
