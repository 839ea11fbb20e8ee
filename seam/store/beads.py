"""The bead chain: append-only, hash-chained audit records.

Beads are only ever appended; triggers refuse UPDATE and DELETE, and each bead's hash covers its content
and the previous bead's hash, so `verify()` names the first bead that was altered or removed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from seam.store.db import Database

__all__ = ["GENESIS", "Bead", "Beads", "VerifyResult", "bead_hash", "canonical_json"]

GENESIS = "0" * 64
_COLUMNS = "seq, type, at, intent_id, session_id, payload, prev_hash, hash"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def bead_hash(
    seq: int, type_: str, at: str, intent_id: str | None, session_id: str | None, payload: str, prev_hash: str
) -> str:
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
class VerifyResult:
    ok: bool
    count: int
    first_bad: int | None = None
    reason: str = ""


class Beads:
    def __init__(self, db: Database) -> None:
        self.db = db

    def append(
        self,
        type_: str,
        payload: dict[str, Any],
        *,
        intent_id: str | None = None,
        session_id: str | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> Bead:
        """Append one bead; inside a transaction pass its connection, otherwise one is opened."""
        if conn is None:
            with self.db.transaction() as tx:
                return self.append(type_, payload, intent_id=intent_id, session_id=session_id, conn=tx)
        last = conn.execute("SELECT seq, hash FROM beads ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        at = self.db.clock.now().isoformat(timespec="milliseconds")
        body = canonical_json(payload)
        digest = bead_hash(seq, type_, at, intent_id, session_id, body, prev)
        conn.execute(
            f"INSERT INTO beads({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, type_, at, intent_id, session_id, body, prev, digest),
        )
        return Bead(seq, type_, at, intent_id, session_id, payload, prev, digest)

    def list(
        self, *, after: int = 0, type_: str | None = None, intent_id: str | None = None, limit: int | None = None
    ) -> list[Bead]:
        query = f"SELECT {_COLUMNS} FROM beads WHERE seq > ?"
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
        return [Bead(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in self.db.query(query, args)]

    def last_of(self, type_: str) -> Bead | None:
        """The newest bead of a type (the index on type and seq: one look, however long the chain)."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM beads WHERE type = ? ORDER BY seq DESC LIMIT 1", [type_])
        return next((Bead(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows), None)

    def last_seq(self) -> int:
        row = self.db.one("SELECT MAX(seq) FROM beads")
        return int(row[0] or 0)

    def verify(self) -> VerifyResult:
        """Walk the chain from the first bead; name the first one that was altered or removed.
        A file SQLite cannot read on the way is a StoreError."""
        try:
            return self._walk()
        except sqlite3.DatabaseError as exc:
            raise self.db.store_error("read the beads of", exc) from exc

    def _walk(self) -> VerifyResult:
        prev_hash, expected_seq, count = GENESIS, 1, 0
        cursor = self.db.conn().execute(f"SELECT {_COLUMNS} FROM beads ORDER BY seq")
        for seq, type_, at, intent_id, session_id, payload, stored_prev, stored_hash in cursor:
            if seq != expected_seq:
                return VerifyResult(
                    False, count, expected_seq, f"bead {expected_seq} is missing (the next bead present is {seq})"
                )
            if stored_prev != prev_hash:
                return VerifyResult(False, count, seq, f"bead {seq} does not chain to bead {seq - 1}")
            if bead_hash(seq, type_, at, intent_id, session_id, payload, stored_prev) != stored_hash:
                return VerifyResult(False, count, seq, f"bead {seq} was altered: its content does not match its hash")
            prev_hash, expected_seq, count = stored_hash, seq + 1, count + 1
        return VerifyResult(True, count)
