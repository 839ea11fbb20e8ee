"""Telegram's stored state: the delivery outbox, the Approve / Reject button nonces, the getUpdates offset.

    outbox   queued → delivered (Telegram's message id recorded in the same statement) | refused (Telegram
             said no for good); rows are delivered in `seq` order, one at a time, by one worker
    buttons  nonce → (offer, proposal, decision, the proposal's bound hash, expiry); all the buttons of one
             offer are spent together, once (compare and set), whichever is pressed first
    poll     the next getUpdates offset: the updates below it were handled

Neither the chat id, nor the token, nor an approval code is written here (migration 6 says why).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from seam.store.db import Database

__all__ = ["Button", "OutboxItem", "OutboxState", "TelegramTables"]

_OUTBOX = "seq, key, method, body, state, tries, message_id, detail, created_at"
_BUTTONS = "nonce, offer, proposal_id, decision, bound_hash, expires_at, used_at, outcome"


class OutboxState(StrEnum):
    QUEUED = "queued"
    DELIVERED = "delivered"
    REFUSED = "refused"


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    key: str | None
    method: str  # a Bot API method: sendMessage, editMessageText
    body: dict[str, Any]  # its parameters, without the chat id (added at send time from the environment)
    state: OutboxState
    tries: int
    message_id: int | None
    detail: str
    created_at: datetime


@dataclass(frozen=True)
class Button:
    nonce: str
    offer: int  # the outbox seq of the message that carries the buttons
    proposal_id: str
    decision: str  # approve | reject
    bound_hash: str  # the proposal's terms when the buttons were offered
    expires_at: datetime
    used_at: datetime | None
    outcome: str | None


def _item(r: tuple[Any, ...]) -> OutboxItem:
    return OutboxItem(
        r[0], r[1], r[2], json.loads(r[3]), OutboxState(r[4]), r[5], r[6], r[7], datetime.fromisoformat(r[8])
    )


def _button(r: tuple[Any, ...]) -> Button:
    used = datetime.fromisoformat(r[6]) if r[6] else None
    return Button(r[0], r[1], r[2], r[3], r[4], datetime.fromisoformat(r[5]), used, r[7])


class TelegramTables:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _now(self) -> str:
        return self.db.clock.now().isoformat(timespec="milliseconds")

    # -- outbox -------------------------------------------------------------------------------------

    def enqueue(
        self, method: str, body: dict[str, Any], *, key: str | None = None, conn: sqlite3.Connection | None = None
    ) -> int:
        """Queue one Bot API call; returns its seq. A `key` already queued returns the first row's seq."""
        if conn is None:
            with self.db.transaction() as tx:
                return self.enqueue(method, body, key=key, conn=tx)
        if key is not None:
            found = conn.execute("SELECT seq FROM telegram_outbox WHERE key = ?", (key,)).fetchone()
            if found:
                return int(found[0])
        now = self._now()
        cursor = conn.execute(
            "INSERT INTO telegram_outbox(key, method, body, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (key, method, json.dumps(body, ensure_ascii=False), OutboxState.QUEUED, now, now),
        )
        assert cursor.lastrowid is not None
        return int(cursor.lastrowid)

    def head(self) -> OutboxItem | None:
        """The oldest queued row: the one the worker delivers next (it blocks the rest until it is settled)."""
        row = self.db.one(
            f"SELECT {_OUTBOX} FROM telegram_outbox WHERE state = ? ORDER BY seq LIMIT 1", (OutboxState.QUEUED,)
        )
        return _item(row) if row else None

    def get(self, seq: int) -> OutboxItem | None:
        row = self.db.one(f"SELECT {_OUTBOX} FROM telegram_outbox WHERE seq = ?", (seq,))
        return _item(row) if row else None

    def items(self, state: OutboxState | None = None) -> list[OutboxItem]:
        where, args = ("WHERE state = ?", (str(state),)) if state else ("", ())
        return [_item(r) for r in self.db.query(f"SELECT {_OUTBOX} FROM telegram_outbox {where} ORDER BY seq", args)]

    def delivered(self, seq: int, message_id: int | None) -> bool:
        """Mark `seq` delivered with Telegram's message id, in one statement; False if it was settled already."""
        with self.db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE telegram_outbox SET state = ?, message_id = ?, detail = '', updated_at = ? "
                "WHERE seq = ? AND state = ?",
                (OutboxState.DELIVERED, message_id, self._now(), seq, OutboxState.QUEUED),
            )
            return cursor.rowcount == 1

    def refused(self, seq: int, detail: str) -> None:
        """Telegram refused `seq` for good (a 4xx other than 429): it leaves the queue, with why."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE telegram_outbox SET state = ?, detail = ?, updated_at = ? WHERE seq = ? AND state = ?",
                (OutboxState.REFUSED, detail, self._now(), seq, OutboxState.QUEUED),
            )

    def failed_try(self, seq: int, detail: str) -> int:
        """Count a failed try of `seq` (it stays queued); returns the tries so far."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE telegram_outbox SET tries = tries + 1, detail = ?, updated_at = ? WHERE seq = ?",
                (detail, self._now(), seq),
            )
            row = tx.execute("SELECT tries FROM telegram_outbox WHERE seq = ?", (seq,)).fetchone()
        return int(row[0]) if row else 0

    def queued_count(self) -> int:
        row = self.db.one("SELECT COUNT(*) FROM telegram_outbox WHERE state = ?", (OutboxState.QUEUED,))
        return int(row[0])

    # -- buttons ------------------------------------------------------------------------------------

    def add_buttons(
        self,
        conn: sqlite3.Connection,
        offer: int,
        proposal_id: str,
        bound_hash: str,
        expires_at: datetime,
        nonces: dict[str, str],
    ) -> None:
        """Store an offer's nonces (decision → nonce) in the transaction that queues its message."""
        for decision, nonce in nonces.items():
            conn.execute(
                f"INSERT INTO telegram_buttons({_BUTTONS}) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
                (nonce, offer, proposal_id, decision, bound_hash, expires_at.isoformat()),
            )

    def button(self, nonce: str) -> Button | None:
        row = self.db.one(f"SELECT {_BUTTONS} FROM telegram_buttons WHERE nonce = ?", (nonce,))
        return _button(row) if row else None

    def spend(self, offer: int, outcome: str) -> bool:
        """Spend every button of `offer` (compare and set): True for the one caller that spent them."""
        with self.db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE telegram_buttons SET used_at = ?, outcome = ? WHERE offer = ? AND used_at IS NULL",
                (self._now(), outcome, offer),
            )
            return cursor.rowcount > 0

    def settle(self, offer: int, outcome: str) -> None:
        """Record what a spent offer came to (approved, rejected, refused and why)."""
        with self.db.transaction() as tx:
            tx.execute("UPDATE telegram_buttons SET outcome = ? WHERE offer = ?", (outcome, offer))

    def expired_offers(self, now: datetime) -> list[Button]:
        """One button of each unspent offer whose expiry has passed (the approve one)."""
        rows = self.db.query(
            f"SELECT {_BUTTONS} FROM telegram_buttons WHERE used_at IS NULL AND decision = 'approve' ORDER BY offer"
        )
        return [b for b in map(_button, rows) if b.expires_at < now]

    # -- poll offset --------------------------------------------------------------------------------

    def offset(self) -> int:
        row = self.db.one("SELECT value FROM telegram_poll WHERE name = 'offset'")
        return int(row[0]) if row else 0

    def set_offset(self, value: int) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO telegram_poll(name, value) VALUES ('offset', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = MAX(value, excluded.value)",
                (value,),
            )
