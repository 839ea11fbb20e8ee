"""The broker lease: exactly one daemon per seam owns the broker, with fail-over when it dies.

    free / expired / holder gone ──take──► owner: connects the broker, handles the kinds that need one,
                                            renews every RENEW_SECONDS (the lease lasts LEASE_SECONDS)
    held by a live daemon ─────────────► standby: no broker connection, handles every other kind, asks
                                            again every RENEW_SECONDS and takes over when the lease is free

A holder is gone when its lease expired or, on this machine, its process no longer exists (a SIGKILLed
owner is replaced within one RENEW_SECONDS, not a whole lease). A clean stop gives the lease up at once.
An owner that finds its lease taken (it stalled past the expiry and another daemon took over) stops its
broker at once: two daemons never hold the broker together for longer than one renewal.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from seam.clock import Clock
from seam.store import Store
from seam.store.flags import BrokerLease

__all__ = ["LEASE_SECONDS", "RENEW_SECONDS", "LeaseKeeper", "process_gone"]

logger = logging.getLogger(__name__)

LEASE_SECONDS = 10.0
RENEW_SECONDS = 1.0


def process_gone(host: str, pid: int) -> bool:
    """Whether a process on this machine no longer exists (one on another machine cannot be asked: False)."""
    if host != socket.gethostname() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    return False


class LeaseKeeper:
    """This process's side of the lease (blocking: call it from a pool thread)."""

    def __init__(self, store: Store, clock: Clock, owner: str, *, ttl: float = LEASE_SECONDS) -> None:
        self.store = store
        self.clock = clock
        self.owner = owner
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.ttl = timedelta(seconds=ttl)
        self.held = False
        self.holder: BrokerLease | None = None  # who holds it, as last seen

    def _gone(self, lease: BrokerLease) -> bool:
        return lease.pid != self.pid and process_gone(lease.host, lease.pid)

    def try_take(self) -> bool:
        """Take the lease if it is free, expired or its holder is gone; True while this process holds it."""
        now = self.clock.now()
        if self.held:
            self.held = self.store.flags.renew_lease(self.owner, now, self.ttl)
            if not self.held:
                self.holder = self.store.flags.lease()
                logger.error(
                    "broker lease lost to %s (this daemon stalled past its expiry)",
                    self.holder.owner if self.holder else "nobody",
                )
            return self.held
        taken, lease = self.store.flags.take_lease(self.owner, self.host, self.pid, now, self.ttl, self._gone)
        self.held, self.holder = taken, lease
        return taken

    def release(self) -> None:
        if self.held:
            self.store.flags.release_lease(self.owner)
            self.held = False
