"""The `query` lens: a declarative filter / group_by / aggregate over one dataset, executed by DuckDB.

No SQL comes from the intent. The statement is assembled from identifiers checked against the dataset's
real columns (and seam's derived fields) and from seam's own fragments; every value is a parameter.
Groups come back in the order of their keys (session, weekday and hour in calendar order), never by result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seam.errors import IntentError
from seam.intent import QueryAggregate, QueryFilter, QueryPayload
from seam.research.bars import columns_of, execute, locked_connection, pip_size, source_sql
from seam.research.datasets import DataFolder, DatasetInfo

__all__ = ["MAX_GROUPS", "SESSIONS", "LensResult", "run_lens"]

MAX_GROUPS = 1000
# UTC hours, one partition of the day: [start, end)
SESSIONS = (("Asia", 21, 7), ("London", 7, 12), ("New York", 12, 21))
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_NUMERIC_PREFIXES = ("DOUBLE", "FLOAT", "REAL", "DECIMAL", *_NUMERIC)
_SQL_FN = {
    "count": "count",
    "mean": "avg",
    "median": "median",
    "min": "min",
    "max": "max",
    "sum": "sum",
    "stddev": "stddev_samp",  # the sample standard deviation (n - 1)
    "stdev": "stddev_samp",
}
_OPS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass(frozen=True)
class Derived:
    sql: str
    numeric: bool
    order: str | None = None  # the key groups of this field are ordered by, when not the value itself


def _in_session(start: int, end: int) -> str:
    return f"hour(ts) >= {start} AND hour(ts) < {end}" if start < end else f"(hour(ts) >= {start} OR hour(ts) < {end})"


def _session_case(value: Callable[[int, str], str]) -> str:
    # SESSIONS, and nothing else, defines them: the answer quotes the same hours
    whens = " ".join(
        f"WHEN {_in_session(start, end)} THEN {value(i, name)}" for i, (name, start, end) in enumerate(SESSIONS)
    )
    return f"CASE {whens} END"


def _derived(pip: float) -> dict[str, Derived]:
    session = _session_case(lambda _i, name: f"'{name}'")
    session_order = _session_case(lambda i, _name: str(i))
    return {
        "session": Derived(session, False, session_order),
        "weekday": Derived("strftime(ts, '%a')", False, "isodow(ts)"),
        "hour": Derived("hour(ts)", True),
        "month": Derived("month(ts)", True),
        "return_pips": Derived(f"(close - open) / {pip!r}", True),
        "range_pips": Derived(f"(high - low) / {pip!r}", True),
    }


@dataclass(frozen=True)
class LensResult:
    dataset: DatasetInfo
    pip: float
    headers: list[str]
    rows: list[list[Any]]
    matched_rows: int
    derived: list[str]


def _ident(name: str) -> str:
    # only ever called with a name checked against the dataset's columns or seam's derived fields
    return '"' + name.replace('"', '""') + '"'


class _Fields:
    def __init__(self, columns: dict[str, str], pip: float) -> None:
        self.columns = columns
        self.derived = {k: v for k, v in _derived(pip).items() if k not in columns}

    def names(self) -> list[str]:
        return [*self.columns, *self.derived]

    def check(self, name: str, path: str, *, numeric: bool = False) -> str:
        if name not in self.columns and name not in self.derived:
            raise IntentError.single(path, f"no column {name!r} in the dataset; columns: {', '.join(self.names())}")
        if numeric and not self.is_numeric(name):
            numbers = [n for n in self.names() if self.is_numeric(n)]
            raise IntentError.single(path, f"{name!r} is not numeric; numeric columns: {', '.join(numbers)}")
        return _ident(name)

    def is_numeric(self, name: str) -> bool:
        if name in self.derived:
            return self.derived[name].numeric
        return self.columns[name].upper().startswith(_NUMERIC_PREFIXES)

    def order_column(self, name: str) -> str:
        """The column groups of this field are ordered by: calendar order for session and weekday, else itself."""
        derived = self.derived.get(name)
        return _ident(f"seam$order${name}") if derived is not None and derived.order else _ident(name)

    def select_list(self) -> str:
        extra = [f"{d.sql} AS {_ident(n)}" for n, d in self.derived.items()]
        orders = [f"{d.order} AS {_ident('seam$order$' + n)}" for n, d in self.derived.items() if d.order]
        return ", ".join(["*", *extra, *orders])


def _where(filters: list[QueryFilter], fields: _Fields) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for i, f in enumerate(filters):
        path = f"payload.filter[{i}]"
        column = fields.check(f.field, f"{path}.field")
        if f.op == "in":
            if not isinstance(f.value, list) or not f.value:
                raise IntentError.single(f"{path}.value", "`in` takes a non-empty list of values")
            names = [f"v{i}_{j}" for j in range(len(f.value))]
            params.update(zip(names, f.value, strict=True))
            clauses.append(f"{column} IN ({', '.join('$' + n for n in names)})")
        else:
            if isinstance(f.value, list):
                raise IntentError.single(f"{path}.value", f"`{f.op}` takes one value; only `in` takes a list")
            params[f"v{i}"] = f.value
            clauses.append(f"{column} {_OPS[f.op]} $v{i}")
    return (" AND ".join(clauses) or "TRUE"), params


def _aggregate(i: int, agg: QueryAggregate, fields: _Fields) -> tuple[str, str]:
    path = f"payload.aggregates[{i}]"
    if agg.fn == "count" and agg.field is None:
        return "count(*)", "count"
    if agg.field is None:
        raise IntentError.single(f"{path}.field", f"`{agg.fn}` needs a field; columns: {', '.join(fields.names())}")
    column = fields.check(agg.field, f"{path}.field", numeric=agg.fn not in ("count", "min", "max"))
    return f"{_SQL_FN[agg.fn]}({column})", f"{agg.fn}({agg.field})"


def run_lens(folder: DataFolder, payload: QueryPayload) -> LensResult:
    info = folder.info(payload.dataset)
    pip = pip_size(info.name, info.meta)
    fields = _Fields(columns_of(info.path), pip)
    groups = [fields.check(g, f"payload.group_by[{i}]") for i, g in enumerate(payload.group_by)]
    orders = [fields.order_column(g) for g in payload.group_by]
    where, params = _where(payload.filter, fields)
    aggs = [_aggregate(i, a, fields) for i, a in enumerate(payload.aggregates)]
    base = f"WITH b AS (SELECT {fields.select_list()} FROM {source_sql(info.path)}) "
    grouping = ""
    if groups:
        # an order column is a function of its group's key, so grouping by it too splits nothing
        keys = list(dict.fromkeys([*groups, *orders]))
        grouping = f" GROUP BY {', '.join(keys)} ORDER BY {', '.join(orders)}"
    select = ", ".join([*groups, *(sql for sql, _ in aggs)])
    sql = f"{base}SELECT {select} FROM b WHERE {where}{grouping} LIMIT {MAX_GROUPS + 1}"
    con = locked_connection(info.path)
    try:
        rows = [list(r) for r in execute(con, info.path, sql, params).fetchall()]
        (matched,) = execute(con, info.path, f"{base}SELECT count(*) FROM b WHERE {where}", params).fetchone()
    finally:
        con.close()
    if len(rows) > MAX_GROUPS:
        raise IntentError.single(
            "payload.group_by", f"the lens makes more than {MAX_GROUPS} groups; at most {MAX_GROUPS} are answered"
        )
    return LensResult(
        dataset=info,
        pip=pip,
        headers=[*payload.group_by, *(name for _, name in aggs)],
        rows=rows,
        matched_rows=int(matched),
        derived=list(fields.derived),
    )
