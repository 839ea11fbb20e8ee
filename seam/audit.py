"""Audit stage: the bead store (append-only, hash-chained) and the intent ledger, in one SQLite file.

Guarantees:
- Beads are only ever appended; triggers refuse UPDATE and DELETE, and each bead's hash covers its
  content and the previous bead's hash, so `verify()` names the first bead that was altered or removed.
- The ledger (one row per intent id) and the terminal bead of an intent are written in one
  transaction: after a crash either both exist or neither does.
- Writers in several threads and several processes are serialised by SQLite's write lock
  (BEGIN IMMEDIATE), so the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from seam.clock import Clock, SystemClock
from seam.errors import StoreError

__all__ = ["Bead", "BeadStore", "LedgerRow", "VerifyResult", "canonical_json"]

GENESIS = "0" * 64
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS beads (
    seq INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    at TEXT NOT NULL,
    intent_id TEXT,
    session_id TEXT,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS beads_type ON beads(type, seq);
CREATE INDEX IF NOT EXISTS beads_intent ON beads(intent_id);
CREATE TRIGGER IF NOT EXISTS beads_append_only_update BEFORE UPDATE ON beads
    BEGIN SELECT RAISE(ABORT, 'beads are append-only'); END;
CREATE TRIGGER IF NOT EXISTS beads_append_only_delete BEFORE DELETE ON beads
    BEGIN SELECT RAISE(ABORT, 'beads are append-only'); END;
CREATE TABLE IF NOT EXISTS ledger (
    id TEXT PRIMARY KEY,
    intent_sha256 TEXT NOT NULL,
    kind TEXT,
    status TEXT NOT NULL,
    owner TEXT,
    response_name TEXT,
    response TEXT,
    bead INTEGER,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_status ON ledger(status);
CREATE TABLE IF NOT EXISTS flags (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    bead INTEGER,
    updated_at TEXT NOT NULL
);
"""


class LedgerStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    OK = "ok"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    FAILED = "failed"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _bead_hash(seq: int, type_: str, at: str, intent_id: str | None, session_id: str | None,
               payload: str, prev_hash: str) -> str:
    material = canonical_json([seq, type_, at, intent_id, session_id, payload, prev_hash])
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class Bead:
    seq: int
    type: str
    at: str
    intent_id: str | None
    session_id: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class LedgerRow:
    id: str
    intent_sha256: str
    kind: str | None
    status: str
    owner: str | None
    response_name: str | None
    response: str | None
    bead: int | None


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    first_bad: int | None = None
    reason: str = ""


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


class BeadStore:
    """One SQLite file; a connection per thread; writes serialised by BEGIN IMMEDIATE."""

    def __init__(self, path: Path, *, synchronous: str = "full", clock: Clock | None = None) -> None:
        self.path = path
        self.synchronous = synchronous.upper()
        self.clock = clock or SystemClock()
        self._local = threading.local()
        self._write_lock = _WriteLock()  # in-process writers queue here, not in SQLite's sleepy busy loop
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        with self._write_lock:
            conn = self._conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(f"cannot open the bead store {path}: {exc}") from exc

    # -- connections -------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
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
        """A write transaction; beads appended inside it commit or vanish together with the ledger."""
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- beads ------------------------------------------------------------------------------------

    def append(self, type_: str, payload: dict[str, Any], *, intent_id: str | None = None,
               session_id: str | None = None, conn: sqlite3.Connection | None = None) -> Bead:
        """Append one bead; inside `transaction()` pass its connection, otherwise one is opened."""
        if conn is None:
            with self.transaction() as tx:
                return self.append(type_, payload, intent_id=intent_id, session_id=session_id, conn=tx)
        last = conn.execute("SELECT seq, hash FROM beads ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        at = self.clock.now().isoformat(timespec="milliseconds")
        body = canonical_json(payload)
        digest = _bead_hash(seq, type_, at, intent_id, session_id, body, prev)
        conn.execute(
            "INSERT INTO beads(seq, type, at, intent_id, session_id, payload, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, type_, at, intent_id, session_id, body, prev, digest),
        )
        return Bead(seq, type_, at, intent_id, session_id, payload, prev, digest)

    def beads(self, *, after: int = 0, type_: str | None = None, intent_id: str | None = None,
              limit: int | None = None) -> list[Bead]:
        query = "SELECT seq, type, at, intent_id, session_id, payload, prev_hash, hash FROM beads WHERE seq > ?"
        args: list[Any] = [after]
        if type_ is not None:
            query += " AND type = ?"
            args.append(type_)
        if intent_id is not None:
            query += " AND intent_id = ?"
            args.append(intent_id)
        query += " ORDER BY seq"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        rows = self._conn().execute(query, args).fetchall()
        return [Bead(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows]

    def read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read-only query on this thread's connection (for the lifecycle and reports)."""
        return list(self._conn().execute(sql, args).fetchall())

    def last_seq(self) -> int:
        row = self._conn().execute("SELECT MAX(seq) FROM beads").fetchone()
        return int(row[0] or 0)

    def verify(self) -> VerifyResult:
        """Walk the chain from the first bead; name the first one that was altered or removed."""
        prev_hash, expected_seq, count = GENESIS, 1, 0
        cursor = self._conn().execute(
            "SELECT seq, type, at, intent_id, session_id, payload, prev_hash, hash FROM beads ORDER BY seq")
        for seq, type_, at, intent_id, session_id, payload, stored_prev, stored_hash in cursor:
            if seq != expected_seq:
                return VerifyResult(False, count, expected_seq,
                                    f"bead {expected_seq} is missing (the next bead present is {seq})")
            if stored_prev != prev_hash:
                return VerifyResult(False, count, seq, f"bead {seq} does not chain to bead {seq - 1}")
            if _bead_hash(seq, type_, at, intent_id, session_id, payload, stored_prev) != stored_hash:
                return VerifyResult(False, count, seq, f"bead {seq} was altered: its content does not match its hash")
            prev_hash, expected_seq, count = stored_hash, seq + 1, count + 1
        return VerifyResult(True, count)

    # -- ledger -----------------------------------------------------------------------------------

    def ledger_get(self, intent_id: str, conn: sqlite3.Connection | None = None) -> LedgerRow | None:
        row = (conn or self._conn()).execute(
            "SELECT id, intent_sha256, kind, status, owner, response_name, response, bead FROM ledger WHERE id = ?",
            (intent_id,),
        ).fetchone()
        return LedgerRow(*row) if row else None

    def ledger_put(self, conn: sqlite3.Connection, row: LedgerRow) -> None:
        conn.execute(
            "INSERT INTO ledger(id, intent_sha256, kind, status, owner, response_name, response, bead, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET intent_sha256=excluded.intent_sha256, "
            "kind=excluded.kind, status=excluded.status, owner=excluded.owner, response_name=excluded.response_name, "
            "response=excluded.response, bead=excluded.bead, updated_at=excluded.updated_at",
            (row.id, row.intent_sha256, row.kind, row.status, row.owner, row.response_name, row.response, row.bead,
             self.clock.now().isoformat(timespec="milliseconds")),
        )

    def ledger_counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT status, COUNT(*) FROM ledger GROUP BY status").fetchall()
        return {status: count for status, count in rows}

    # -- flags (the halt flag) --------------------------------------------------------------------

    def flag(self, name: str) -> dict[str, Any] | None:
        row = self._conn().execute("SELECT value, bead, updated_at FROM flags WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        return value if isinstance(value, dict) else None

    def set_flag(self, conn: sqlite3.Connection, name: str, value: dict[str, Any] | None, bead: int) -> None:
        conn.execute(
            "INSERT INTO flags(name, value, bead, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
            "value=excluded.value, bead=excluded.bead, updated_at=excluded.updated_at",
            (name, canonical_json(value), bead, self.clock.now().isoformat(timespec="milliseconds")),
        )


def parse_at(at: str) -> datetime:
    return datetime.fromisoformat(at)
