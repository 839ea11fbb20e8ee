"""The seam's one SQLite file: connections, the write lock, transactions, and the schema's versions.

Guarantees:
- Every table seam keeps is defined here, in `MIGRATIONS`, in the order it came; opening a seam applies
  what it lacks in one write transaction and records the version in `meta`. A seam made by an older
  release opens in this one; a seam made by a newer release is refused rather than misread.
- Writers in several threads and several processes are serialised by SQLite's write lock
  (BEGIN IMMEDIATE); in this process they first queue on `_WriteLock`, where threads marked as
  priority (the halt lane's) go before any waiting ordinary writer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from seam.clock import Clock, SystemClock
from seam.errors import StoreError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Database", "Migration"]

Migration = tuple[int, str, tuple[str, ...]]

# version, what it adds, its statements. Append only: a released step is never edited.
MIGRATIONS: tuple[Migration, ...] = (
    (
        1,
        "beads, the intent ledger and flags",
        (
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """CREATE TABLE IF NOT EXISTS beads (
            seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at TEXT NOT NULL, intent_id TEXT, session_id TEXT,
            payload TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS beads_type ON beads(type, seq)",
            "CREATE INDEX IF NOT EXISTS beads_intent ON beads(intent_id)",
            """CREATE TRIGGER IF NOT EXISTS beads_append_only_update BEFORE UPDATE ON beads
            BEGIN SELECT RAISE(ABORT, 'beads are append-only'); END""",
            """CREATE TRIGGER IF NOT EXISTS beads_append_only_delete BEFORE DELETE ON beads
            BEGIN SELECT RAISE(ABORT, 'beads are append-only'); END""",
            """CREATE TABLE IF NOT EXISTS ledger (
            id TEXT PRIMARY KEY, intent_sha256 TEXT NOT NULL, kind TEXT, status TEXT NOT NULL, owner TEXT,
            response_name TEXT, response TEXT, bead INTEGER, updated_at TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS ledger_status ON ledger(status)",
            """CREATE TABLE IF NOT EXISTS flags (
            name TEXT PRIMARY KEY, value TEXT NOT NULL, bead INTEGER, updated_at TEXT NOT NULL)""",
        ),
    ),
    # Release 0.1.0 created these lazily, when a daemon first built its broker and approval services, and
    # still recorded version 1; so a seam at version 1 may or may not have them (IF NOT EXISTS).
    (
        2,
        "proposals, approval codes and the position lifecycle",
        (
            """CREATE TABLE IF NOT EXISTS proposals (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, position_id TEXT NOT NULL, pair TEXT NOT NULL,
            side TEXT NOT NULL, units INTEGER NOT NULL, entry REAL, stop REAL, target REAL, evidence TEXT NOT NULL,
            anchor TEXT NOT NULL, anchor_hash TEXT NOT NULL, intent_sha256 TEXT NOT NULL, created_at TEXT NOT NULL,
            status TEXT NOT NULL, tries INTEGER NOT NULL DEFAULT 0, decided_at TEXT)""",
            "CREATE INDEX IF NOT EXISTS proposals_status ON proposals(status, created_at)",
            # the codes live apart from everything that is ever shown: responses, beads and logs never read them
            """CREATE TABLE IF NOT EXISTS approval_codes (
            proposal_id TEXT PRIMARY KEY, code TEXT NOT NULL, bound_hash TEXT NOT NULL, expires_at TEXT NOT NULL,
            used INTEGER NOT NULL DEFAULT 0)""",
            """CREATE TABLE IF NOT EXISTS lifecycle (
            id TEXT PRIMARY KEY, pair TEXT NOT NULL, side TEXT NOT NULL, units INTEGER NOT NULL, state TEXT NOT NULL,
            stalled_from TEXT, last_update TEXT NOT NULL, facts TEXT NOT NULL)""",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


class _WriteLock:
    """The store's in-process write lock, with a fast lane: threads marked as priority (the halt lane's)
    go before any waiting ordinary writer, so a halt never queues behind a burst of commits."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held = False
        self._priority_waiting = 0
        self._local = threading.local()

    def mark_priority_thread(self) -> None:
        self._local.priority = True

    def __enter__(self) -> None:
        priority = getattr(self._local, "priority", False)
        with self._cond:
            if priority:
                self._priority_waiting += 1
            while self._held or (not priority and self._priority_waiting):
                self._cond.wait()
            if priority:
                self._priority_waiting -= 1
            self._held = True

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()


class Database:
    """One SQLite file; a connection per thread; writes serialised by BEGIN IMMEDIATE."""

    def __init__(self, path: Path, *, synchronous: str = "full", clock: Clock | None = None) -> None:
        self.path = path
        self.synchronous = synchronous.upper()
        self.clock = clock or SystemClock()
        self._local = threading.local()
        self._write_lock = _WriteLock()  # in-process writers queue here, not in SQLite's sleepy busy loop
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self.version = self._migrate()

    # -- connections -------------------------------------------------------------------------------

    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={self.synchronous}")
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"cannot open the bead store {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def mark_priority_thread(self) -> None:
        """Call on a thread whose writes go first (the halt lane's pool initializer)."""
        self._write_lock.mark_priority_thread()

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: everything written through its connection commits or vanishes together."""
        with self._write_lock:
            conn = self.conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def query(
        self, sql: str, args: tuple[Any, ...] | list[Any] = (), conn: sqlite3.Connection | None = None
    ) -> list[tuple[Any, ...]]:
        """Rows of one read, on `conn` (inside a transaction) or this thread's connection."""
        return list((conn or self.conn()).execute(sql, args).fetchall())

    def one(self, sql: str, args: tuple[Any, ...] = (), conn: sqlite3.Connection | None = None) -> Any:
        return (conn or self.conn()).execute(sql, args).fetchone()

    # -- schema -------------------------------------------------------------------------------------

    def _migrate(self) -> int:
        with self._write_lock:
            conn = self.conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                current = _stored_version(conn)
                if current > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path} was made by a newer seam release (schema {current}; this "
                        f"release knows up to {SCHEMA_VERSION}): upgrade seam to open it"
                    )
                for version, _what, statements in MIGRATIONS:
                    if version > current:
                        for statement in statements:
                            conn.execute(statement)
                if current < SCHEMA_VERSION:
                    conn.execute(
                        "INSERT INTO meta(key, value) VALUES ('schema', ?) ON CONFLICT(key) DO UPDATE "
                        "SET value = excluded.value",
                        (str(SCHEMA_VERSION),),
                    )
                conn.execute("COMMIT")
            except (sqlite3.DatabaseError, StoreError) as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, StoreError):
                    raise
                raise StoreError(f"cannot open the bead store {self.path}: {exc}") from exc
        return SCHEMA_VERSION


def _stored_version(conn: sqlite3.Connection) -> int:
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    if not has_meta:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    try:
        return int(row[0]) if row else 0
    except ValueError as exc:
        raise StoreError(f"the store's schema version {row[0]!r} is not a number") from exc
