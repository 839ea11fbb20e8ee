"""The intent ledger: one row per intent id, written with the intent's terminal bead in one transaction."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import StrEnum

from seam.store.db import Database

__all__ = ["Ledger", "LedgerRow", "LedgerStatus"]

_COLUMNS = "id, intent_sha256, kind, status, owner, response_name, response, bead"


class LedgerStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    OK = "ok"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    FAILED = "failed"


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


class Ledger:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, intent_id: str, conn: sqlite3.Connection | None = None) -> LedgerRow | None:
        row = self.db.one(f"SELECT {_COLUMNS} FROM ledger WHERE id = ?", (intent_id,), conn)
        return LedgerRow(*row) if row else None

    def put(self, conn: sqlite3.Connection, row: LedgerRow) -> None:
        conn.execute(
            f"INSERT INTO ledger({_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE "
            "SET intent_sha256=excluded.intent_sha256, kind=excluded.kind, status=excluded.status, "
            "owner=excluded.owner, response_name=excluded.response_name, response=excluded.response, "
            "bead=excluded.bead, updated_at=excluded.updated_at",
            (
                row.id,
                row.intent_sha256,
                row.kind,
                row.status,
                row.owner,
                row.response_name,
                row.response,
                row.bead,
                self.db.clock.now().isoformat(timespec="milliseconds"),
            ),
        )

    def counts(self) -> dict[str, int]:
        return {status: count for status, count in self.db.query("SELECT status, COUNT(*) FROM ledger GROUP BY status")}
