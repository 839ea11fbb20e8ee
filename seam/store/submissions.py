"""Submissions: an approved order's intent to submit, written before the order goes, and its outcome.

    intended  the approval committed and the order is about to go (or went, and the daemon stopped before
              it could say so): the outcome is not known until the broker is asked by the order's reference
    sent      the broker accepted the order (its ids are recorded)
    found     resolved after a restart: the broker holds orders under the reference; seam adopted them
    not_sent  resolved after a restart: the broker holds nothing under the reference; nothing was sent

`intended` is the only state that is not an outcome. Rows are keyed by the order reference (the proposal id).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from seam.store.db import Database

__all__ = ["Submission", "SubmissionState", "Submissions"]

_COLUMNS = "ref, proposal_id, kind, intent_id, owner, state, orders, detail, created_at, updated_at"


class SubmissionState(StrEnum):
    INTENDED = "intended"
    SENT = "sent"
    FOUND = "found"
    NOT_SENT = "not_sent"


@dataclass(frozen=True)
class Submission:
    ref: str
    proposal_id: str
    kind: str  # open | close
    intent_id: str | None  # the approve intent that decided it
    owner: str | None  # the process that was sending it
    state: SubmissionState
    orders: list[str]
    detail: str
    created_at: datetime
    updated_at: datetime

    @property
    def resolved(self) -> bool:
        return self.state is not SubmissionState.INTENDED


def _row(r: tuple[Any, ...]) -> Submission:
    return Submission(
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        SubmissionState(r[5]),
        list(json.loads(r[6])),
        r[7],
        datetime.fromisoformat(r[8]),
        datetime.fromisoformat(r[9]),
    )


class Submissions:
    def __init__(self, db: Database) -> None:
        self.db = db

    def intend(
        self, conn: sqlite3.Connection, ref: str, proposal_id: str, kind: str, intent_id: str | None, owner: str
    ) -> None:
        """Record, in the approval's own transaction, that the order with `ref` is about to be sent. A proposal
        whose earlier approval was resolved `not_sent` (and reopened) may be approved again: its row starts over."""
        now = self.db.clock.now().isoformat(timespec="milliseconds")
        cursor = conn.execute(
            f"INSERT INTO submissions({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, '[]', '', ?, ?) "
            "ON CONFLICT(ref) DO UPDATE SET intent_id = excluded.intent_id, owner = excluded.owner, "
            "state = excluded.state, orders = '[]', detail = '', created_at = excluded.created_at, "
            "updated_at = excluded.updated_at WHERE submissions.state = ?",
            (
                ref,
                proposal_id,
                kind,
                intent_id,
                owner,
                str(SubmissionState.INTENDED),
                now,
                now,
                str(SubmissionState.NOT_SENT),
            ),
        )
        if cursor.rowcount != 1:
            raise sqlite3.IntegrityError(f"order reference {ref} already has a submission with an outcome")

    def settle(
        self,
        conn: sqlite3.Connection,
        ref: str,
        state: SubmissionState,
        orders: list[str],
        detail: str = "",
    ) -> bool:
        """intended → an outcome (compare and set: an outcome, once recorded, never changes)."""
        cursor = conn.execute(
            "UPDATE submissions SET state = ?, orders = ?, detail = ?, updated_at = ? WHERE ref = ? AND state = ?",
            (
                str(state),
                json.dumps(orders),
                detail,
                self.db.clock.now().isoformat(timespec="milliseconds"),
                ref,
                str(SubmissionState.INTENDED),
            ),
        )
        return cursor.rowcount == 1

    def note(self, conn: sqlite3.Connection, ref: str, detail: str) -> None:
        """Say why an intended submission's outcome is not known yet (it stays intended)."""
        conn.execute(
            "UPDATE submissions SET detail = ?, updated_at = ? WHERE ref = ? AND state = ?",
            (detail, self.db.clock.now().isoformat(timespec="milliseconds"), ref, str(SubmissionState.INTENDED)),
        )

    def get(self, ref: str, conn: sqlite3.Connection | None = None) -> Submission | None:
        found = self.db.one(f"SELECT {_COLUMNS} FROM submissions WHERE ref = ?", (ref,), conn)
        return _row(found) if found else None

    def of_proposal(self, proposal_id: str) -> Submission | None:
        found = self.db.one(f"SELECT {_COLUMNS} FROM submissions WHERE proposal_id = ?", (proposal_id,))
        return _row(found) if found else None

    def unresolved(self) -> list[Submission]:
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM submissions WHERE state = ? ORDER BY created_at",
            (str(SubmissionState.INTENDED),),
        )
        return [_row(r) for r in rows]
