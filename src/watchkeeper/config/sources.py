"""Config schema of data sources (csv, parquet, sql). Imported at DAG parse time: keep it light.

Each kind's fields and load-time rules live here; its reading, pushdown and fingerprint live in the
matching class of :mod:`watchkeeper.sources` (the registry ``READERS``), which names this model as its
``config``. The names used here (kinds, path placeholders, hive keys, secret query keys) come from
:mod:`watchkeeper.catalogs.sources`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from watchkeeper.catalogs.sources import PLACEHOLDER_RE, PLACEHOLDERS, url_problems
from watchkeeper.config.common import _check_zone, _Model, expand_env


def template_problems(path: str) -> list[str]:
    """What is wrong with the ``{yyyy}``/``{mm}``/``{dd}``/``{hh}``/``{date}`` placeholders of a path."""
    names = PLACEHOLDER_RE.findall(path)
    known = ", ".join("{" + n + "}" for n in PLACEHOLDERS)
    problems = [
        f"unknown placeholder {{{name}}} in the path -- use {known} (or ${{VAR}} for an environment variable)"
        for name in dict.fromkeys(names)
        if name not in PLACEHOLDERS
    ]
    if problems:
        return problems
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        return [f"placeholder {{{repeated[0]}}} appears twice in the path -- write each placeholder once"]
    has = set(names)
    if "date" in has and has & {"yyyy", "mm", "dd"}:
        return ["the path has both {date} and {yyyy}/{mm}/{dd} -- use one or the other"]
    if "dd" in has and not {"yyyy", "mm"} <= has:
        return ["the path has {dd} without {yyyy} and {mm} -- a day folder needs its year and month"]
    if "mm" in has and "yyyy" not in has:
        return ["the path has {mm} without {yyyy} -- a month folder needs its year"]
    if "hh" in has and not has & {"dd", "date"}:
        return ["the path has {hh} without a day ({dd} or {date}) -- an hour folder needs its day"]
    return []


class _FileSource(_Model):
    path: str = Field(
        description="File path or glob; relative paths are relative to the config file. ${VAR} expands. "
        "Time placeholders {yyyy}, {mm}, {dd}, {hh} or {date} (YYYY-MM-DD) mark partition folders or names, "
        "e.g. logs/{yyyy}/{mm}/{dd}/*.parquet: a run opens only the files of its window."
    )
    partitioning: Literal["auto", "none"] = Field(
        default="auto",
        description="auto: skip files whose partition lies outside the window, read from the path's "
        "placeholders or from hive-style names (date=2026-10-05/hour=03, year=/month=/day=, dt=, ds=) in the "
        "part of the path the glob matches; none: open every file the glob matches.",
    )
    partition_timezone: str | None = Field(
        default=None,
        description="Time zone of partition values (default: the prediction log's timezone, UTC unless set).",
    )

    @field_validator("partition_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else _check_zone(value)

    @field_validator("path")
    @classmethod
    def _valid_template(cls, value: str) -> str:
        problems = template_problems(value)
        if problems:
            raise ValueError(problems[0])
        return value

    @model_validator(mode="after")
    def _placeholders_need_partitioning(self) -> _FileSource:
        if self.partitioning == "none" and PLACEHOLDER_RE.search(self.path):
            raise ValueError(
                "the path has partition placeholders but partitioning is 'none' -- remove one or the other"
            )
        return self

    def resolved_path(self, base: Path) -> str:
        """The path with environment variables expanded, made absolute against ``base`` (placeholders kept)."""
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
        description="SQLAlchemy URL. Put passwords (also query-string ones such as ?password=) in an "
        "environment variable: postgresql+psycopg://user:${PGPASSWORD}@host/db",
    )
    conn_id: str | None = Field(default=None, description="Airflow connection id (alternative to url).")
    query: str = Field(description="SELECT statement; for windowed sources filter with :start and :end.")
    pushdown: bool = Field(
        default=True,
        description="Profile a window of the prediction log inside the database: one aggregation query returns "
        "the bucket, category and null counts (O(bins) rows), only the columns of row-level parts (performance "
        "estimator, multivariate detector, latency) stream. false: stream every wanted column. See "
        "docs/sources.md (Pushdown into the warehouse).",
    )

    @field_validator("url")
    @classmethod
    def _no_literal_secret(cls, value: str | None) -> str | None:
        problems = [] if value is None else url_problems(value)
        if problems:
            raise ValueError(problems[0])
        return value

    @field_validator("query")
    @classmethod
    def _bound_window(cls, value: str) -> str:
        if re.search(r"\{\s*(start|end)\s*\}|%\(?(start|end)", value):
            raise ValueError("the query formats the window into the string -- use the bound parameters :start and :end")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> SqlSource:
        if (self.url is None) == (self.conn_id is None):
            raise ValueError("give exactly one of 'url' or 'conn_id' -- a SQLAlchemy URL or an Airflow connection id")
        return self


Source = Annotated[CsvSource | ParquetSource | SqlSource, Field(discriminator="kind")]
