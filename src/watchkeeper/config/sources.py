"""Config schema of data sources (csv, parquet, sql). Imported at DAG parse time: keep it light."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from watchkeeper.config.common import _ENV_RE, _Model, expand_env


class _FileSource(_Model):
    path: str = Field(description="File path or glob; relative paths are relative to the config file. ${VAR} expands.")

    def resolved_path(self, base: Path) -> str:
        """The path with environment variables expanded, made absolute against ``base``."""
        text = expand_env(self.path)
        return text if Path(text).is_absolute() else str(base / text)


class CsvSource(_FileSource):
    """Rows from one CSV file or a glob of CSV files."""

    kind: Literal["csv"] = "csv"


class ParquetSource(_FileSource):
    """Rows from one Parquet file or a glob of Parquet files."""

    kind: Literal["parquet"] = "parquet"


class SqlSource(_Model):
    """Rows from a SQL query. Window bounds are the bound parameters ``:start`` and ``:end``."""

    kind: Literal["sql"] = "sql"
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Put passwords in an environment variable: "
        "postgresql+psycopg://user:${PGPASSWORD}@host/db",
    )
    conn_id: str | None = Field(default=None, description="Airflow connection id (alternative to url).")
    query: str = Field(description="SELECT statement; for windowed sources filter with :start and :end.")

    @model_validator(mode="after")
    def _one_target(self) -> SqlSource:
        if (self.url is None) == (self.conn_id is None):
            raise ValueError("give exactly one of 'url' or 'conn_id' -- a SQLAlchemy URL or an Airflow connection id")
        if self.url is not None:
            creds = self.url.partition("://")[2].rpartition("@")[0]
            password = creds.partition(":")[2]
            if password and not _ENV_RE.fullmatch(password):
                raise ValueError(
                    "the url contains a literal password -- never commit secrets: write ${SOME_ENV_VAR} "
                    "in its place or use an Airflow connection (conn_id)"
                )
        if re.search(r"\{\s*(start|end)\s*\}|%\(?(start|end)", self.query):
            raise ValueError("the query formats the window into the string -- use the bound parameters :start and :end")
        return self


Source = Annotated[CsvSource | ParquetSource | SqlSource, Field(discriminator="kind")]
