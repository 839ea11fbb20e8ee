"""Bars and DuckDB: a connection that can open one file and nothing else, columns, row counts, arrays, and the
writer of generated datasets. Every DuckDB statement in seam is here: DuckDB reads and writes dataset files in
the data folder, never the seam's own store (seam.db is SQLite, and only seam/store/ speaks SQL to it).

Every connection made here is locked before the first row is read: external access off except the one
path seam resolved itself, no extension installs or loads, configuration frozen. SQL text built elsewhere
may name only identifiers checked against the file's real columns; values travel as parameters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from seam.errors import HandlerError, IntentError

__all__ = [
    "Bars",
    "columns_of",
    "count_rows",
    "execute",
    "load_bars",
    "locked_connection",
    "pip_size",
    "source_sql",
    "write_columns",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Bars:
    """One dataset as arrays, in time order: minutes since the epoch (UTC) and the four prices."""

    minutes: npt.NDArray[np.int64]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    pip: float

    def __len__(self) -> int:
        return len(self.close)

    @functools.cached_property
    def close_sums(self) -> npt.NDArray[np.int64]:
        """Prefix sums of each close's distance from the first, in whole tenths of a pip: exact integers, so
        moving averages compare the same way on every machine and engine, however they are summed."""
        ticks = np.rint((self.close - self.close[0]) / (self.pip / 10)).astype(np.int64)
        sums: npt.NDArray[np.int64] = np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(ticks)))
        return sums

    def blocks(self, size: int) -> tuple[FloatArray, FloatArray]:
        """The lowest low and highest high of each whole block of `size` bars, computed once per size."""
        cache: dict[int, tuple[FloatArray, FloatArray]] = self.__dict__.setdefault("_blocks", {})
        if size not in cache:
            whole = len(self) // size * size
            cache[size] = (
                self.low[:whole].reshape(-1, size).min(axis=1),
                self.high[:whole].reshape(-1, size).max(axis=1),
            )
        return cache[size]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def locked_connection(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that may read `path` and nothing else, with its configuration locked."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
        con.execute(f"SET allowed_paths = [{_quoted(str(path))}]")
        # INV: the query engine reads only the one file seam resolved: no other path, no network, no extensions
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except duckdb.Error as exc:
        con.close()
        raise HandlerError(f"DuckDB could not be locked down for {path.name}: {exc}") from exc
    return con


def source_sql(path: Path) -> str:
    """The FROM clause of a dataset: the reader, its path a parameter ($path), timestamps as UTC."""
    return f"(SELECT * REPLACE (CAST(ts AS TIMESTAMP) AS ts) FROM {_raw_reader(path)})"


def write_columns(columns: dict[str, Any], out: Path, fmt: str) -> None:
    """Write named numpy columns to `out` as CSV (with a header) or Parquet. One thread: the rows, the row groups
    and so the file's bytes come out the same on every run (`seam data generate`'s same seed, same sha256)."""
    options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET threads = 1")
        con.register("generated", columns)
        con.execute(f"COPY generated TO {_quoted(str(out))} ({options})")
    finally:
        con.close()


def _raw_reader(path: Path) -> str:
    return "read_parquet($path)" if path.suffix.lower() == ".parquet" else "read_csv($path, header = true)"


def execute(con: duckdb.DuckDBPyConnection, path: Path, sql: str, params: dict[str, Any] | None = None) -> Any:
    try:
        return con.execute(sql, {"path": str(path), **(params or {})})
    except duckdb.Error as exc:
        raise HandlerError(f"the dataset {path.name} could not be read: {exc}") from exc


def columns_of(path: Path, *, field: str = "payload.dataset") -> dict[str, str]:
    """Column name -> DuckDB type, in file order; an IntentError when a bar column is missing."""
    con = locked_connection(path)
    try:
        rows = execute(con, path, f"DESCRIBE SELECT * FROM {_raw_reader(path)}").fetchall()
    finally:
        con.close()
    columns = {str(r[0]): str(r[1]) for r in rows}
    from seam.research.datasets import BAR_COLUMNS

    missing = [c for c in BAR_COLUMNS if c not in columns]
    if missing:
        raise IntentError.single(
            field, f"{path.name} lacks the bar column(s) {', '.join(missing)}; its columns: {', '.join(columns)}"
        )
    return columns


def count_rows(path: Path) -> int:
    con = locked_connection(path)
    try:
        (count,) = execute(con, path, f"SELECT count(*) FROM {_raw_reader(path)}").fetchone()
    finally:
        con.close()
    return int(count)


def pip_size(name: str, meta: dict[str, Any] | None) -> float:
    """A pip: 0.01 for yen pairs, else 0.0001; the pair comes from the generator's sidecar or the file name."""
    pair = str((meta or {}).get("pair", "")) or name
    return 0.01 if "JPY" in pair.upper() else 0.0001


def load_bars(path: Path, pip: float) -> Bars:
    """The whole dataset as numpy arrays, sorted by time (hunts read every bar)."""
    columns_of(path)
    con = locked_connection(path)
    try:
        data = execute(
            con,
            path,
            "SELECT CAST(epoch_us(ts) // 60000000 AS BIGINT) AS minutes, CAST(open AS DOUBLE) AS open, "
            "CAST(high AS DOUBLE) AS high, CAST(low AS DOUBLE) AS low, CAST(close AS DOUBLE) AS close "
            f"FROM {source_sql(path)} ORDER BY ts",
        ).fetchnumpy()
    finally:
        con.close()
    return Bars(
        minutes=np.ascontiguousarray(data["minutes"], dtype=np.int64),
        open=np.ascontiguousarray(data["open"], dtype=np.float64),
        high=np.ascontiguousarray(data["high"], dtype=np.float64),
        low=np.ascontiguousarray(data["low"], dtype=np.float64),
        close=np.ascontiguousarray(data["close"], dtype=np.float64),
        pip=pip,
    )
