"""Secrets in SQL URLs: refused when literal (user:password and query string), masked in every message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from watchkeeper.catalogs.sources import mask_secrets, mask_url, secret_key, url_problems
from watchkeeper.config import parse_config
from watchkeeper.exceptions import ConfigError

FIX = "never commit secrets: write ${SOME_ENV_VAR} in its place or use an Airflow connection (conn_id)"


def problems_of(tmp_path: Path, url: str) -> list[str]:
    data = {
        "name": "m",
        "owner": "o",
        "task": "regression",
        "predictions": {
            "source": {"kind": "sql", "url": url, "query": "SELECT * FROM t WHERE ts >= :start AND ts < :end"},
            "timestamp": "ts",
            "id": "id",
            "features": {"x": "numerical"},
            "prediction": "y",
        },
        "reference": {"source": {"kind": "csv", "path": "ref.csv"}},
    }
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        parse_config(path, path.read_text())
    return info.value.problems


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u:hunter2@h/db", f"the url contains a literal password -- {FIX}"),
        (
            "postgresql://u@h/db?password=hunter2",
            f"the url's query string carries a literal secret (password=...) -- {FIX}",
        ),
        ("postgresql://u@h/db?sslmode=require&sslpassword=x1", "carries a literal secret (sslpassword=...)"),
        ("snowflake://u@acct/db?private_key_file_pwd=x1", "carries a literal secret (private_key_file_pwd=...)"),
        ("trino://u@h:8080/hive?access_token=abc", "carries a literal secret (access_token=...)"),
        ("postgresql://u@h:port/db", "the url's port 'port' is not a number"),
        ("not a url at all", "'not a url at all' is not a SQLAlchemy URL -- write dialect+driver://"),
    ],
)
def test_config_refuses_literal_secrets_and_malformed_urls(tmp_path: Path, url: str, message: str) -> None:
    (problem,) = problems_of(tmp_path, url)
    assert problem.startswith(f"{tmp_path / 'm.yaml'}: predictions.source.url: ")
    assert message in problem
    assert "hunter2" not in problem and "\n" not in problem


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://u:${PGPASSWORD}@h:5432/db",
        "postgresql+psycopg://u@h/db?password=${PGPASSWORD}&sslmode=require",
        "postgresql://u@h/db?passfile=/run/secrets/pgpass&sslkey=/k.pem",  # paths, not secrets
        "snowflake://u@acct/db?private_key_file=/keys/rsa.p8",
        "sqlite:///relative/file.db",
        "postgresql://u@h:${PGPORT}/db",
    ],
)
def test_env_vars_and_paths_are_accepted(url: str) -> None:
    assert url_problems(url) == []


def test_mask_url_hides_password_and_secret_query_values() -> None:
    url = "postgresql+psycopg://me:p%40ss@db.example.com:5432/analytics?sslmode=require&password=x1&api_key=k2"
    assert mask_url(url) == (
        "postgresql+psycopg://me:***@db.example.com:5432/analytics?sslmode=require&password=***&api_key=***"
    )
    assert mask_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert mask_url("weird thing://u:pw@h") == "weird thing://u:***@h"  # not a URL: credentials masked anyway


def test_mask_secrets_in_driver_messages_also_decoded() -> None:
    url = "postgresql://me:p%40ss@h/db?sslpassword=s%2Fk"
    text = 'connection failed for me with password "p@ss" (p%40ss), sslpassword s/k'
    assert mask_secrets(text, url) == 'connection failed for me with password "***" (***), sslpassword ***'


def test_secret_keys() -> None:
    assert all(map(secret_key, ["password", "PASSWORD", "sslpassword", "pwd", "token", "client_secret", "apikey"]))
    assert not any(map(secret_key, ["passfile", "private_key_file", "credentials_path", "sslmode", "user"]))


def test_each_kind_masks_its_own_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from watchkeeper.config import SqlSource
    from watchkeeper.sources import reader_for

    monkeypatch.setenv("WK_PW", "hunter2-x")
    source = SqlSource(url="postgresql://u:${WK_PW}@h/db?sslpassword=${WK_PW}", query="SELECT 1")
    text = "failed for postgresql://u:hunter2-x@h/db?sslpassword=hunter2-x"
    assert reader_for("sql").mask(source, text) == "failed for postgresql://u:***@h/db?sslpassword=***"
    assert reader_for("sql").describe(source) == "sql postgresql://u:***@h/db?sslpassword=***"
    assert reader_for("csv").mask(source, "nothing secret") == "nothing secret"
