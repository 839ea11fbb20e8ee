"""The broker service the daemon runs: one broker, its link supervisor, guards, lifecycle and reconciler.

The order path is fixed here and nowhere else:

    halt flag → mode lock → mode/account/port (from the gateway, now) → approval → pacing → submit

`open_broker` picks the implementation once, from the mode, at start.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from seam.blocking import Offload, in_default_pool
from seam.broker.client import BrokerClient
from seam.broker.guards import ModeLock, check_link, check_live_allowed, default_port
from seam.broker.guards import mask_account as _mask
from seam.broker.lifecycle import OPEN_AT_BROKER, Lifecycle
from seam.broker.lifecycle import PositionState as S
from seam.broker.link import LinkSupervisor, Sleep
from seam.broker.reconcile import Reconciliation, compare, explain
from seam.broker.types import (
    AccountSnapshot,
    BracketRequest,
    Fill,
    LinkState,
    Mode,
    Order,
    OrderRequest,
    Position,
    Quote,
)
from seam.clock import Clock
from seam.config import Secrets, Settings
from seam.errors import BrokerError, BrokerUnavailable, GuardViolation
from seam.haltfile import halt_requested, is_halt_requested
from seam.monitor.alerts import Alert, AlertSink
from seam.paths import SeamPaths
from seam.store import PublishedLink, Store

__all__ = ["ApprovalHook", "BrokerActivity", "BrokerService", "TokenBucket", "open_broker"]

logger = logging.getLogger(__name__)

LINK_REFRESH_SECONDS = 30.0

ApprovalHook = Callable[[OrderRequest | BracketRequest, Any], Awaitable[None]]


async def no_approval_service(request: OrderRequest | BracketRequest, approval: Any) -> None:
    # INV: no order without a human code. A broker service built without an approval service (a console's,
    # a test harness's) has no code to check, so it places nothing.
    raise GuardViolation(
        "approval", "orders cannot be placed here: this broker service has no approval service to check a human's code"
    )


def open_broker(
    settings: Settings, secrets: Secrets, clock: Clock, on_disconnect: Callable[[str], None] | None = None
) -> BrokerClient:
    """The one place that maps the mode to an implementation."""
    mode = Mode(settings.broker.mode)
    check_live_allowed(mode, secrets.allow_live)
    if mode is Mode.MOCK:
        from seam.broker.fake import FakeBroker

        return FakeBroker(clock=clock)
    from seam.broker.ib import IBBroker

    account = secrets.ib_account.get_secret_value() if secrets.ib_account else None
    return IBBroker(
        mode=mode,
        host=settings.broker.host,
        port=settings.broker.port or default_port(mode) or 0,
        client_id=settings.broker.client_id,
        account=account,
        timeout=settings.broker.connect_timeout_seconds,
        on_disconnect=on_disconnect,
    )


class TokenBucket:
    """At most `rate` acquisitions per second on average, bursts up to `burst`; waiting, never refusing."""

    def __init__(self, rate: float, burst: int, clock: Clock, sleep: Sleep = asyncio.sleep) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self._tokens = float(burst)
        self._last = clock.monotonic()

    async def acquire(self) -> float:
        """Take a token; returns how long it waited."""
        now = self.clock.monotonic()
        self._tokens = min(self.burst, self._tokens + max(0.0, now - self._last) * self.rate)
        self._last = max(self._last, now)
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        delay = (1 - self._tokens) / self.rate
        await self.sleep(delay)
        # the token earned while waiting is spent now; the refill clock moves past the wait
        self._tokens = 0.0
        self._last = max(self._last + delay, self.clock.monotonic())
        return delay


@dataclasses.dataclass
class BrokerActivity:
    """When the broker last told this service something: the heartbeat's semantic checks read these."""

    order_status: datetime | None = None  # an order update, or a read of the working orders
    fill: datetime | None = None
    market_data: datetime | None = None  # a quote received
    reconciled: datetime | None = None


class BrokerService:
    def __init__(
        self,
        broker: BrokerClient,
        *,
        settings: Settings,
        secrets: Secrets,
        store: Store,
        paths: SeamPaths,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        approval_hook: ApprovalHook = no_approval_service,
        offload: Offload = in_default_pool,
        alerts: AlertSink | None = None,
    ) -> None:
        self.broker = broker
        self.paths = paths
        self.offload = offload  # beads, flags and alerts are blocking writes: never on the loop's thread
        self.halt_offload = offload  # a halt's writes (the runtime points this at the halt lane's pool)
        self.loop: asyncio.AbstractEventLoop | None = None  # set at start
        self.settings = settings
        self.store = store
        self.clock = clock
        self.mode = Mode(settings.broker.mode)
        self.mode_lock = ModeLock(self.mode)
        # the settings in force now: the runtime points this at its own, so a reload is checked by the lock
        self.settings_now: Callable[[], Settings] = lambda: self.settings
        self.port = settings.broker.port or default_port(self.mode)
        self.configured_account = secrets.ib_account.get_secret_value() if secrets.ib_account else None
        self.alerts = alerts or AlertSink(store, paths.responses / "alerts", clock)
        self.activity = BrokerActivity()
        broker.subscribe(self._note_event)
        self.lifecycle = Lifecycle(
            store, clock, stall_after=timedelta(minutes=settings.broker.stall_minutes), mode=str(self.mode)
        )
        self.started_at = clock.now()  # MOCK positions older than this were in an earlier daemon's memory
        self.approval_hook = approval_hook
        # run at every connect, before reconciliation (the approval service resolves orders in doubt there)
        self.link_up_hooks: list[Callable[[], Awaitable[None]]] = []
        self.pacer = TokenBucket(settings.broker.orders_per_second, 2, clock, sleep)
        self.supervisor = LinkSupervisor(
            broker,
            store=store,
            alerts=self.alerts,
            port=self.port if self.mode is not Mode.MOCK else None,
            configured_account=self.configured_account,
            backoff=settings.broker.backoff_seconds,
            sleep=sleep,
            on_connected=self._on_connected,
            offload=offload,
        )
        self._timers: asyncio.Task[None] | None = None
        # started, and this process owns the seam's broker (its lease: seam/broker/lease.py)
        self.active = False
        # the HALT bead whose cancel-all this process did (or was told not to do): a halt set by another
        # daemon is followed by the owner's timers
        self.halt_followed = 0
        self._published: PublishedLink | None = None
        self._published_at: datetime | None = None
        self.last_reconciliation: Reconciliation | None = None

    # -- life -------------------------------------------------------------------------------------

    async def start(self, *, timers: bool = True) -> None:
        self.loop = asyncio.get_running_loop()  # the broker's loop: a halt on the halt lane's loop cancels here
        halt = await self.offload(self.store.flags.halt)
        self.halt_followed = halt.bead if halt is not None else 0  # only halts set from now on are followed
        await self.supervisor.start()
        # active once the first connect was tried: until then a daemon taking the broker over stands by, and
        # the intents that need the broker wait in incoming/ instead of meeting a link still being opened
        self.active = True
        await self._publish_link()
        if timers:
            self._timers = asyncio.get_running_loop().create_task(self._run_timers())

    async def stop(self) -> None:
        self.active = False
        if self._timers is not None:
            self._timers.cancel()
            await asyncio.gather(self._timers, return_exceptions=True)
            self._timers = None
        await self.supervisor.stop()

    def connection_lost(self, reason: str) -> None:
        """Called by the adapter on the loop when the socket drops; the published link follows within a
        second (the timers), never by a write on the loop's thread."""
        self.supervisor.connection_lost(reason)

    async def _on_connected(self) -> None:
        await self._publish_link()
        # resubscribe happens in the adapter on connect; approvals in doubt are resolved; then reconcile at once
        for hook in self.link_up_hooks:
            try:
                await hook()
            except BrokerError as exc:
                logger.warning("after connecting: %s", exc)
        await self.offload(self._retire_lost_mock_positions)
        if await self.offload(self.store.last_seq):
            await self.reconcile(trigger="connect")

    def _retire_lost_mock_positions(self) -> None:
        """A MOCK broker's book lives in its daemon's memory: a MOCK position an earlier daemon held, or any
        MOCK position once this daemon runs PAPER or LIVE, is at no broker. It is ended (CLOSED, or CANCELLED if
        its entry never filled), saying why, instead of showing as drift and halting every start."""
        for record in self.lifecycle.all():
            if str(record.facts.get("mode") or "") != str(Mode.MOCK):
                continue
            if record.state not in OPEN_AT_BROKER and record.state not in (S.SUBMITTED, S.STALLED):
                continue
            if self.mode is Mode.MOCK and record.last_update >= self.started_at:
                continue  # this daemon's own MOCK position
            reason = (
                "its MOCK broker ended with the daemon that held it (a MOCK book lives in memory)"
                if self.mode is Mode.MOCK
                else f"opened in MOCK mode; this daemon runs {str(self.mode).upper()}, and the MOCK book is gone"
            )
            self.lifecycle.retire(record.id, reason)
            logger.warning("position %s (%s %s) retired: %s", record.id, record.side, record.pair, reason)

    async def _run_timers(self) -> None:
        interval = self.settings.broker.reconcile_minutes * 60
        elapsed = 0.0
        while True:
            await asyncio.sleep(1.0)
            elapsed += 1.0
            await self._publish_link()
            await self._check_reconnect_request()
            await self._follow_halt()
            for record in await self.offload(self.lifecycle.check_stalled):
                await self.offload(
                    self.alerts.raise_alert,
                    Alert(
                        "POSITION_STALLED",
                        f"position {record.id} has had no broker update",
                        {"position": record.id, "was": str(record.stalled_from)},
                    ),
                )
            if elapsed >= interval and self.supervisor.state is LinkState.CONNECTED:
                elapsed = 0.0
                try:
                    await self.reconcile(trigger="timer")
                except BrokerUnavailable as exc:
                    logger.warning("timed reconciliation skipped: %s", exc)

    async def _follow_halt(self) -> None:
        """A halt another daemon on this seam set (it does not own the broker): cancel the working orders here."""
        halt = await self.offload(self.store.flags.halt)
        if halt is None or halt.bead <= self.halt_followed:
            return
        self.halt_followed = halt.bead
        beads = await self.offload(self.store.beads, after=halt.bead - 1, limit=1)
        if beads and beads[0].payload.get("cancel_orders") is False:
            return
        try:
            await self.cancel_all_working_orders(reason=f"halt flag (bead {halt.bead}) set by {halt.by}")
        except BrokerError as exc:
            logger.error("the halt (bead %d) could not cancel the working orders: %s", halt.bead, exc)

    async def _check_reconnect_request(self) -> None:
        if await self.offload(self.store.flags.take_reconnect_request):
            await self.supervisor.manual_reconnect()
            await self._publish_link()

    async def _publish_link(self) -> None:
        """Publish the link for other processes (`seam status`, `seam broker status`) when it changed, and
        at least every LINK_REFRESH_SECONDS so its time says the owner is still there."""
        info = self.supervisor.info()
        now = self.clock.now()
        link = PublishedLink(
            str(info.mode),
            str(info.state),
            _mask(info.account),
            info.port,
            info.attempts,
            info.detail,
            now.isoformat(timespec="seconds"),
        )
        unchanged = self._published is not None and dataclasses.replace(self._published, at=link.at) == link
        if (
            unchanged
            and self._published_at is not None
            and (now - self._published_at).total_seconds() < LINK_REFRESH_SECONDS
        ):
            return
        await self.offload(self.store.flags.publish_link, link, self.store.last_seq())
        self._published, self._published_at = link, now

    def _note_event(self, event: Order | Fill) -> None:
        now = self.clock.now()
        self.activity.order_status = now
        if isinstance(event, Fill):
            self.activity.fill = now

    # -- reads ------------------------------------------------------------------------------------

    def link_state(self) -> str:
        info = self.supervisor.info()
        text = f"{info.state}"
        if info.account:
            text += f" ({_mask(info.account)}" + (f", port {info.port})" if info.port else ")")
        return text + (f" — {info.detail}" if info.detail else "")

    def _require_link(self) -> None:
        if self.supervisor.state is not LinkState.CONNECTED:
            raise BrokerUnavailable(
                f"the broker link is {self.supervisor.state}"
                + (f": {self.supervisor.detail}" if self.supervisor.detail else "")
            )

    async def account(self) -> AccountSnapshot:
        self._require_link()
        return await self.broker.account()

    async def positions(self) -> list[Position]:
        self._require_link()
        return await self.broker.positions()

    async def open_orders(self) -> list[Order]:
        self._require_link()
        orders = await self.broker.open_orders()
        self.activity.order_status = self.clock.now()
        return orders

    async def quote(self, pair: str) -> Quote:
        """A quote, noted as market data received (the heartbeat asks for one each beat)."""
        self._require_link()
        quote = await self.broker.quote(pair)
        self.activity.market_data = self.clock.now()
        return quote

    async def summaries(self) -> dict[str, str]:
        """One-line facts for `status`; never raises (the link may be down)."""
        if self.supervisor.state is not LinkState.CONNECTED:
            return {"positions": "unknown (link down)", "orders": "unknown (link down)"}
        try:
            positions = await self.broker.positions()
            orders = await self.broker.open_orders()
        except BrokerError as exc:
            return {"positions": f"unknown ({exc})", "orders": f"unknown ({exc})"}
        return {
            "positions": ", ".join(f"{p.pair} {p.quantity:+,d}" for p in positions) or "none",
            "orders": f"{len(orders)} working" if orders else "none",
        }

    # -- risk-reducing actions --------------------------------------------------------------------

    async def cancel(self, order_id: str, *, reason: str) -> Order:
        self._require_link()
        order = await self.broker.cancel(order_id)
        await self.offload(
            self.store.append,
            "ORDER",
            {"event": "cancel", "order": order_id, "ref": order.ref, "state": str(order.state), "reason": reason},
        )
        return order

    async def cancel_all_working_orders(self, *, reason: str, offload: Offload | None = None) -> str:
        """For halt: cancel every working order; a down link is reported, not raised. The halt passes its
        own lane's `offload`, so its bead never waits behind the normal lane's work."""
        if not self.active:
            return (
                "none by this daemon: another daemon on this seam owns the broker, and it cancels every "
                "working order within a second of seeing the halt flag"
            )
        if self.supervisor.state is not LinkState.CONNECTED:
            return f"none: the broker link is {self.supervisor.state}; cancel at the broker (RB-004)"
        cancelled, failed = [], []
        for order in await self.broker.open_orders():
            try:
                await self.broker.cancel(order.order_id)
                cancelled.append(order.order_id)
            except BrokerError as exc:
                failed.append(f"{order.order_id} ({exc})")
        await (offload or self.offload)(
            self.store.append,
            "ORDER",
            {"event": "cancel_all", "reason": reason, "cancelled": cancelled, "failed": failed},
        )
        text = ", ".join(cancelled) if cancelled else "none were working"
        return text + (f"; could not cancel: {', '.join(failed)}" if failed else "")

    # -- reconciliation ---------------------------------------------------------------------------

    async def reconcile(self, *, trigger: str) -> Reconciliation:
        self._require_link()
        positions = await self.broker.positions()
        orders = await self.broker.open_orders()
        records = await self.offload(self.lifecycle.all)
        result = compare(records, positions, orders, {r.id for r in records})
        self.last_reconciliation = result
        self.activity.order_status = self.activity.reconciled = self.clock.now()
        why = explain(records, str(self.mode), self.started_at) if result.drift else []
        payload = {
            "trigger": trigger,
            "drift": result.drift,
            "differences": [d.describe() for d in result.differences],
            "explained": why,
            "positions_checked": result.positions_checked,
            "orders_checked": result.orders_checked,
        }
        if not result.drift:
            await self.offload(self.store.append, "RECONCILIATION", payload)
            return result
        reason = await self.offload(self._record_drift, payload, len(result.differences))
        await self.offload(
            self.alerts.raise_alert,
            Alert(
                "RECONCILIATION_DRIFT",
                reason,
                {
                    **{f"difference {n}": d.describe() for n, d in enumerate(result.differences, 1)},
                    **{f"why {n}": text for n, text in enumerate(why, 1)},
                },
            ),
        )
        return result

    def _record_drift(self, payload: dict[str, Any], differences: int) -> str:
        """The RECONCILIATION bead and the halt flag, in one transaction: drift never goes unhalted."""
        with self.store.transaction() as tx:
            bead = self.store.append("RECONCILIATION", payload, conn=tx)
            reason = f"reconciliation drift ({differences} difference(s)), bead {bead.seq}"
            self.store.halt_on(reason, by="reconciliation", conn=tx)
        return reason

    # -- the order path ---------------------------------------------------------------------------

    async def submit(self, request: OrderRequest | BracketRequest, *, approval: Any = None) -> list[Order]:
        """halt → mode lock → mode/account/port → approval → pacing → submit (idempotent by ref)."""
        # INV: nothing reaches the broker while a halt is requested (one stat: seam/haltfile.py) or its flag is on
        requested = is_halt_requested(self.paths)
        halt = await self.offload(self.store.flags.halt)
        if halt is not None:
            raise GuardViolation("halt", f"the halt flag is on ({halt.reason}); nothing was sent")
        if requested:  # asked for, and no daemon has carried it out yet
            asked = await self.offload(halt_requested, self.paths)
            raise GuardViolation("halt", f"a halt was {asked.line() if asked else 'requested'}; nothing was sent")
        self.mode_lock.check(self.settings_now().broker.mode)
        self._require_link()
        await self._check_gateway_now()
        await self.approval_hook(request, approval)
        await self.pacer.acquire()
        return await self._submit_once(request)

    async def _check_gateway_now(self) -> None:
        accounts = await self.broker.managed_accounts()
        try:
            check_link(self.mode, self.port if self.mode is not Mode.MOCK else None, accounts, self.configured_account)
        except GuardViolation as exc:
            await self.offload(self.store.append, "GUARD", {"guard": exc.guard, "message": exc.message, "at": "order"})
            await self.offload(self.alerts.raise_alert, Alert("ACCOUNT_MISMATCH", exc.message, {"guard": exc.guard}))
            raise

    async def _submit_once(self, request: OrderRequest | BracketRequest) -> list[Order]:
        # INV: one reference, at most one order: a retry finds what an unclear failure may have sent
        existing = await self.broker.orders_by_ref(request.ref)
        if existing:
            await self.offload(
                self.store.append,
                "ORDER",
                {"event": "found_existing", "ref": request.ref, "orders": [o.order_id for o in existing]},
                intent_id=request.ref,
            )
            return existing
        try:
            if isinstance(request, BracketRequest):
                orders = await self.broker.place_bracket(request)
            else:
                orders = [await self.broker.place_order(request)]
        except BrokerUnavailable as exc:
            await self.offload(
                self.store.append,
                "ORDER",
                {"event": "unclear", "ref": request.ref, "error": str(exc)},
                intent_id=request.ref,
            )
            raise BrokerUnavailable(
                f"{exc}; the order may have reached the broker — a retry with the same "
                "reference looks it up first and never sends a second"
            ) from exc
        await self.offload(
            self.store.append,
            "ORDER",
            {
                "event": "submitted",
                "ref": request.ref,
                "orders": [o.order_id for o in orders],
                "pair": request.pair,
                "side": str(request.side),
                "units": request.quantity,
            },
            intent_id=request.ref,
        )
        return orders


Waiter = Callable[[], Awaitable[None]]
