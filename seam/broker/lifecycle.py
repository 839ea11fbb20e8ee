"""The position lifecycle: an explicit transition table, persisted, every transition a POSITION bead.

    PROPOSED → APPROVED → SUBMITTED → PARTIALLY_FILLED → FILLED → MANAGED → CLOSING → CLOSED
    plus REJECTED, CANCELLED, EXPIRED (terminal) and STALLED (no broker update within the
    configured time while the broker owes one; it returns to where it was when an update arrives).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from seam.audit import BeadStore
from seam.clock import Clock
from seam.errors import SeamError

__all__ = ["IllegalTransition", "Lifecycle", "PositionRecord", "PositionState", "TRANSITIONS"]


class PositionState(StrEnum):
    PROPOSED = "PROPOSED"
    APPROVED = "APPROVED"
    SUBMITTED = "SUBMITTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    MANAGED = "MANAGED"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    STALLED = "STALLED"


S = PositionState
TERMINAL = frozenset({S.CLOSED, S.REJECTED, S.CANCELLED, S.EXPIRED})
# States in which the broker owes us an update; only these can stall.
AWAITING_BROKER = frozenset({S.SUBMITTED, S.PARTIALLY_FILLED, S.CLOSING})
# States in which a position is (or may be) open at the broker.
OPEN_AT_BROKER = frozenset({S.PARTIALLY_FILLED, S.FILLED, S.MANAGED, S.CLOSING})

TRANSITIONS: dict[PositionState, frozenset[PositionState]] = {
    S.PROPOSED: frozenset({S.APPROVED, S.REJECTED, S.EXPIRED, S.CANCELLED}),
    S.APPROVED: frozenset({S.SUBMITTED, S.REJECTED, S.CANCELLED, S.EXPIRED}),
    S.SUBMITTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.CANCELLED, S.STALLED}),
    S.PARTIALLY_FILLED: frozenset({S.FILLED, S.CANCELLED, S.STALLED}),
    S.FILLED: frozenset({S.MANAGED, S.CLOSING, S.CLOSED}),
    S.MANAGED: frozenset({S.CLOSING, S.CLOSED}),
    S.CLOSING: frozenset({S.CLOSED, S.MANAGED, S.STALLED}),
    S.STALLED: frozenset({S.SUBMITTED, S.PARTIALLY_FILLED, S.FILLED, S.MANAGED, S.CLOSING, S.CLOSED,
                          S.CANCELLED, S.REJECTED}),
    S.CLOSED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}


class IllegalTransition(SeamError):
    def __init__(self, position_id: str, current: PositionState, target: PositionState) -> None:
        super().__init__(f"position {position_id}: {current} → {target} is not an allowed transition")
        self.current = current
        self.target = target


@dataclass(frozen=True)
class PositionRecord:
    id: str
    pair: str
    side: str
    units: int
    state: PositionState
    stalled_from: PositionState | None
    last_update: datetime
    facts: dict[str, Any]


_SCHEMA = """CREATE TABLE IF NOT EXISTS lifecycle (
    id TEXT PRIMARY KEY, pair TEXT NOT NULL, side TEXT NOT NULL, units INTEGER NOT NULL, state TEXT NOT NULL,
    stalled_from TEXT, last_update TEXT NOT NULL, facts TEXT NOT NULL)"""


class Lifecycle:
    def __init__(self, store: BeadStore, clock: Clock, *, stall_after: timedelta = timedelta(minutes=5)) -> None:
        self.store = store
        self.clock = clock
        self.stall_after = stall_after
        with store.transaction() as tx:
            tx.execute(_SCHEMA)

    def open(self, position_id: str, pair: str, side: str, units: int, **facts: Any) -> PositionRecord:
        now = self.clock.now()
        with self.store.transaction() as tx:
            if tx.execute("SELECT 1 FROM lifecycle WHERE id = ?", (position_id,)).fetchone():
                raise SeamError(f"position {position_id} already exists")
            tx.execute("INSERT INTO lifecycle VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
                       (position_id, pair, side, units, S.PROPOSED, now.isoformat(), json.dumps(facts)))
            self.store.append("POSITION", {"position": position_id, "from": None, "to": S.PROPOSED, "pair": pair,
                                           "side": side, "units": units}, intent_id=position_id, conn=tx)
        return self.get(position_id)

    def get(self, position_id: str) -> PositionRecord:
        rows = self.store.read(
            "SELECT id, pair, side, units, state, stalled_from, last_update, facts FROM lifecycle WHERE id = ?",
            (position_id,))
        if not rows:
            raise SeamError(f"no position {position_id}")
        return _record(rows[0])

    def all(self, *, include_terminal: bool = False) -> list[PositionRecord]:
        rows = self.store.read(
            "SELECT id, pair, side, units, state, stalled_from, last_update, facts FROM lifecycle ORDER BY id")
        records = [_record(r) for r in rows]
        return records if include_terminal else [r for r in records if r.state not in TERMINAL]

    def transition(self, position_id: str, target: PositionState, *, reason: str = "", **facts: Any) -> PositionRecord:
        """Move a position; an illegal move raises and changes nothing."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            row = tx.execute("SELECT state, stalled_from, facts FROM lifecycle WHERE id = ?", (position_id,)).fetchone()
            if row is None:
                raise SeamError(f"no position {position_id}")
            current = PositionState(row[0])
            if target not in TRANSITIONS[current]:
                raise IllegalTransition(position_id, current, target)
            stalled_from = current if target is S.STALLED else None
            merged = {**json.loads(row[2]), **facts}
            tx.execute("UPDATE lifecycle SET state = ?, stalled_from = ?, last_update = ?, facts = ? WHERE id = ?",
                       (target, stalled_from, now.isoformat(), json.dumps(merged), position_id))
            self.store.append("POSITION", {"position": position_id, "from": current, "to": target, "reason": reason,
                                           **facts}, intent_id=position_id, conn=tx)
        return self.get(position_id)

    def touch(self, position_id: str) -> None:
        """A broker update arrived: the stall clock restarts (no state change, no bead)."""
        with self.store.transaction() as tx:
            tx.execute("UPDATE lifecycle SET last_update = ? WHERE id = ?", (self.clock.now().isoformat(), position_id))

    def check_stalled(self) -> list[PositionRecord]:
        """Mark STALLED every position the broker owes an update for longer than `stall_after`."""
        now = self.clock.now()
        stalled = []
        for record in self.all():
            if record.state in AWAITING_BROKER and now - record.last_update > self.stall_after:
                waited = int((now - record.last_update).total_seconds())
                stalled.append(self.transition(record.id, S.STALLED, reason=f"no broker update for {waited} s"))
        return stalled


def _record(row: tuple[Any, ...]) -> PositionRecord:
    return PositionRecord(row[0], row[1], row[2], int(row[3]), PositionState(row[4]),
                          PositionState(row[5]) if row[5] else None, datetime.fromisoformat(row[6]), json.loads(row[7]))
