"""Typed flags: the halt flag, the broker link as its owner published it, a reconnect request, the approvals
lock, and the broker lease (which daemon owns the seam's broker).

Each flag has one writer: the halt flag is turned on and off only through `Store.halt_on` /
`Store.halt_off` (each with its HALT bead in the same transaction); the link is published only by the
broker service; the reconnect request is raised by `seam broker reconnect` and taken by the broker service;
the approvals lock is set by the code check (seam/approval/codes.py) and lifted by a person at a terminal;
the broker lease is taken, renewed and given up only by seam/broker/lease.py.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from seam.store.beads import canonical_json
from seam.store.db import Database

__all__ = ["ApprovalsLock", "BrokerLease", "Flags", "Halt", "PublishedLink"]

HALT = "halt"
LINK = "broker_link"
RECONNECT = "broker_reconnect_request"
APPROVALS = "approvals_locked"
LEASE = "broker_lease"


@dataclass(frozen=True)
class Halt:
    """The halt flag. `on` blocks every capital action; `by` is who set or cleared it."""

    on: bool
    reason: str = ""
    at: str = ""
    bead: int = 0
    by: str = ""


@dataclass(frozen=True)
class PublishedLink:
    """The broker link as the daemon that owns the broker last published it (for other processes)."""

    mode: str
    state: str
    account: str | None
    port: int | None
    attempts: int
    detail: str
    at: str


@dataclass(frozen=True)
class ApprovalsLock:
    """Every approval refused until a person unlocks it: too many wrong codes were presented."""

    reason: str
    at: str
    bead: int


@dataclass(frozen=True)
class BrokerLease:
    """The daemon that owns the seam's broker until `expires_at` (it renews well before): only it connects
    to the broker and handles the kinds that need one."""

    owner: str
    host: str
    pid: int
    since: str
    expires_at: str

    def expired(self, now: datetime) -> bool:
        return now >= datetime.fromisoformat(self.expires_at)


class Flags:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _get(self, name: str, conn: sqlite3.Connection | None = None) -> dict[str, Any] | None:
        row = self.db.one("SELECT value FROM flags WHERE name = ?", (name,), conn)
        value = json.loads(row[0]) if row else None
        return value if isinstance(value, dict) else None

    def _set(self, conn: sqlite3.Connection, name: str, value: dict[str, Any], bead: int) -> None:
        conn.execute(
            "INSERT INTO flags(name, value, bead, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
            "value=excluded.value, bead=excluded.bead, updated_at=excluded.updated_at",
            (name, canonical_json(value), bead, self.db.clock.now().isoformat(timespec="milliseconds")),
        )

    # -- halt -----------------------------------------------------------------------------------------

    def halt(self, conn: sqlite3.Connection | None = None) -> Halt | None:
        """The halt flag when it is on, else None."""
        value = self._get(HALT, conn)
        if not value or not value.get("on"):
            return None
        return Halt(
            True,
            str(value.get("reason", "")),
            str(value.get("at", "")),
            int(value.get("bead") or 0),
            str(value.get("by", "")),
        )

    def write_halt(self, conn: sqlite3.Connection, halt: Halt) -> None:
        """Only `Store.halt_on` / `Store.halt_off` call this, with the HALT bead in the same transaction."""
        self._set(conn, HALT, asdict(halt), halt.bead)

    # -- the published broker link ----------------------------------------------------------------------

    def link(self) -> PublishedLink | None:
        value = self._get(LINK)
        if value is None:
            return None
        return PublishedLink(
            str(value.get("mode", "")),
            str(value.get("state", "")),
            value.get("account"),
            value.get("port"),
            int(value.get("attempts") or 0),
            str(value.get("detail") or ""),
            str(value.get("at", "")),
        )

    def publish_link(self, link: PublishedLink, bead: int) -> bool:
        """Write the link when it changed; returns whether it did."""
        if self.link() == link:
            return False
        with self.db.transaction() as tx:
            self._set(tx, LINK, asdict(link), bead)
        return True

    # -- a person's request to reconnect ---------------------------------------------------------------

    def request_reconnect(self, conn: sqlite3.Connection, bead: int) -> None:
        self._set(conn, RECONNECT, {"pending": True}, bead)

    def take_reconnect_request(self) -> bool:
        """True once per request: the request is cleared in the same transaction that reads it."""
        with self.db.transaction() as tx:
            value = self._get(RECONNECT, tx)
            if not value or not value.get("pending"):
                return False
            self._set(tx, RECONNECT, {"pending": False}, 0)
        return True

    # -- the approvals lock ----------------------------------------------------------------------------

    def approvals_lock(self, conn: sqlite3.Connection | None = None) -> ApprovalsLock | None:
        value = self._get(APPROVALS, conn)
        if not value or not value.get("on"):
            return None
        return ApprovalsLock(str(value.get("reason", "")), str(value.get("at", "")), int(value.get("bead") or 0))

    def write_approvals_lock(self, conn: sqlite3.Connection, lock: ApprovalsLock | None, bead: int) -> None:
        self._set(conn, APPROVALS, {"on": True, **asdict(lock)} if lock else {"on": False}, bead)

    # -- the broker lease --------------------------------------------------------------------------------

    def lease(self, conn: sqlite3.Connection | None = None) -> BrokerLease | None:
        value = self._get(LEASE, conn)
        if not value or not value.get("owner"):
            return None
        return BrokerLease(
            str(value["owner"]),
            str(value.get("host", "")),
            int(value.get("pid") or 0),
            str(value.get("since", "")),
            str(value.get("expires_at", "")),
        )

    def take_lease(
        self,
        owner: str,
        host: str,
        pid: int,
        now: datetime,
        ttl: timedelta,
        holder_gone: Callable[[BrokerLease], bool],
    ) -> tuple[bool, BrokerLease | None]:
        """Take or renew the lease (compare and set in one write transaction): it is free, expired, this
        owner's, or its holder is gone. Returns (whether `owner` holds it now, the lease as it stands)."""
        with self.db.transaction() as tx:
            current = self.lease(tx)
            if current is not None and current.owner != owner:
                if not current.expired(now) and not holder_gone(current):
                    return False, current
            since = current.since if current is not None and current.owner == owner else now.isoformat()
            lease = BrokerLease(owner, host, pid, since, (now + ttl).isoformat())
            self._set(tx, LEASE, asdict(lease), 0)
        return True, lease

    def renew_lease(self, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Extend the lease only if `owner` still holds it; False: it was lost (taken after it expired)."""
        with self.db.transaction() as tx:
            current = self.lease(tx)
            if current is None or current.owner != owner:
                return False
            self._set(tx, LEASE, {**asdict(current), "expires_at": (now + ttl).isoformat()}, 0)
        return True

    def release_lease(self, owner: str) -> bool:
        """Give the lease up on a clean stop, so a standby daemon takes over at once."""
        with self.db.transaction() as tx:
            current = self.lease(tx)
            if current is None or current.owner != owner:
                return False
            self._set(tx, LEASE, {"owner": ""}, 0)
        return True
