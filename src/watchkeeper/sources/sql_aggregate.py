"""One aggregation statement over a window of a SQL prediction log, built with SQLAlchemy Core.

The user's query becomes a subquery, filtered to the window ``[start, end)`` (:func:`window_filter`);
a ``UNION ALL`` of small ``GROUP BY`` branches then returns O(bins) rows:

- part 0: row count, ``COUNT(id)``, ``COUNT(DISTINCT id)`` and the newest timestamp;
- one branch per numerical target: rows per *slot* of its reference grid (slot ``2k + 1``: equal to grid
  point ``k``; slot ``2k``: strictly between points ``k - 1`` and ``k``, see
  :mod:`watchkeeper.drift.counts`), with the slot's sum, sum of squares, min and max; negative slots
  hold nulls/NaN (:data:`NULL_SLOT`), +inf, -inf and, on SQLite, values that are not numbers;
- one branch per categorical target: rows per distinct value (the NULL group counts nulls);
- optionally the classifier confidence of a score column (count, sum, rows under a threshold).

What a dialect must offer: ``CAST(x AS DOUBLE)``, ``CASE``, ``COUNT(DISTINCT)``, ``GROUP BY``, ``UNION
ALL``, timestamp comparison with a bound timezone-aware datetime, and a NaN test (:func:`_is_nan`).
PostgreSQL places values on the grid with ``width_bucket`` over a ``float8[]`` literal (a binary search
in C); other dialects with a balanced nested ``CASE`` over bound grid values (O(log K) comparisons).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray

#: Slot of nulls (and NaN, which the file path counts as null).
NULL_SLOT = -1
POS_INF_SLOT = -2
NEG_INF_SLOT = -3
#: SQLite only: a value stored as text or blob in a numerical column (the file path would coerce it).
MISTYPED_SLOT = -4
#: The largest finite double: ``x > MAX_DOUBLE`` is +inf without a dialect's infinity literal.
MAX_DOUBLE = float(np.finfo(np.float64).max)
#: Bound parameters SQLite takes in one statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32).
SQLITE_MAX_PARAMS = 32_000

_SQLITE_TIME = "%Y-%m-%d %H:%M:%f"


@dataclass(frozen=True)
class AggregatePlan:
    """What to aggregate: columns by role (all present in the query's result)."""

    timestamp: str
    id: str | None
    #: One entry per numerical target: (column, sorted grid without repeats).
    numeric: Sequence[tuple[str, NDArray[np.float64]]]
    categorical: Sequence[str]
    #: (score column, binary?) when the confidence is computed from a score column, else None.
    confidence: tuple[str, bool] | None = None
    low_confidence: float = 0.5


@dataclass
class SlotRow:
    """Aggregates of one slot of a numerical target."""

    n: int
    total: float
    total_sq: float
    low: float | None
    high: float | None


@dataclass
class AggregateResult:
    """The statement's rows, sorted by part."""

    rows: int = 0
    ids: int = 0
    distinct_ids: int = 0
    newest: Any = None
    numeric: list[dict[int, SlotRow]] = field(default_factory=list)
    categorical: list[list[tuple[Any, int]]] = field(default_factory=list)
    #: (finite confidences, their sum, how many are under the threshold)
    confidence: tuple[int, float, int] | None = None


def user_query(query: str, names: Sequence[str]) -> sa.Subquery:
    """The user's query (with its ``:start``/``:end`` bind parameters) as a subquery with known columns."""
    return sa.text(query.strip().rstrip(";")).columns(*[sa.column(n) for n in names]).subquery("wk_q")


def window_filter(dialect: str, ts: sa.ColumnElement[Any], start: datetime, end: datetime) -> sa.ColumnElement[bool]:
    """``start <= ts < end`` in the database.

    SQLite keeps timestamps as text: they are normalised with ``strftime`` (values with an offset to UTC,
    naive ones as they are, i.e. read as UTC; milliseconds) and compared as text. Elsewhere the column is
    compared with the bound aware datetimes (on PostgreSQL the session's ``TimeZone`` is the log's zone).
    """
    if dialect == "sqlite":
        low, high = sqlite_time(start), sqlite_time(end)
        normal = sa.func.strftime(_SQLITE_TIME, ts)
        return sa.and_(normal >= sa.literal(low), normal < sa.literal(high))
    kind = sa.DateTime(timezone=True)
    return sa.and_(ts >= sa.bindparam("wk_start", start, kind), ts < sa.bindparam("wk_end", end, kind))


def sqlite_time(value: datetime) -> str:
    """``value`` in UTC as SQLite's ``strftime('%Y-%m-%d %H:%M:%f')`` text (milliseconds)."""
    utc = value.astimezone(UTC) if value.tzinfo else value
    return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d}"


def build_statement(dialect: str, plan: AggregatePlan, rows: sa.Subquery) -> sa.CompoundSelect[Any]:
    """The ``UNION ALL`` statement over ``rows`` (the window's rows, see the module docstring)."""
    layout = _Layout(plan, rows)
    ts = rows.c[plan.timestamp]
    newest = sa.func.max(sa.func.strftime(_SQLITE_TIME, ts)) if dialect == "sqlite" else sa.func.max(ts)
    id_col = rows.c[plan.id] if plan.id else None
    branches = [
        layout.header(),
        layout.select(
            0,
            slot=sa.func.count(id_col) if id_col is not None else None,
            n=sa.func.count(),
            d=sa.func.count(sa.distinct(id_col)) if id_col is not None else None,
            t=newest,
        ),
    ]
    for i, (column, grid) in enumerate(plan.numeric):
        branches.append(_numeric_branch(dialect, layout, 1 + i, rows.c[column], grid))
    first_cat = 1 + len(plan.numeric)
    for i, column in enumerate(plan.categorical):
        col = rows.c[column]
        branches.append(layout.select(first_cat + i, n=sa.func.count(), cats={i: col}).group_by(col))
    if plan.confidence is not None:
        branches.append(_confidence_branch(dialect, layout, first_cat + len(plan.categorical), plan))
    return sa.union_all(*branches)


def parameter_count(plan: AggregatePlan) -> int:
    """Bound parameters of the statement on a dialect without ``width_bucket`` (grid points twice)."""
    return sum(2 * grid.size + 4 for _, grid in plan.numeric) + 8


class _Layout:
    """The common column layout of every branch: part, slot, n, s, ss, lo, hi, d, t, cat_0..cat_m."""

    def __init__(self, plan: AggregatePlan, rows: sa.Subquery) -> None:
        self.plan, self.rows = plan, rows

    def header(self) -> sa.Select[Any]:
        """A first branch that returns no row but gives every column its type (PostgreSQL resolves
        ``UNION`` column types pair by pair, so an untyped NULL first would resolve as text)."""
        big: sa.BigInteger = sa.BigInteger()
        dbl: sa.Double[float] = sa.Double()
        cols: list[Any] = [
            sa.cast(sa.literal(-1), big).label("part"),
            sa.cast(sa.null(), big).label("slot"),
            sa.cast(sa.null(), big).label("n"),
            *(sa.cast(sa.null(), dbl).label(name) for name in ("s", "ss", "lo", "hi")),
            sa.cast(sa.null(), big).label("d"),
            self.rows.c[self.plan.timestamp].label("t"),
            *(self.rows.c[c].label(f"cat_{i}") for i, c in enumerate(self.plan.categorical)),
        ]
        # a LIMIT 0 never starts reading; in a subquery because SQLite takes no LIMIT on a UNION member
        return sa.select(sa.select(*cols).select_from(self.rows).limit(0).subquery("wk_types"))

    def select(
        self,
        part: int,
        *,
        slot: Any = None,
        n: Any = None,
        s: Any = None,
        ss: Any = None,
        lo: Any = None,
        hi: Any = None,
        d: Any = None,
        t: Any = None,
        cats: Mapping[int, Any] | None = None,
        source: Any = None,
    ) -> sa.Select[Any]:
        """One branch: ``part`` and the given aggregates; NULL elsewhere."""

        def value(expr: Any, name: str) -> Any:
            return (sa.null() if expr is None else expr).label(name)

        cats = cats or {}
        cols = [
            _int(part).label("part"),
            *(value(e, k) for e, k in ((slot, "slot"), (n, "n"), (s, "s"), (ss, "ss"), (lo, "lo"), (hi, "hi"))),
            value(d, "d"),
            value(t, "t"),
            *(value(cats.get(i), f"cat_{i}") for i in range(len(self.plan.categorical))),
        ]
        return sa.select(*cols).select_from(self.rows if source is None else source)


def _double(dialect: str, col: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The column as a double; on SQLite NULL unless the stored value is an integer or a real."""
    if dialect == "sqlite":
        numeric = sa.func.typeof(col).in_(["integer", "real"])
        return sa.case((numeric, sa.cast(col, sa.Float())), else_=sa.null())
    return sa.cast(col, sa.Double())


def _is_nan(dialect: str, x: sa.ColumnElement[Any]) -> sa.ColumnElement[bool] | None:
    """The dialect's NaN test (None where a double cannot hold NaN)."""
    if dialect == "sqlite":
        return None  # SQLite stores NaN as NULL
    if dialect in ("postgresql", "snowflake", "redshift"):
        return x == sa.cast(sa.literal("NaN"), sa.Double())  # NaN = NaN is true there
    if dialect == "bigquery":
        return sa.func.IS_NAN(x)
    if dialect in ("trino", "presto"):
        return sa.func.is_nan(x)
    if dialect in ("databricks", "spark", "hive"):
        return sa.func.isnan(x)
    return x != x  # noqa: PLR0124 -- IEEE semantics: only NaN differs from itself


def _numeric_branch(
    dialect: str, layout: _Layout, part: int, raw: sa.ColumnElement[Any], grid: NDArray[np.float64]
) -> sa.Select[Any]:
    """Rows per slot of ``raw`` on ``grid``, with the slot's sum, sum of squares, min and max.

    Per row, the value as a double (and on PostgreSQL its ``width_bucket``) is computed once in a
    subquery, then its slot and finite value in a second one, then the groups. The subqueries are
    fenced (:func:`_fenced`): flattened, every reference would evaluate the expression again.
    """
    x = _double(dialect, raw)
    top = _bound(MAX_DOUBLE)
    columns: list[Any] = [x.label("x"), *_raw(dialect, raw)]
    array = None
    if dialect == "postgresql" and grid.size:
        from sqlalchemy.dialects import postgresql

        kind: postgresql.ARRAY[float] = postgresql.ARRAY(sa.Double())
        literal = "{" + ",".join(repr(float(g)) for g in grid) + "}"  # repr: shortest text that reads back exactly
        array = sa.literal_column(f"(CAST('{literal}' AS DOUBLE PRECISION[]))", kind)
        columns.append(sa.func.width_bucket(x, array).label("r"))
    sub = _fenced(dialect, sa.select(*columns).select_from(layout.rows)).subquery()
    if array is not None:
        r = sub.c.r
        grid_slot: sa.ColumnElement[Any] = 2 * r - sa.case((sa.and_(r > 0, sub.c.x == array[r]), 1), else_=0)
    else:
        grid_slot = _case_tree(sub.c.x, grid)
    slot = sa.case(*_special(sub, dialect), else_=grid_slot)
    finite = sa.case((sa.and_(sub.c.x <= top, sub.c.x >= -top), sub.c.x), else_=sa.null())  # NaN is out too
    slots = _fenced(dialect, sa.select(slot.label("slot"), finite.label("f"))).subquery()
    f = slots.c.f
    return layout.select(
        part,
        slot=slots.c.slot,
        n=sa.func.count(),
        s=sa.func.sum(f),
        ss=sa.func.sum(f * f),
        lo=sa.func.min(f),
        hi=sa.func.max(f),
        source=slots,
    ).group_by(slots.c.slot)


def _fenced(dialect: str, select: sa.Select[Any]) -> sa.Select[Any]:
    """``select`` kept from being merged into the query around it where the dialect would (an optimisation
    fence: ``OFFSET 0`` on PostgreSQL, ``LIMIT -1`` on SQLite)."""
    if dialect == "postgresql":
        return select.offset(0)
    if dialect == "sqlite":
        return select.limit(-1)
    return select


def _raw(dialect: str, raw: sa.ColumnElement[Any]) -> list[Any]:
    return [raw.label("raw")] if dialect == "sqlite" else []


def _special(sub: sa.Subquery, dialect: str) -> list[tuple[sa.ColumnElement[bool], sa.ColumnElement[Any]]]:
    """The tests of the negative slots over the subquery's ``x`` (and, on SQLite, ``raw``), in order."""
    x, top = sub.c.x, _bound(MAX_DOUBLE)
    whens: list[tuple[sa.ColumnElement[bool], sa.ColumnElement[Any]]] = []
    if dialect == "sqlite":
        whens.append((sa.func.typeof(sub.c.raw).not_in(["integer", "real", "null"]), _int(MISTYPED_SLOT)))
    whens.append((x.is_(None), _int(NULL_SLOT)))
    nan = _is_nan(dialect, x)
    if nan is not None:
        whens.append((nan, _int(NULL_SLOT)))
    whens += [(x > top, _int(POS_INF_SLOT)), (x < -top, _int(NEG_INF_SLOT))]
    return whens


def _bound(value: float) -> sa.BindParameter[float]:
    """A double as a bound parameter (exact: SQLite's parser does not read every decimal back exactly)."""
    return sa.bindparam(None, value, sa.Double())


def _int(value: int) -> sa.ColumnElement[Any]:
    """An integer written into the statement (not a bound parameter: the statement holds thousands)."""
    return sa.literal_column(str(int(value)), sa.BigInteger())


def _case_tree(x: sa.ColumnElement[Any], grid: NDArray[np.float64]) -> sa.ColumnElement[Any]:
    """The slot of a finite ``x`` by a balanced binary search over ``grid`` written as nested CASE."""
    k = int(grid.size)
    points = [_bound(float(g)) for g in grid]

    def node(lo: int, hi: int) -> sa.ColumnElement[Any]:
        # the left insertion index of x is in [lo, hi]
        if lo == hi:
            if lo == k:
                return _int(2 * k)
            return sa.case((x == points[lo], _int(2 * lo + 1)), else_=_int(2 * lo))
        mid = (lo + hi) // 2
        return sa.case((x <= points[mid], node(lo, mid)), else_=node(mid + 1, hi))

    return node(0, k)


def _confidence_branch(dialect: str, layout: _Layout, part: int, plan: AggregatePlan) -> sa.Select[Any]:
    assert plan.confidence is not None
    column, binary = plan.confidence
    x = _double(dialect, layout.rows.c[column])
    sub = sa.select(x.label("x")).select_from(layout.rows).subquery()
    top = _bound(MAX_DOUBLE)
    finite = sa.and_(sub.c.x.is_not(None), sub.c.x <= top, sub.c.x >= -top)
    nan = _is_nan(dialect, sub.c.x)
    if nan is not None:
        finite = sa.and_(finite, sa.not_(nan))
    value = sa.case((sub.c.x >= 1.0 - sub.c.x, sub.c.x), else_=1.0 - sub.c.x) if binary else sub.c.x
    conf = sa.case((finite, value), else_=sa.null())
    low = sa.case((conf < _bound(plan.low_confidence), 1), else_=sa.null())
    return layout.select(part, n=sa.func.count(conf), s=sa.func.sum(conf), d=sa.func.count(low), source=sub)


def collect(plan: AggregatePlan, rows: Sequence[Any]) -> AggregateResult:
    """Sort the statement's rows into an :class:`AggregateResult`."""
    out = AggregateResult(
        numeric=[{} for _ in plan.numeric], categorical=[[] for _ in plan.categorical], confidence=None
    )
    first_cat = 1 + len(plan.numeric)
    conf_part = first_cat + len(plan.categorical)
    for row in rows:
        part = int(row[0])
        if part == 0:
            out.rows, out.newest = int(row[2] or 0), row[8]
            out.ids, out.distinct_ids = int(row[1] or 0), int(row[7] or 0)
        elif part < first_cat:
            out.numeric[part - 1][int(row[1])] = SlotRow(
                int(row[2]), _float(row[3]), _float(row[4]), _opt(row[5]), _opt(row[6])
            )
        elif part < conf_part:
            i = part - first_cat
            out.categorical[i].append((row[9 + i], int(row[2])))
        else:
            out.confidence = (int(row[2] or 0), _float(row[3]), int(row[7] or 0))
    return out


def _float(value: Any) -> float:
    return 0.0 if value is None else float(value)


def _opt(value: Any) -> float | None:
    return None if value is None else float(value)
