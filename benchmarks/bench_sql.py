"""Benchmark of a ``kind: sql`` prediction log on PostgreSQL: the window profiled inside the database.

Loads a one-day table of ``--rows`` rows (default 10M) x (``--numerical`` 20 numerical + ``--categorical``
5 categorical features, plus ``ts`` timestamptz, ``pid``, ``score``, ``pred``) into a fresh PostgreSQL
database with ``COPY`` (the same rows are written to a Parquet file), builds the baseline once from a
200k-row reference (not timed), then measures in subprocesses (wall, CPU and peak RSS of the task process
from ``wait4``; the PostgreSQL server's CPU beside it, from ``/proc``):

- ``watchkeeper check bench --dry-run --json`` on the SQL log with ``pushdown`` on (the default);
- the same with ``pushdown: false`` (every wanted column streams through a server-side cursor);
- the same on the Parquet file (the file path);
- bare references on the same server: one hand-written aggregate over the window (``count``, ``sum`` of
  every numerical column, ``count(DISTINCT)`` of every categorical one: one scan, no grid), and ``psql``
  copying the wanted columns of the window to ``/dev/null`` (what any client must at least receive to
  stream).

Checks: every result of the pushed-down run equals the file path's (same status; values equal to 1e-9
relative: counts are exact, sums differ only by the order of floating additions), and the task's peak
memory with pushdown is under 400 MB.

    PYTHONPATH=src python benchmarks/bench_sql.py --rows 10000000
    PYTHONPATH=src python benchmarks/bench_sql.py --rows 200000 --skip-streaming   # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from benchkit import feature_columns, measure_ok, model_config, stat_cpu

ROOT = Path(__file__).resolve().parents[1]
DAY, NEXT = "2026-10-01", "2026-10-02"
CHUNK = 1_000_000
OK = (0, 3)  # exit codes of a run that worked (3: findings)
PEAK_TARGET_MB = 400
ADMIN_URL = os.environ.get("WATCHKEEPER_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def chunk_table(n: int, offset: int, args: argparse.Namespace, seed: int, *, day: str, hours: float) -> Any:
    """``n`` rows as a pyarrow table (seeded: the same rows go to PostgreSQL and to Parquet)."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    start = np.datetime64(f"{day}T00:00:00", "us")
    ts = start + (rng.random(n) * hours * 3600e6).astype("timedelta64[us]")
    cols: dict[str, Any] = {
        "ts": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
        "pid": pa.array(np.arange(offset, offset + n, dtype=np.int64)),
    }
    for name, values in feature_columns(rng, n, args.numerical, args.categorical).items():
        cols[name] = pa.array(values, type=pa.string()) if values.dtype == object else pa.array(values)
    score = rng.beta(1, 12, size=n)
    cols["score"] = pa.array(score)
    cols["pred"] = pa.array((score >= 0.5).astype(np.int64))
    return pa.table(cols)


def ddl(table: Any) -> str:
    """``CREATE UNLOGGED TABLE wk_log`` matching the pyarrow schema."""
    import pyarrow as pa

    kinds = []
    for field in table.schema:
        if pa.types.is_timestamp(field.type):
            kinds.append(f"{field.name} timestamptz")
        elif pa.types.is_integer(field.type):
            kinds.append(f"{field.name} bigint")
        elif pa.types.is_floating(field.type):
            kinds.append(f"{field.name} double precision")
        else:
            kinds.append(f"{field.name} text")
    return f"CREATE UNLOGGED TABLE wk_log ({', '.join(kinds)})"


def load(url: str, parquet: Path, rows: int, args: argparse.Namespace) -> float:
    """Write ``rows`` rows to PostgreSQL (binary COPY) and to ``parquet``, chunk by chunk; seconds taken."""
    import psycopg
    import pyarrow.parquet as pq

    started = time.perf_counter()
    writer = None
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        done = 0
        while done < rows:
            n = min(CHUNK, rows - done)
            table = chunk_table(n, done, args, 1000 + done, day=DAY, hours=24.0)
            if writer is None:
                writer = pq.ParquetWriter(parquet, table.schema)
                conn.execute("DROP TABLE IF EXISTS wk_log")
                conn.execute(ddl(table))
            writer.write_table(table, row_group_size=256 * 1024)
            with conn.cursor() as cur, cur.copy("COPY wk_log FROM STDIN (FORMAT binary)") as copy:
                copy.write(copy_binary(table))
            done += n
        conn.execute("ANALYZE wk_log")
    assert writer is not None
    writer.close()
    return time.perf_counter() - started


#: PostgreSQL's binary COPY header (signature, flags, extension length); timestamps count from 2000-01-01.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_PG_EPOCH_US = 946_684_800_000_000


def copy_binary(table: Any) -> bytes:
    """``table`` in PostgreSQL's binary COPY format, built with numpy (every row has the same width: the
    category labels all have one length), so neither Python per row nor PostgreSQL's float parsing is paid."""
    import pyarrow as pa

    fields: list[tuple[str, str]] = [("count", ">i2")]
    values: dict[str, Any] = {}
    for i, field in enumerate(table.schema):
        column = table.column(i)
        if pa.types.is_timestamp(field.type):
            data = column.to_numpy().astype("datetime64[us]").astype(np.int64) - _PG_EPOCH_US
            kind = ">i8"
        elif pa.types.is_integer(field.type):
            data, kind = column.to_numpy().astype(np.int64), ">i8"
        elif pa.types.is_floating(field.type):
            data, kind = column.to_numpy().astype(np.float64), ">f8"
        else:
            data = np.asarray(column.to_numpy(zero_copy_only=False), dtype="S")
            widths = np.char.str_len(data)
            if widths.min() != widths.max():
                raise ValueError(f"column {field.name}: labels of different lengths cannot be packed")
            kind = f"S{int(widths.max())}"
        fields += [(f"l{i}", ">i4"), (f"v{i}", kind)]
        values[f"v{i}"] = (data, np.dtype(kind).itemsize)
    rows = np.empty(table.num_rows, dtype=fields)
    rows["count"] = table.num_columns
    for name, (data, width) in values.items():
        rows["l" + name[1:]] = width
        rows[name] = data
    return _COPY_HEADER + rows.tobytes() + (-1).to_bytes(2, "big", signed=True)


def libpq(url: str) -> str:
    """A SQLAlchemy URL as a libpq one (for psycopg and psql)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def write_project(work: Path, name: str, source: dict[str, Any], args: argparse.Namespace) -> Path:
    features = {f"num_{i:02d}": "numerical" for i in range(args.numerical)}
    features.update({f"cat_{i:02d}": "categorical" for i in range(args.categorical)})
    config = model_config("unused", str(work / "reference.parquet"), features)
    config["predictions"]["source"] = source
    config["quality"] = {"volume": {"expected_rows_per_day": 1}}
    models = work / name / "models"
    models.mkdir(parents=True, exist_ok=True)
    (work / name / "expectations").mkdir(exist_ok=True)
    (models / "bench.yaml").write_text(json.dumps(config))  # JSON is YAML
    return models


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL server process so far (exited backends count in the postmaster's)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name.startswith("postgres") or name.startswith("postmaster"):
            total += stat_cpu(stat)
    return total


def measured(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """:func:`benchkit.measure_ok` plus the PostgreSQL server's CPU seconds over the run."""
    before = postgres_cpu()
    result = measure_ok(cmd, env, ok=OK)
    result["server_cpu"] = postgres_cpu() - before
    return result


def results_of(run: dict[str, Any]) -> dict[tuple[str, str, str], tuple[Any, str]]:
    out = {}
    for line in run["out"].splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            out[(row["check"], row["metric"], row["subject"])] = (row["value"], row["status"])
    return out


def differences(a: dict[Any, Any], b: dict[Any, Any]) -> list[str]:
    """Results of ``a`` that differ from ``b`` (status, or value beyond 1e-9 relative)."""
    bad = [f"{k}: only in one run" for k in sorted(set(a) ^ set(b))]
    for key in sorted(set(a) & set(b)):
        (va, sa_), (vb, sb) = a[key], b[key]
        close = va == vb or (
            isinstance(va, float) and isinstance(vb, float) and abs(va - vb) <= 1e-9 * max(abs(va), abs(vb), 1e-300)
        )
        if sa_ != sb or not close:
            bad.append(f"{key}: {va} {sa_} vs {vb} {sb}")
    return bad


def bare_sql(args: argparse.Namespace) -> str:
    nums = ", ".join(f"sum(num_{i:02d})" for i in range(args.numerical))
    cats = ", ".join(f"count(DISTINCT cat_{i:02d})" for i in range(args.categorical))
    return f"SELECT count(*), max(ts), sum(score), {nums}, {cats} FROM wk_log {window_sql()}"  # noqa: S608


def window_sql() -> str:
    return f"WHERE ts >= '{DAY} 00:00:00+00' AND ts < '{NEXT} 00:00:00+00'"


def copy_sql(args: argparse.Namespace) -> str:
    cols = ["ts", "pid", "score", "pred"]
    cols += [f"num_{i:02d}" for i in range(args.numerical)] + [f"cat_{i:02d}" for i in range(args.categorical)]
    return f"\\copy (SELECT {', '.join(cols)} FROM wk_log {window_sql()}) TO '/dev/null'"


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 -- a linear script
    """Run the benchmark and print the table; 0 when the checks pass."""
    from sqlalchemy import create_engine, text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--numerical", type=int, default=20)
    parser.add_argument("--categorical", type=int, default=5)
    parser.add_argument("--reference-rows", type=int, default=200_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--skip-streaming", action="store_true", help="do not run the pushdown: false pass")
    parser.add_argument("--keep", action="store_true", help="keep the data (and the database) afterwards")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="wk-bench-sql-", dir=args.workdir))
    name = f"wk_bench_sql_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    exe = [str(Path(sys.executable).with_name("watchkeeper"))]
    runs: dict[str, dict[str, Any]] = {}
    try:
        import pyarrow.parquet as pq

        reference = chunk_table(args.reference_rows, 0, args, 1, day="2026-09-01", hours=24 * 30)
        pq.write_table(reference, work / "reference.parquet")
        (work / "log").mkdir()
        seconds = load(url, work / "log" / f"{DAY}.parquet", args.rows, args)
        print(f"loaded {args.rows:,} rows into PostgreSQL (COPY) and Parquet in {seconds:.0f} s", flush=True)
        query = "SELECT * FROM wk_log WHERE ts >= :start AND ts < :end"
        sources = {
            "sql pushdown": {"kind": "sql", "url": url, "query": query},
            "sql streamed": {"kind": "sql", "url": url, "query": query, "pushdown": False},
            "parquet file": {"kind": "parquet", "path": str(work / "log" / "*.parquet")},
        }
        if args.skip_streaming:
            del sources["sql streamed"]
        base_env = {**os.environ, "WATCHKEEPER_HOME": str(work / "home"), "PYTHONPATH": str(ROOT / "src")}
        for label, source in sources.items():
            models = write_project(work, label.replace(" ", "_"), source, args)
            env = {**base_env, "WATCHKEEPER_CONFIG_DIR": str(models)}
            env["WATCHKEEPER_EXPECTATIONS_DIR"] = str(models.parent / "expectations")
            if not runs:
                measure_ok([*exe, "baseline", "bench"], env, ok=OK)
            runs[label] = measured([*exe, "check", "bench", "--start", DAY, "--end", NEXT, "--dry-run", "--json"], env)
            print(f"{label}: {runs[label]['wall']:.1f} s wall", flush=True)
        psql = shutil.which("psql") or "psql"
        runs["bare aggregate (psql)"] = measured([psql, libpq(url), "-qAt", "-c", bare_sql(args)], base_env)
        runs["bare COPY to /dev/null (psql)"] = measured([psql, libpq(url), "-qAt", "-c", copy_sql(args)], base_env)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print()
    print(f"{args.rows:,} rows x ({args.numerical} numerical + {args.categorical} categorical) on PostgreSQL")
    print(f"{'run':<32}{'wall s':>9}{'task CPU s':>12}{'task peak MB':>14}{'server CPU s':>14}")
    for label, run in runs.items():
        print(f"{label:<32}{run['wall']:>9.1f}{run['cpu']:>12.1f}{run['rss_mb']:>14.0f}{run['server_cpu']:>14.1f}")
    pushed, file = results_of(runs["sql pushdown"]), results_of(runs["parquet file"])
    diff = differences(pushed, file)
    checks = {
        f"pushdown results equal the file path's ({len(pushed)} results)": bool(pushed) and not diff,
        f"pushdown task peak memory < {PEAK_TARGET_MB} MB": runs["sql pushdown"]["rss_mb"] < PEAK_TARGET_MB,
    }
    if "sql streamed" in runs:
        streamed_diff = differences(results_of(runs["sql streamed"]), file)
        checks["streamed results equal the file path's"] = not streamed_diff
        diff += streamed_diff
    print()
    for text_, ok in checks.items():
        print(f"{text_:<60}: {'PASS' if ok else 'FAIL'}")
    for line in diff[:20]:
        print("  differs:", line)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
