"""The broker link's supervisor: connect, notice drops, reconnect with backoff, escalate, wait for a human.

    drop → DISCONNECT bead → wait 5 s → RECONNECT (attempt 1) → 15 s → attempt 2 → 45 s → attempt 3
         → ESCALATED bead + CRITICAL alert ("Connection rotting — run RB-001") → nothing more until a
           human runs `seam broker reconnect`.
    every successful connect → CONNECT bead, the guards re-checked, then resubscribe + reconcile.

Time is injected: `sleep` is awaited for each backoff delay, so tests advance a fake clock instead
of waiting 65 seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from seam.blocking import Offload, in_default_pool
from seam.broker.client import BrokerClient
from seam.broker.guards import check_link
from seam.broker.guards import mask_account as _mask
from seam.broker.types import LinkInfo, LinkState
from seam.errors import BrokerUnavailable, GuardViolation
from seam.monitor.alerts import Alert, AlertSink
from seam.store import Store

__all__ = ["LinkSupervisor"]

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class LinkSupervisor:
    def __init__(
        self,
        broker: BrokerClient,
        *,
        store: Store,
        alerts: AlertSink,
        port: int | None,
        configured_account: str | None,
        backoff: Sequence[float] = (5.0, 15.0, 45.0),
        sleep: Sleep = asyncio.sleep,
        on_connected: Callable[[], Awaitable[None]] | None = None,
        offload: Offload = in_default_pool,
    ) -> None:
        self.broker = broker
        self.offload = offload  # beads and alerts are blocking writes: never on the loop's thread
        self.store = store
        self.alerts = alerts
        self.port = port
        self.configured_account = configured_account
        self.backoff = tuple(backoff)
        self.sleep = sleep
        self.on_connected = on_connected
        self.state = LinkState.DISCONNECTED
        self.account: str | None = None
        self.attempts = 0
        self.detail = ""
        self._recovery: asyncio.Task[None] | None = None
        self.guard_failure: GuardViolation | None = None

    def info(self) -> LinkInfo:
        return LinkInfo(self.broker.mode, self.state, self.account, None, self.port, self.attempts, self.detail)

    async def start(self) -> bool:
        """First connection at start-up; on failure the reconnect schedule takes over."""
        if await self._attempt(event="CONNECT"):
            return True
        self._begin_recovery(already_failed=True)
        return False

    def connection_lost(self, reason: str = "the gateway closed the connection") -> None:
        """Called by the adapter when the socket drops (any thread-safe path onto the loop)."""
        if self.state in (LinkState.RECONNECTING, LinkState.ESCALATED):
            return
        self.state = LinkState.DISCONNECTED
        self.detail = reason
        self._begin_recovery(already_failed=False, lost=reason)

    async def manual_reconnect(self) -> bool:
        """A human asked (`seam broker reconnect`): one attempt now; the schedule restarts on failure."""
        if self._recovery is not None and not self._recovery.done():
            self._recovery.cancel()
        await self.offload(self.store.append, "IBKR_SESSION", {"event": "RECONNECT", "attempt": "manual"})
        if await self._attempt(event="CONNECT"):
            return True
        self._begin_recovery(already_failed=True)
        return False

    async def wait_recovered(self) -> None:
        if self._recovery is not None:
            await asyncio.shield(self._recovery)

    async def stop(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            await asyncio.gather(self._recovery, return_exceptions=True)
        await self.broker.disconnect()

    def _begin_recovery(self, *, already_failed: bool, lost: str | None = None) -> None:
        if self._recovery is None or self._recovery.done():
            self._recovery = asyncio.get_running_loop().create_task(self._recover(lost))

    async def _recover(self, lost: str | None = None) -> None:
        if lost is not None:  # recorded first, so the DISCONNECT bead precedes every RECONNECT
            await self.offload(self.store.append, "IBKR_SESSION", {"event": "DISCONNECT", "reason": lost})
            await self.offload(self.alerts.raise_alert, Alert("CONNECTION_LOST", lost, {"port": self.port}))
        self.state = LinkState.RECONNECTING
        for attempt, delay in enumerate(self.backoff, start=1):
            await self.sleep(delay)
            self.attempts = attempt
            await self.offload(
                self.store.append, "IBKR_SESSION", {"event": "RECONNECT", "attempt": attempt, "after_seconds": delay}
            )
            if await self._attempt(event="CONNECT"):
                return
            self.state = LinkState.RECONNECTING
        self.state = LinkState.ESCALATED
        self.detail = f"gave up after {len(self.backoff)} attempts"
        await self.offload(self.store.append, "IBKR_SESSION", {"event": "ESCALATED", "attempts": len(self.backoff)})
        await self.offload(
            self.alerts.raise_alert,
            Alert(
                "CONNECTION_ROTTING",
                "Connection rotting — run RB-001",
                {"attempts": len(self.backoff), "port": self.port},
            ),
        )

    async def _attempt(self, *, event: str) -> bool:
        try:
            await self.broker.connect()
            accounts = await self.broker.managed_accounts()
        except BrokerUnavailable as exc:
            self.detail = str(exc)
            logger.warning("broker connect failed: %s", exc)
            return False
        try:
            self.account = check_link(self.broker.mode, self.port, accounts, self.configured_account)
        except GuardViolation as exc:
            # INV: a gateway that is not what the mode says is never traded with
            self.guard_failure = exc
            self.state = LinkState.DISCONNECTED
            self.detail = exc.message
            await self.offload(
                self.store.append, "GUARD", {"guard": exc.guard, "message": exc.message, "at": "connect"}
            )
            await self.offload(self.alerts.raise_alert, Alert("ACCOUNT_MISMATCH", exc.message, {"guard": exc.guard}))
            await self.broker.disconnect()
            return False
        self.guard_failure = None
        self.state = LinkState.CONNECTED
        self.attempts = 0
        self.detail = ""
        await self.offload(
            self.store.append,
            "IBKR_SESSION",
            {"event": event, "account": _mask(self.account), "port": self.port, "mode": str(self.broker.mode)},
        )
        if self.on_connected is not None:
            await self.on_connected()
        return True
