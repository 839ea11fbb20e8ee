"""The heartbeat on a fake clock: the jittered schedule, each semantic check, the alert raised once when a check
turns bad, and the beat of a daemon that stands by."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from seam.broker.fake import FakeBroker
from seam.broker.lifecycle import PositionState as S
from seam.broker.types import LinkState, OrderRequest, OrderType, Side
from seam.errors import BrokerUnavailable
from seam.monitor.heartbeat import HealthState
from tests.monitor.harness import MonitorHarness


class SilentOrders(FakeBroker):
    """Connected, quotes flow, but once `silent`, the working orders' status never comes back."""

    silent = False

    async def open_orders(self):  # type: ignore[no-untyped-def]
        if self.silent:
            raise BrokerUnavailable("no answer about orders")
        return await super().open_orders()


class NoQuotes(FakeBroker):
    async def quote(self, pair):  # type: ignore[no-untyped-def]
        raise BrokerUnavailable("no market data")


@pytest.fixture
def h(tmp_path: Path) -> Iterator[MonitorHarness]:
    harness = MonitorHarness(tmp_path / "seam")
    yield harness
    harness.close()


def run(harness: MonitorHarness, coro_fn):  # type: ignore[no-untyped-def]
    async def scenario():  # type: ignore[no-untyped-def]
        await harness.runtime.start(timers=False)
        try:
            return await coro_fn()
        finally:
            await harness.runtime.stop()

    return asyncio.run(scenario())


def alerts_of(h: MonitorHarness, type_: str) -> list[dict[str, object]]:
    return [b for b in h.beads("ALERT") if b["alert"] == type_]


def test_beats_come_every_30_seconds_within_5_seconds_of_jitter(h):
    h.heartbeat.rng = random.Random(7)

    async def scenario():  # type: ignore[no-untyped-def]
        task = asyncio.get_running_loop().create_task(h.heartbeat.run())
        while len(h.slept) < 40:
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    run(h, scenario)
    assert all(25.0 <= s <= 35.0 for s in h.slept), h.slept
    assert len({round(s, 3) for s in h.slept}) > 30  # jittered, not a fixed period
    assert 28.0 < sum(h.slept) / len(h.slept) < 32.0
    assert len(h.beads("HEARTBEAT")) >= 40


def test_the_schedule_follows_the_configured_interval_and_jitter(tmp_path):
    h = MonitorHarness(tmp_path / "seam", monitor={"interval_seconds": 10, "jitter_seconds": 2})
    h.heartbeat.rng = random.Random(1)
    delays = [h.heartbeat.next_delay() for _ in range(200)]
    h.close()
    assert min(delays) >= 8.0 and max(delays) <= 12.0


def test_a_healthy_beat_writes_a_heartbeat_bead_naming_the_daemon_and_every_check(h):
    payload = run(h, h.heartbeat.beat)
    bead = h.beads("HEARTBEAT")[0]
    assert bead == payload | {} and bead["state"] == "HEALTHY"
    assert bead["daemon"] == h.runtime.daemon_id and bead["interval_s"] == 30
    assert set(bead["checks"]) == {
        "process",
        "broker_link",
        "order_status",
        "fills",
        "market_data",
        "reconciliation",
        "stalled",
    }
    assert all(c["state"] == "HEALTHY" and c["detail"] for c in bead["checks"].values())


def test_working_orders_without_an_order_status_for_5_minutes_are_degraded(tmp_path):
    broker = SilentOrders()
    h = MonitorHarness(tmp_path / "seam", broker)

    async def scenario():  # type: ignore[no-untyped-def]
        broker.silent = True
        h.position("p-1", S.APPROVED, S.SUBMITTED)
        h.clock.advance(4 * 60)
        first = await h.heartbeat.beat()
        h.clock.advance(61 + 30)
        second = await h.heartbeat.beat()
        h.clock.advance(30)
        third = await h.heartbeat.beat()
        return first, second, third

    first, second, third = run(h, scenario)
    assert first["checks"]["order_status"]["state"] == "HEALTHY"
    assert second["state"] == "DEGRADED" and second["checks"]["order_status"]["state"] == "DEGRADED"
    assert "last order status 5 min" in second["checks"]["order_status"]["detail"]
    assert third["state"] == "DEGRADED"
    assert len(alerts_of(h, "ORDER_STATUS_STALE")) == 1  # raised when it turned bad, not every beat
    h.close()


def test_an_order_status_that_keeps_coming_keeps_working_orders_healthy(h):
    async def scenario():  # type: ignore[no-untyped-def]
        h.position("p-1", S.APPROVED, S.SUBMITTED)
        for _ in range(20):
            h.clock.advance(30)
            beat = await h.heartbeat.beat()
        return beat

    assert run(h, scenario)["checks"]["order_status"]["state"] == "HEALTHY"


def test_open_positions_without_a_fill_for_10_minutes_are_a_warning_not_a_degradation(h):
    async def scenario():  # type: ignore[no-untyped-def]
        h.position("p-1", S.APPROVED, S.SUBMITTED, S.FILLED)
        h.clock.advance(9 * 60)
        before = await h.heartbeat.beat()
        h.clock.advance(61)
        h.service.activity.reconciled = h.clock.now()
        after = await h.heartbeat.beat()
        return before, after

    before, after = run(h, scenario)
    assert before["checks"]["fills"]["state"] == "HEALTHY"
    assert after["checks"]["fills"]["state"] == "WARNING" and after["state"] == "HEALTHY"
    assert len(alerts_of(h, "FILLS_STALE")) == 1 and alerts_of(h, "FILLS_STALE")[0]["severity"] == "WARNING"


def test_a_fill_resets_the_fills_check(h):
    async def scenario():  # type: ignore[no-untyped-def]
        h.position("p-1", S.APPROVED, S.SUBMITTED, S.FILLED)
        h.clock.advance(11 * 60)
        h.service.activity.reconciled = h.clock.now()
        stale = await h.heartbeat.beat()
        order = await h.service.broker.place_order(OrderRequest("fill-now", "EURUSD", Side.BUY, 1000))
        fresh = await h.heartbeat.beat()
        return stale, fresh, order

    stale, fresh, _ = run(h, scenario)
    assert stale["checks"]["fills"]["state"] == "WARNING"
    assert fresh["checks"]["fills"]["state"] == "HEALTHY"


def test_no_market_data_for_5_minutes_is_degraded(tmp_path):
    h = MonitorHarness(tmp_path / "seam", NoQuotes())

    async def scenario():  # type: ignore[no-untyped-def]
        h.clock.advance(4 * 60)
        before = await h.heartbeat.beat()
        h.clock.advance(61)
        after = await h.heartbeat.beat()
        return before, after

    before, after = run(h, scenario)
    assert before["checks"]["market_data"]["state"] == "HEALTHY"
    assert after["checks"]["market_data"]["state"] == "DEGRADED" and after["state"] == "DEGRADED"
    assert len(alerts_of(h, "MARKET_DATA_STALE")) == 1
    h.close()


def test_a_reconciliation_older_than_10_minutes_is_degraded_until_the_next_one(h):
    async def scenario():  # type: ignore[no-untyped-def]
        h.clock.advance(10 * 60)
        fresh = await h.heartbeat.beat()
        h.clock.advance(61 + 1)
        old = await h.heartbeat.beat()
        await h.service.reconcile(trigger="test")
        again = await h.heartbeat.beat()
        return fresh, old, again

    fresh, old, again = run(h, scenario)
    assert fresh["checks"]["reconciliation"]["state"] == "HEALTHY"
    assert old["checks"]["reconciliation"]["state"] == "DEGRADED"
    assert again["checks"]["reconciliation"]["state"] == "HEALTHY" and again["state"] == "HEALTHY"
    assert len(alerts_of(h, "RECONCILIATION_OLD")) == 1


def test_a_stalled_position_makes_the_beat_critical(h):
    async def scenario():  # type: ignore[no-untyped-def]
        h.position("p-9", S.APPROVED, S.SUBMITTED, S.STALLED)
        return await h.heartbeat.beat()

    beat = run(h, scenario)
    assert beat["state"] == "CRITICAL" and "p-9" in beat["checks"]["stalled"]["detail"]


@pytest.mark.parametrize(
    ("link", "expected"),
    [(LinkState.RECONNECTING, "DEGRADED"), (LinkState.DISCONNECTED, "DEGRADED"), (LinkState.ESCALATED, "CRITICAL")],
)
def test_the_broker_link_check_follows_the_link(h, link, expected):
    async def scenario():  # type: ignore[no-untyped-def]
        h.service.supervisor.state = link
        return await h.heartbeat.beat()

    beat = run(h, scenario)
    assert beat["checks"]["broker_link"]["state"] == expected and beat["state"] == expected


def test_a_daemon_standing_by_beats_with_the_process_check_only(tmp_path):
    owner = MonitorHarness(tmp_path / "seam")
    standby = MonitorHarness(tmp_path / "seam", clock=owner.clock)

    async def scenario():  # type: ignore[no-untyped-def]
        await owner.runtime.start(timers=False)
        await standby.runtime.start(timers=False)
        try:
            return await standby.heartbeat.beat()
        finally:
            await standby.runtime.stop()
            await owner.runtime.stop()

    beat = asyncio.run(scenario())
    owner.close()
    standby.close()
    assert set(beat["checks"]) == {"process", "broker_link"} and beat["state"] == "HEALTHY"
    assert "standing by" in beat["role"] and beat["daemon"] == standby.runtime.daemon_id


def test_a_daemon_with_timers_beats_at_start_and_writes_a_stopped_beat_at_its_stop(h):
    async def scenario():  # type: ignore[no-untyped-def]
        await h.runtime.start(timers=True)
        while not h.beads("HEARTBEAT"):
            await asyncio.sleep(0)
        await h.runtime.stop()

    asyncio.run(scenario())
    beats = h.beads("HEARTBEAT")
    assert beats[0]["state"] == "HEALTHY" and beats[-1]["stopped"] is True


def test_a_limit_order_away_from_the_market_is_a_working_order_the_order_check_sees(h):
    async def scenario():  # type: ignore[no-untyped-def]
        h.position("p-1", S.APPROVED, S.SUBMITTED)
        await h.service.broker.place_order(
            OrderRequest("p-1", "EURUSD", Side.BUY, 1000, OrderType.LIMIT, limit_price=1.0)
        )
        return await h.heartbeat.beat()

    beat = run(h, scenario)
    assert beat["checks"]["order_status"]["state"] == "HEALTHY"
    assert "1 position(s) with working orders" in beat["checks"]["order_status"]["detail"]
    assert isinstance(HealthState.HEALTHY, str)
