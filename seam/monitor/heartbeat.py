"""The daemon's heartbeat: every interval ± jitter, checks the process, the broker link and the semantics
(order status, fills, market data, reconciliation, stalled positions) and writes one HEARTBEAT bead.

    HEALTHY    every check passes (a WARNING check is shown, and alerted, but keeps the state)
    DEGRADED   a check is DEGRADED: the link is down or reconnecting, or a broker fact is stale
    CRITICAL   the link escalated, or a position is STALLED
    MISSED     no beat for `missed_beats` intervals: seen from outside, by `seam heartbeat-check`

A check that turns bad raises its alert once (the bundler in alerts.py does the rest); the daemon that
stands by beats too, with the process check only, so `seam heartbeat-check` sees every live daemon.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from seam.broker.lifecycle import AWAITING_BROKER, OPEN_AT_BROKER
from seam.broker.lifecycle import PositionState as S
from seam.broker.types import LinkState
from seam.clock import Clock
from seam.config import MonitorSettings, Settings
from seam.errors import BrokerError
from seam.monitor.alerts import Alert, AlertSink
from seam.store import Store

if TYPE_CHECKING:
    from seam.broker.service import BrokerService

__all__ = ["PROBE_SECONDS", "Check", "HealthState", "Heartbeat", "overall"]

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Blocking = Callable[..., Awaitable[Any]]

PROBE_SECONDS = 10.0  # a broker probe that takes longer than this counts as no answer
# a timed reconciliation runs on a 1-second timer: it may come a little after its interval
RECONCILE_GRACE = timedelta(minutes=1)


class HealthState(StrEnum):
    HEALTHY = "HEALTHY"
    WARNING = "WARNING"  # a check's state only; the beat stays HEALTHY
    DEGRADED = "DEGRADED"
    CRITICAL = "CRITICAL"
    MISSED = "MISSED"


_RANK = {HealthState.HEALTHY: 0, HealthState.WARNING: 0, HealthState.DEGRADED: 1, HealthState.CRITICAL: 2}
# the alert a check raises when it turns bad; the link and stalled positions raise their own elsewhere
CHECK_ALERTS = {
    "order_status": "ORDER_STATUS_STALE",
    "fills": "FILLS_STALE",
    "market_data": "MARKET_DATA_STALE",
    "reconciliation": "RECONCILIATION_OLD",
}


@dataclass(frozen=True)
class Check:
    state: HealthState
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"state": str(self.state), "detail": self.detail}


def overall(checks: dict[str, Check]) -> HealthState:
    """The beat's state: the gravest check (WARNING counts as HEALTHY)."""
    worst = max((_RANK[c.state] for c in checks.values()), default=0)
    return (HealthState.HEALTHY, HealthState.DEGRADED, HealthState.CRITICAL)[worst]


def _age(now: datetime, since: datetime) -> str:
    seconds = int((now - since).total_seconds())
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


class Heartbeat:
    """One daemon's beat. `run()` loops on the jittered schedule; `beat()` is one beat (tests call it)."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        settings: Callable[[], Settings],
        daemon: str,
        broker: Callable[[], BrokerService | None],
        alerts: AlertSink,
        blocking: Blocking,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        role: Callable[[], str] = lambda: "owner",
    ) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.daemon = daemon
        self.broker = broker
        self.alerts = alerts
        self.blocking = blocking
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.role = role
        self.started_at = clock.now()
        self.beats = 0
        self.last: dict[str, Any] | None = None
        self._bad: set[str] = set()  # checks whose alert was raised and that have not recovered since

    @property
    def config(self) -> MonitorSettings:
        return self.settings().monitor

    def next_delay(self) -> float:
        """The wait before the next beat: the interval, moved by up to ± the jitter."""
        jitter = self.config.jitter_seconds
        return max(1.0, self.config.interval_seconds + self.rng.uniform(-jitter, jitter))

    async def run(self, *, first: bool = True) -> None:
        """Beat (at once, with `first`), then on the schedule, until cancelled; a failing beat is logged, never
        the end."""
        if not first:
            await self.sleep(self.next_delay())
        while True:
            await self.beat_logged()
            await self.sleep(self.next_delay())

    async def beat_logged(self) -> None:
        try:
            await self.beat()
        except Exception:  # the store may be busy: the next beat tries again
            logger.exception("heartbeat: the beat failed; the next one tries again")

    async def beat(self) -> dict[str, Any]:
        """Run every check, write the HEARTBEAT bead, raise the alerts of checks that turned bad."""
        now = self.clock.now()
        checks = await self.checks(now)
        state = overall(checks)
        payload: dict[str, Any] = {
            "state": str(state),
            "checks": {name: check.as_dict() for name, check in checks.items()},
            "interval_s": self.config.interval_seconds,
            "jitter_s": self.config.jitter_seconds,
            "missed_beats": self.config.missed_beats,
            "daemon": self.daemon,
            "role": self.role(),
            "pid": os.getpid(),
            "beat": self.beats + 1,
        }
        await self.blocking(self.store.append, "HEARTBEAT", payload)
        self.beats += 1
        self.last = payload
        await self._raise_turned_bad(checks)
        return payload

    async def stopped(self) -> None:
        """The last bead of a daemon that stops on purpose: `seam heartbeat-check` tells it from a death."""
        payload = {**(self.last or {"checks": {}}), "daemon": self.daemon, "stopped": True, "role": self.role()}
        payload.setdefault("state", str(HealthState.HEALTHY))
        payload["interval_s"] = self.config.interval_seconds
        await self.blocking(self.store.append, "HEARTBEAT", payload)

    async def _raise_turned_bad(self, checks: dict[str, Check]) -> None:
        for name, alert_type in CHECK_ALERTS.items():
            check = checks.get(name)
            bad = check is not None and check.state is not HealthState.HEALTHY
            if bad and name not in self._bad and check is not None:
                self._bad.add(name)
                await self.blocking(self.alerts.raise_alert, Alert(alert_type, check.detail, {"check": name}))
            elif not bad:
                self._bad.discard(name)

    # -- the checks ---------------------------------------------------------------------------------

    async def checks(self, now: datetime) -> dict[str, Check]:
        up = _age(now, self.started_at)
        checks = {"process": Check(HealthState.HEALTHY, f"pid {os.getpid()}, up {up}, {self.role()}")}
        service = self.broker()
        if service is None or not service.active:
            checks["broker_link"] = Check(HealthState.HEALTHY, "standing by: another daemon owns the broker")
            return checks
        checks["broker_link"] = self._link(service)
        records = await self.blocking(service.lifecycle.all)
        connected = service.supervisor.state is LinkState.CONNECTED
        if connected:
            await self._probe(service, records)
        checks["order_status"] = self._order_status(service, records, now)
        checks["fills"] = self._fills(service, records, now)
        checks["market_data"] = self._market_data(service, now)
        checks["reconciliation"] = self._reconciliation(service, now)
        checks["stalled"] = self._stalled(records)
        return checks

    async def _probe(self, service: BrokerService, records: list[Any]) -> None:
        """Ask the broker for a quote and, when orders are working, for their status: each answer is noted."""
        pair = str(self.settings().pairs.active[0])
        try:
            await asyncio.wait_for(service.quote(pair), PROBE_SECONDS)
        except (BrokerError, TimeoutError) as exc:
            logger.warning("heartbeat: no quote for %s (%s)", pair, exc)
        if any(r.state in AWAITING_BROKER | OPEN_AT_BROKER for r in records):
            try:
                await asyncio.wait_for(service.open_orders(), PROBE_SECONDS)
            except (BrokerError, TimeoutError) as exc:
                logger.warning("heartbeat: no order status (%s)", exc)

    def _link(self, service: BrokerService) -> Check:
        state = service.supervisor.state
        detail = service.link_state()
        if state is LinkState.CONNECTED:
            return Check(HealthState.HEALTHY, detail)
        if state is LinkState.ESCALATED:
            return Check(HealthState.CRITICAL, f"{detail} (RB-001)")
        return Check(HealthState.DEGRADED, detail)

    def _since(self, service: BrokerService, when: datetime | None) -> datetime:
        return when or max(self.started_at, service.started_at)

    def _order_status(self, service: BrokerService, records: list[Any], now: datetime) -> Check:
        working = [r for r in records if r.state in AWAITING_BROKER | OPEN_AT_BROKER]
        if not working:
            return Check(HealthState.HEALTHY, "no working orders")
        since = self._since(service, service.activity.order_status)
        limit = timedelta(minutes=self.config.order_status_stale_minutes)
        detail = f"{len(working)} position(s) with working orders; last order status {_age(now, since)} ago"
        return Check(HealthState.DEGRADED if now - since > limit else HealthState.HEALTHY, detail)

    def _fills(self, service: BrokerService, records: list[Any], now: datetime) -> Check:
        open_ = [r for r in records if r.state in OPEN_AT_BROKER]
        if not open_:
            return Check(HealthState.HEALTHY, "no open positions")
        since = self._since(service, service.activity.fill)
        limit = timedelta(minutes=self.config.fills_stale_minutes)
        detail = f"{len(open_)} open position(s); last fill {_age(now, since)} ago"
        return Check(HealthState.WARNING if now - since > limit else HealthState.HEALTHY, detail)

    def _market_data(self, service: BrokerService, now: datetime) -> Check:
        since = self._since(service, service.activity.market_data)
        limit = timedelta(minutes=self.config.market_data_stale_minutes)
        heard = "last quote" if service.activity.market_data else "no quote since start"
        detail = f"{heard} {_age(now, since)} ago" if service.activity.market_data else f"{heard} ({_age(now, since)})"
        return Check(HealthState.DEGRADED if now - since > limit else HealthState.HEALTHY, detail)

    def _reconciliation(self, service: BrokerService, now: datetime) -> Check:
        since = self._since(service, service.activity.reconciled)
        limit = timedelta(minutes=self.config.reconcile_max_age_minutes)
        heard = "last reconciliation" if service.activity.reconciled else "no reconciliation since start"
        detail = f"{heard}: {_age(now, since)} ago"
        return Check(HealthState.DEGRADED if now - since > limit + RECONCILE_GRACE else HealthState.HEALTHY, detail)

    @staticmethod
    def _stalled(records: list[Any]) -> Check:
        stalled = [r.id for r in records if r.state is S.STALLED]
        if stalled:
            return Check(HealthState.CRITICAL, f"STALLED: {', '.join(stalled)} (RB-003)")
        return Check(HealthState.HEALTHY, "no stalled position")
