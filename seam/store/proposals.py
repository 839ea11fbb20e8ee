"""Proposals waiting for a human, and their approval codes (kept apart: nothing shown ever reads codes)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from seam.store.db import Database

__all__ = ["CodeRow", "Codes", "ProposalRow", "ProposalStatus", "Proposals"]

_COLUMNS = (
    "id, kind, position_id, pair, side, units, entry, stop, target, evidence, anchor, anchor_hash, "
    "intent_sha256, created_at, status, tries"
)


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    LOCKED = "locked"
    EXPIRED = "expired"
    CONFLICT = "conflict"
    FAILED = "failed"


@dataclass(frozen=True)
class ProposalRow:
    id: str
    kind: str  # open | close
    position_id: str
    pair: str
    side: str
    units: int
    entry: float | None
    stop: float | None
    target: float | None
    evidence: dict[str, Any]
    anchor: dict[str, Any]
    anchor_hash: str
    intent_sha256: str
    created_at: datetime
    status: ProposalStatus
    tries: int


@dataclass(frozen=True)
class CodeRow:
    """An issued code as stored: its keyed digest (seam/approval/keys.py), never the digits."""

    proposal_id: str
    digest: str
    bound_hash: str
    expires_at: datetime
    used: bool
    spent_by: str | None = None  # the intent that spent it (None: a console, or a release before 0.2)


def _row(r: tuple[Any, ...]) -> ProposalRow:
    return ProposalRow(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        int(r[5]),
        r[6],
        r[7],
        r[8],
        json.loads(r[9]),
        json.loads(r[10]),
        r[11],
        r[12],
        datetime.fromisoformat(r[13]),
        ProposalStatus(r[14]),
        int(r[15]),
    )


class Proposals:
    def __init__(self, db: Database) -> None:
        self.db = db

    def exists(self, proposal_id: str, conn: sqlite3.Connection | None = None) -> bool:
        return self.db.one("SELECT 1 FROM proposals WHERE id = ?", (proposal_id,), conn) is not None

    def insert(self, conn: sqlite3.Connection, row: ProposalRow) -> None:
        conn.execute(
            f"INSERT INTO proposals({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                row.id,
                row.kind,
                row.position_id,
                row.pair,
                row.side,
                row.units,
                row.entry,
                row.stop,
                row.target,
                json.dumps(row.evidence),
                json.dumps(row.anchor),
                row.anchor_hash,
                row.intent_sha256,
                row.created_at.isoformat(),
                str(row.status),
                row.tries,
            ),
        )

    def get(self, proposal_id: str) -> ProposalRow | None:
        found = self.db.one(f"SELECT {_COLUMNS} FROM proposals WHERE id = ?", (proposal_id,))
        return _row(found) if found else None

    def pending(self) -> list[ProposalRow]:
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM proposals WHERE status = ? ORDER BY created_at", (str(ProposalStatus.PENDING),)
        )
        return [_row(r) for r in rows]

    def set_status(
        self, conn: sqlite3.Connection, proposal_id: str, status: ProposalStatus, *, decided_at: datetime | None = None
    ) -> None:
        conn.execute(
            "UPDATE proposals SET status = ?, decided_at = COALESCE(?, decided_at) WHERE id = ?",
            (str(status), decided_at.isoformat() if decided_at else None, proposal_id),
        )

    def decide(self, conn: sqlite3.Connection, proposal_id: str, status: ProposalStatus, decided_at: datetime) -> bool:
        """PENDING → `status`, only if it is still pending (compare and set): a decided proposal never changes."""
        cursor = conn.execute(
            "UPDATE proposals SET status = ?, decided_at = ? WHERE id = ? AND status = ?",
            (str(status), decided_at.isoformat(), proposal_id, str(ProposalStatus.PENDING)),
        )
        return cursor.rowcount == 1

    def reopen(self, conn: sqlite3.Connection, proposal_id: str) -> bool:
        """APPROVED → PENDING, only if it is still approved (compare and set): an approval whose order the
        broker never received (the daemon stopped before sending it) waits for a human again."""
        cursor = conn.execute(
            "UPDATE proposals SET status = ?, decided_at = NULL WHERE id = ? AND status = ?",
            (str(ProposalStatus.PENDING), proposal_id, str(ProposalStatus.APPROVED)),
        )
        return cursor.rowcount == 1

    def set_tries(self, conn: sqlite3.Connection, proposal_id: str, tries: int, status: ProposalStatus) -> None:
        conn.execute("UPDATE proposals SET tries = ?, status = ? WHERE id = ?", (tries, str(status), proposal_id))


class Codes:
    def __init__(self, db: Database) -> None:
        self.db = db

    def issue(self, proposal_id: str, digest: str, bound_hash: str, expires_at: datetime) -> None:
        """Store a code's digest (a new code replaces the proposal's earlier one, spent or not)."""
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT OR REPLACE INTO approval_codes(proposal_id, digest, bound_hash, expires_at, used, spent_by) "
                "VALUES (?, ?, ?, ?, 0, NULL)",
                (proposal_id, digest, bound_hash, expires_at.isoformat()),
            )

    def get(self, proposal_id: str, conn: sqlite3.Connection | None = None) -> CodeRow | None:
        found = self.db.one(
            "SELECT proposal_id, digest, bound_hash, expires_at, used, spent_by FROM approval_codes "
            "WHERE proposal_id = ?",
            (proposal_id,),
            conn,
        )
        return _code(found) if found else None

    def take(self, conn: sqlite3.Connection, proposal_id: str, digest: str, spent_by: str | None = None) -> bool:
        """Spend the code if it is this one and unspent (compare and set): of two takers exactly one wins."""
        cursor = conn.execute(
            "UPDATE approval_codes SET used = 1, spent_by = ? WHERE proposal_id = ? AND digest = ? AND used = 0",
            (spent_by, proposal_id, digest),
        )
        return cursor.rowcount == 1

    def spend(self, conn: sqlite3.Connection, proposal_id: str) -> None:
        conn.execute("UPDATE approval_codes SET used = 1 WHERE proposal_id = ?", (proposal_id,))

    def live_for_pending(self) -> dict[str, CodeRow]:
        """Unspent codes of pending proposals, by proposal id (their expiry; the digits are not stored)."""
        rows = self.db.query(
            "SELECT c.proposal_id, c.digest, c.bound_hash, c.expires_at, c.used, c.spent_by FROM approval_codes c "
            "JOIN proposals p ON p.id = c.proposal_id WHERE p.status = ? AND c.used = 0",
            (str(ProposalStatus.PENDING),),
        )
        return {r[0]: _code(r) for r in rows}

    def wrong_since(self, since: datetime, conn: sqlite3.Connection | None = None) -> int:
        """Wrong codes presented since `since`, across every proposal (the APPROVAL beads say so)."""
        row = self.db.one(
            "SELECT COUNT(*) FROM beads WHERE type = 'APPROVAL' AND at >= ? "
            "AND json_extract(payload, '$.event') = 'wrong_code'",
            (since.isoformat(timespec="milliseconds"),),
            conn,
        )
        return int(row[0])


def _code(r: tuple[Any, ...]) -> CodeRow:
    return CodeRow(r[0], r[1], r[2], datetime.fromisoformat(r[3]), bool(r[4]), r[5])
