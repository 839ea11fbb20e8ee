"""Audit stage and every other stored fact: one owner of the seam's SQLite file.

    Store
    ├── db          Database: connections, write lock, transactions, schema version and migrations,
    │               the store's id (and its sidecar seam.db.id), SQLite's check of the file
    ├── (beads)     append / beads / last_seq / verify: the hash-chained audit records
    ├── ledger      one row per intent id, committed with the intent's terminal bead
    ├── flags       typed flags: the halt flag, the published broker link, a reconnect request
    ├── proposals   proposals waiting for a human
    ├── codes       their approval codes
    ├── submissions an approved order's intent to submit, and its outcome
    └── positions   the position lifecycle's rows

No SQL is written outside this package. A write that must be atomic with a bead takes the
connection of `transaction()` (`conn=tx`); everything else opens its own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from seam.clock import Clock
from seam.store.beads import Bead, Beads, VerifyResult, canonical_json
from seam.store.db import SCHEMA_VERSION, Database
from seam.store.flags import Flags, Halt, PublishedLink
from seam.store.ledger import Ledger, LedgerRow, LedgerStatus
from seam.store.positions import PositionRow, Positions
from seam.store.proposals import CodeRow, Codes, ProposalRow, Proposals, ProposalStatus
from seam.store.submissions import Submission, Submissions, SubmissionState

__all__ = [
    "SCHEMA_VERSION",
    "Bead",
    "CodeRow",
    "Halt",
    "LedgerRow",
    "LedgerStatus",
    "PositionRow",
    "ProposalRow",
    "ProposalStatus",
    "PublishedLink",
    "Store",
    "Submission",
    "SubmissionState",
    "VerifyResult",
    "canonical_json",
]


class Store:
    """The seam's stored state. Opening it refuses a store that is missing, emptied, another seam's or
    damaged (StoreError; `check=False` skips SQLite's quick_check), and brings an older seam's schema up to date."""

    def __init__(
        self, path: Path, *, synchronous: str = "full", clock: Clock | None = None, check: bool = True
    ) -> None:
        self.db = Database(path, synchronous=synchronous, clock=clock, check=check)
        self.path = path
        self.clock = self.db.clock
        self._beads = Beads(self.db)
        self.ledger = Ledger(self.db)
        self.flags = Flags(self.db)
        self.proposals = Proposals(self.db)
        self.codes = Codes(self.db)
        self.submissions = Submissions(self.db)
        self.positions = Positions(self.db)

    # -- the database -------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; beads appended inside it commit or vanish together with the rest."""
        with self.db.transaction() as tx:
            yield tx

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads inside the block see one state of the store (`Database.snapshot`)."""
        return self.db.snapshot()

    def mark_priority_thread(self) -> None:
        """Call on a thread whose writes go first (the halt lane's pool initializer)."""
        self.db.mark_priority_thread()

    def close(self) -> None:
        self.db.close()

    # -- beads ----------------------------------------------------------------------------------------

    def append(
        self,
        type_: str,
        payload: dict[str, Any],
        *,
        intent_id: str | None = None,
        session_id: str | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> Bead:
        return self._beads.append(type_, payload, intent_id=intent_id, session_id=session_id, conn=conn)

    def beads(
        self, *, after: int = 0, type_: str | None = None, intent_id: str | None = None, limit: int | None = None
    ) -> list[Bead]:
        return self._beads.list(after=after, type_=type_, intent_id=intent_id, limit=limit)

    def last_of(self, type_: str) -> Bead | None:
        return self._beads.last_of(type_)

    def last_seq(self) -> int:
        return self._beads.last_seq()

    def verify(self) -> VerifyResult:
        """SQLite's full check of the file (damage: StoreError), then the hash chain from the first bead."""
        self.db.check(full=True)
        return self._beads.verify()

    # -- the halt flag: its one writer ----------------------------------------------------------------

    def halt_on(
        self,
        reason: str,
        *,
        by: str,
        intent_id: str | None = None,
        session_id: str | None = None,
        facts: dict[str, Any] | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> tuple[Halt, bool]:
        """Turn the halt flag on (idempotent) with a HALT bead, in one transaction (`conn`'s when given);
        returns (the flag, whether it was on already)."""
        if conn is None:
            with self.transaction() as tx:
                return self.halt_on(reason, by=by, intent_id=intent_id, session_id=session_id, facts=facts, conn=tx)
        was_on = self.flags.halt(conn) is not None
        at = self.clock.now().isoformat(timespec="milliseconds")
        bead = self.append(
            "HALT",
            {"event": "on", "reason": reason, "by": by, "was_halted": was_on, **(facts or {})},
            intent_id=intent_id,
            session_id=session_id,
            conn=conn,
        )
        halt = Halt(True, reason, at, bead.seq, by)
        self.flags.write_halt(conn, halt)
        return halt, was_on

    def halt_off(self, *, by: str, note: str) -> bool:
        """Turn the halt flag off (a human's act) with a HALT bead. Returns whether it was on."""
        with self.transaction() as tx:
            was_on = self.flags.halt(tx) is not None
            bead = self.append("HALT", {"event": "off", "by": by, "note": note, "was_on": was_on}, conn=tx)
            self.flags.write_halt(
                tx, Halt(False, "", self.clock.now().isoformat(timespec="milliseconds"), bead.seq, by)
            )
        return was_on
