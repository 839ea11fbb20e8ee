"""The position lifecycle: an explicit transition table, persisted, every transition a POSITION bead.

PROPOSED → APPROVED → SUBMITTED → PARTIALLY_FILLED → FILLED → MANAGED → CLOSING → CLOSED
plus REJECTED, CANCELLED, EXPIRED (terminal) and STALLED (no broker update within the
configured time while the broker owes one; it returns to where it was when an update arrives).
APPROVED → PROPOSED: the daemon stopped after the approval and before the order went, and the broker
holds nothing under its reference; the proposal waits for a human again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from seam.clock import Clock
from seam.errors import HandlerError
from seam.store import PositionRow, Store

__all__ = ["TRANSITIONS", "IllegalTransition", "Lifecycle", "PositionRecord", "PositionState", "UnknownPosition"]


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
    S.APPROVED: frozenset({S.SUBMITTED, S.PROPOSED, S.REJECTED, S.CANCELLED, S.EXPIRED}),
    S.SUBMITTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.CANCELLED, S.STALLED}),
    S.PARTIALLY_FILLED: frozenset({S.FILLED, S.CANCELLED, S.STALLED}),
    S.FILLED: frozenset({S.MANAGED, S.CLOSING, S.CLOSED}),
    S.MANAGED: frozenset({S.CLOSING, S.CLOSED}),
    S.CLOSING: frozenset({S.CLOSED, S.MANAGED, S.STALLED}),
    S.STALLED: frozenset(
        {S.SUBMITTED, S.PARTIALLY_FILLED, S.FILLED, S.MANAGED, S.CLOSING, S.CLOSED, S.CANCELLED, S.REJECTED}
    ),
    S.CLOSED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}


class IllegalTransition(HandlerError):
    def __init__(self, position_id: str, current: PositionState, target: PositionState) -> None:
        super().__init__(
            f"position {position_id}: {current} → {target} is not an allowed transition",
            "Nothing was changed; `positions` shows where the position stands.",
        )
        self.current = current
        self.target = target


class UnknownPosition(HandlerError):
    def __init__(self, position_id: str) -> None:
        super().__init__(f"seam tracks no position {position_id}", "See the `positions` kind for the open positions.")
        self.position_id = position_id


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


class Lifecycle:
    def __init__(
        self, store: Store, clock: Clock, *, stall_after: timedelta = timedelta(minutes=5), mode: str | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.stall_after = stall_after
        self.mode = mode  # the broker mode positions are opened in; reconciliation explains a mode's leftovers

    def open(self, position_id: str, pair: str, side: str, units: int, **facts: Any) -> PositionRecord:
        now = self.clock.now()
        if self.mode is not None:
            facts.setdefault("mode", self.mode)
        with self.store.transaction() as tx:
            if self.store.positions.get(position_id, tx) is not None:
                raise HandlerError(f"position {position_id} already exists", "Use a new id for a new position.")
            self.store.positions.insert(tx, PositionRow(position_id, pair, side, units, S.PROPOSED, None, now, facts))
            self.store.append(
                "POSITION",
                {"position": position_id, "from": None, "to": S.PROPOSED, "pair": pair, "side": side, "units": units},
                intent_id=position_id,
                conn=tx,
            )
        return self.get(position_id)

    def find(self, position_id: str) -> PositionRecord | None:
        row = self.store.positions.get(position_id)
        return _record(row) if row else None

    def get(self, position_id: str) -> PositionRecord:
        """A position seam tracks; its absence is a defect of the caller (authors' ids go through `find`)."""
        record = self.find(position_id)
        if record is None:
            raise UnknownPosition(position_id)
        return record

    def all(self, *, include_terminal: bool = False) -> list[PositionRecord]:
        records = [_record(r) for r in self.store.positions.all()]
        return records if include_terminal else [r for r in records if r.state not in TERMINAL]

    def transition(self, position_id: str, target: PositionState, *, reason: str = "", **facts: Any) -> PositionRecord:
        """Move a position; an illegal move raises and changes nothing."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            row = self.store.positions.get(position_id, tx)
            if row is None:
                raise UnknownPosition(position_id)
            current = PositionState(row.state)
            if target not in TRANSITIONS[current]:
                raise IllegalTransition(position_id, current, target)
            stalled_from = current if target is S.STALLED else None
            self.store.positions.update(
                tx, position_id, state=target, stalled_from=stalled_from, last_update=now, facts={**row.facts, **facts}
            )
            self.store.append(
                "POSITION",
                {"position": position_id, "from": current, "to": target, "reason": reason, **facts},
                intent_id=position_id,
                conn=tx,
            )
        return self.get(position_id)

    def retire(self, position_id: str, reason: str) -> PositionRecord:
        """End a position no broker can hold any more (a MOCK book gone with its daemon): CLOSED when it was
        filled, CANCELLED when its entry never filled, with the reason in its POSITION bead."""
        record = self.get(position_id)
        filled = record.state in (S.FILLED, S.MANAGED, S.CLOSING) or (
            record.state is S.STALLED and record.stalled_from in (S.CLOSING,)
        )
        target = S.CLOSED if filled else S.CANCELLED
        return self.transition(position_id, target, reason=reason, retired=True)

    def touch(self, position_id: str) -> None:
        """A broker update arrived: the stall clock restarts (no state change, no bead)."""
        self.store.positions.touch(position_id, self.clock.now())

    def check_stalled(self) -> list[PositionRecord]:
        """Mark STALLED every position the broker owes an update for longer than `stall_after`."""
        now = self.clock.now()
        stalled = []
        for record in self.all():
            if record.state in AWAITING_BROKER and now - record.last_update > self.stall_after:
                waited = int((now - record.last_update).total_seconds())
                stalled.append(self.transition(record.id, S.STALLED, reason=f"no broker update for {waited} s"))
        return stalled


def _record(row: PositionRow) -> PositionRecord:
    return PositionRecord(
        row.id,
        row.pair,
        row.side,
        row.units,
        PositionState(row.state),
        PositionState(row.stalled_from) if row.stalled_from else None,
        row.last_update,
        row.facts,
    )
