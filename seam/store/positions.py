"""The position lifecycle's rows; the transition table that governs them is broker/lifecycle.py."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seam.store.db import Database

__all__ = ["PositionRow", "Positions"]

_COLUMNS = "id, pair, side, units, state, stalled_from, last_update, facts"


@dataclass(frozen=True)
class PositionRow:
    id: str
    pair: str
    side: str
    units: int
    state: str
    stalled_from: str | None
    last_update: datetime
    facts: dict[str, Any]


def _row(r: tuple[Any, ...]) -> PositionRow:
    return PositionRow(r[0], r[1], r[2], int(r[3]), r[4], r[5], datetime.fromisoformat(r[6]), json.loads(r[7]))


class Positions:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, position_id: str, conn: sqlite3.Connection | None = None) -> PositionRow | None:
        found = self.db.one(f"SELECT {_COLUMNS} FROM lifecycle WHERE id = ?", (position_id,), conn)
        return _row(found) if found else None

    def all(self) -> list[PositionRow]:
        return [_row(r) for r in self.db.query(f"SELECT {_COLUMNS} FROM lifecycle ORDER BY id")]

    def insert(self, conn: sqlite3.Connection, row: PositionRow) -> None:
        conn.execute(
            f"INSERT INTO lifecycle({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.id,
                row.pair,
                row.side,
                row.units,
                row.state,
                row.stalled_from,
                row.last_update.isoformat(),
                json.dumps(row.facts),
            ),
        )

    def update(
        self,
        conn: sqlite3.Connection,
        position_id: str,
        *,
        state: str,
        stalled_from: str | None,
        last_update: datetime,
        facts: dict[str, Any],
    ) -> None:
        conn.execute(
            "UPDATE lifecycle SET state = ?, stalled_from = ?, last_update = ?, facts = ? WHERE id = ?",
            (state, stalled_from, last_update.isoformat(), json.dumps(facts), position_id),
        )

    def touch(self, position_id: str, when: datetime) -> None:
        with self.db.transaction() as tx:
            tx.execute("UPDATE lifecycle SET last_update = ? WHERE id = ?", (when.isoformat(), position_id))
