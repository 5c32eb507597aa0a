"""Data sources: read a window of the prediction log, or the reference data, into pandas.

Each source kind is a small reader class registered by name (``csv``, ``parquet``, ``sql``); the
config's ``kind`` picks it. Window bounds reach SQL only as bound parameters ``:start``/``:end``.
"""

from __future__ import annotations

import glob
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import pandas as pd

from watchkeeper.config import CsvSource, ParquetSource, PredictionLog, SqlSource, expand_env
from watchkeeper.exceptions import DataError, SourceError, UnknownNameError
from watchkeeper.results import Window
from watchkeeper.settings import mask_url

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig

log = logging.getLogger(__name__)

AnySource = CsvSource | ParquetSource | SqlSource


@dataclass
class Frame:
    """Rows read from a source plus what the reader noticed on the way."""

    df: pd.DataFrame
    missing_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    naive_timestamps: bool = False
    unparseable_timestamps: int = 0
    all_columns: list[str] = field(default_factory=list)


class SourceReader:
    """Reads one source kind. Subclasses set ``kind`` and implement :meth:`read`."""

    kind: ClassVar[str]

    def read(self, source: AnySource, base: Path, columns: list[str] | None, window: Window | None) -> pd.DataFrame:
        """All rows (or, for SQL with ``window``, the window's rows) with the wanted columns when known."""
        raise NotImplementedError

    def fingerprint(self, source: AnySource, base: Path) -> str | None:
        """A cheap content hash of the source, or None when only the data itself can tell."""
        return None


def expand_files(source: CsvSource | ParquetSource, base: Path) -> list[str]:
    pattern = source.resolved_path(base)
    files = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else ([pattern] if Path(pattern).exists() else [])
    if not files:
        raise SourceError(
            f"no {source.kind} file matches {pattern!r} -- check the path in the config "
            f"(relative paths are relative to {base})"
        )
    return files


def _hash_files(files: list[str]) -> str:
    digest = hashlib.sha256()
    for name in files:
        digest.update(Path(name).name.encode())
        with open(name, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


class CsvReader(SourceReader):
    """CSV files (one or a glob)."""

    kind = "csv"

    def read(self, source: AnySource, base: Path, columns: list[str] | None, window: Window | None) -> pd.DataFrame:
        assert isinstance(source, CsvSource)
        frames = []
        for name in expand_files(source, base):
            try:
                wanted = None if columns is None else (lambda c, keep=set(columns): c in keep)
                frames.append(pd.read_csv(name, usecols=wanted))
            except (OSError, ValueError, pd.errors.ParserError) as exc:
                raise SourceError(f"cannot read CSV {name}: {exc} -- check the file") from exc
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def fingerprint(self, source: AnySource, base: Path) -> str | None:
        assert isinstance(source, CsvSource)
        return _hash_files(expand_files(source, base))


class ParquetReader(SourceReader):
    """Parquet files (one or a glob). Only the wanted columns are read."""

    kind = "parquet"

    def read(self, source: AnySource, base: Path, columns: list[str] | None, window: Window | None) -> pd.DataFrame:
        assert isinstance(source, ParquetSource)
        import pyarrow.parquet as pq

        frames = []
        for name in expand_files(source, base):
            try:
                present = pq.read_schema(name).names
                cols = None if columns is None else [c for c in columns if c in present]
                frames.append(pd.read_parquet(name, columns=cols))
            except (OSError, ValueError) as exc:
                raise SourceError(f"cannot read Parquet {name}: {exc} -- check the file") from exc
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def fingerprint(self, source: AnySource, base: Path) -> str | None:
        assert isinstance(source, ParquetSource)
        return _hash_files(expand_files(source, base))


class SqlReader(SourceReader):
    """A SQL query through SQLAlchemy; ``:start``/``:end`` are bound parameters."""

    kind = "sql"

    def read(self, source: AnySource, base: Path, columns: list[str] | None, window: Window | None) -> pd.DataFrame:
        assert isinstance(source, SqlSource)
        import sqlalchemy as sa

        url = sql_url(source)
        params: dict[str, datetime] = {}
        if ":start" in source.query:
            if window is None:
                raise SourceError("the query uses :start/:end but no window was given -- use it for predictions only")
            params = {"start": window.start, "end": window.end}
            if _is_sqlite(url):  # SQLite stores timestamps as text; compare in the same format
                params = {k: v.strftime("%Y-%m-%d %H:%M:%S") for k, v in params.items()}  # type: ignore[misc]
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                return pd.read_sql_query(sa.text(source.query), conn, params=params)
        except sa.exc.SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            first_line = (str(cause).splitlines() or [""])[0]
            raise SourceError(
                f"SQL source {mask_url(url)} failed: {type(cause).__name__}: {first_line} "
                "-- check the query and that the database is up"
            ) from None
        finally:
            engine.dispose()


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sql_url(source: SqlSource) -> str:
    """The SQLAlchemy URL of a SQL source (resolving an Airflow connection id at run time)."""
    if source.url is not None:
        return expand_env(source.url)
    from airflow.sdk import BaseHook  # only at task run time, never at parse time

    try:
        conn = BaseHook.get_connection(str(source.conn_id))
    except Exception as exc:
        raise SourceError(f"Airflow connection {source.conn_id!r} is not defined -- create it or set url") from exc
    uri = conn.get_uri()
    return uri.replace("postgres://", "postgresql+psycopg://", 1)


READERS: dict[str, SourceReader] = {reader.kind: reader for reader in (CsvReader(), ParquetReader(), SqlReader())}


def reader_for(kind: str) -> SourceReader:
    """The reader registered for ``kind``."""
    try:
        return READERS[kind]
    except KeyError:
        raise UnknownNameError(
            f"No source kind named {kind!r}. Available source kinds: {', '.join(sorted(READERS))}"
        ) from None


def to_utc(series: pd.Series, timezone: str) -> tuple[pd.Series, bool, int]:
    """Timestamps as UTC-aware datetimes; naive values are read in ``timezone``.

    Returns the converted series, whether any value was naive, and how many could not be parsed (NaT).
    """
    naive = False
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        converted = series
    elif pd.api.types.is_datetime64_any_dtype(series.dtype):
        naive = True
        converted = series.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    else:
        try:
            converted = pd.to_datetime(series, errors="coerce", format="mixed")
        except ValueError:  # mixed offsets: each value carries its own zone, parse straight to UTC
            converted = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
        if not isinstance(converted.dtype, pd.DatetimeTZDtype):
            naive = True
            converted = converted.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    converted = converted.dt.tz_convert("UTC")
    bad = int(converted.isna().sum() - series.isna().sum())
    return converted, naive, max(bad, 0)


def read_window(config: LoadedConfig, window: Window) -> Frame:
    """The prediction-log rows whose timestamp falls in ``window`` (timestamps converted to UTC)."""
    log_cfg: PredictionLog = config.model.predictions
    source = log_cfg.source
    wanted = log_cfg.columns()
    df = reader_for(source.kind).read(source, config.base_dir, None, window)
    all_columns = list(df.columns)
    if log_cfg.timestamp not in df.columns:
        raise DataError(
            f"{config.path}: predictions.timestamp: column {log_cfg.timestamp!r} is not in the prediction log "
            f"(columns: {', '.join(map(str, all_columns))}) -- fix the column name"
        )
    ts, naive, bad = to_utc(df[log_cfg.timestamp], log_cfg.timezone)
    mask = (ts >= pd.Timestamp(window.start)) & (ts < pd.Timestamp(window.end))
    df = df.loc[mask.to_numpy()].reset_index(drop=True)
    df[log_cfg.timestamp] = ts[mask].to_numpy()
    if naive:
        log.info("model=%s: timestamps without time zone read as %s", config.model.name, log_cfg.timezone)
    missing = [c for c in wanted if c not in all_columns]
    extra = [str(c) for c in all_columns if c not in wanted]
    return Frame(df, missing, extra, naive, bad, all_columns)


def read_reference(config: LoadedConfig) -> pd.DataFrame:
    """All rows of the reference data."""
    source = config.model.reference.source
    return reader_for(source.kind).read(source, config.base_dir, None, None)


def reference_fingerprint(config: LoadedConfig, df: pd.DataFrame | None = None) -> str:
    """Content hash of the reference data and of the config sections a baseline depends on."""
    source = config.model.reference.source
    digest = hashlib.sha256()
    digest.update(config.model.predictions.model_dump_json(exclude={"source"}).encode())
    digest.update(config.model.prediction_checks.model_dump_json().encode())
    digest.update(config.model.quality.volume.model_dump_json().encode())
    digest.update(f"{config.model.task}".encode())
    if config.model.performance is not None:  # reference performance and the calibrator depend on these
        digest.update(config.model.performance.labels.label.encode())
    cheap = reader_for(source.kind).fingerprint(source, config.base_dir)
    if cheap is None:
        frame = df if df is not None else read_reference(config)
        cheap = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()
    digest.update(cheap.encode())
    return digest.hexdigest()[:32]
