"""The broker lease (issue 9, item 3): exactly one daemon per seam owns the broker, with fail-over when it dies."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from seam.broker.fake import FakeBroker
from seam.broker.lease import LEASE_SECONDS, RENEW_SECONDS, LeaseKeeper, process_gone
from seam.broker.types import LinkState, OrderRequest, OrderType, Side
from seam.clock import FakeClock
from seam.config import load_config
from seam.paths import SeamPaths
from seam.runtime import Runtime
from tests.conftest import make_seam


def runtime_on(paths: SeamPaths, clock: FakeClock, broker: FakeBroker) -> Runtime:
    return Runtime.open(paths, load_config(paths, env={}), clock=clock, broker_client=broker, approval=False)


def another_process(paths: SeamPaths, clock: FakeClock) -> Runtime:
    """Another process's view of the seam: its store, nothing that talks to a broker."""
    return Runtime.console(paths, load_config(paths, env={}), clock=clock)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_of_two_daemons_on_one_seam_only_one_connects_its_broker(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    clock = FakeClock()
    first_broker, second_broker = FakeBroker(clock=clock), FakeBroker(clock=clock)
    first, second = runtime_on(paths, clock, first_broker), runtime_on(paths, clock, second_broker)

    async def scenario() -> str:
        await first.start(timers=False)
        await second.start(timers=False)
        assert second.broker is not None
        return await second.broker.cancel_all_working_orders(reason="a halt handled by the standby")

    try:
        told = asyncio.run(scenario())
        assert first.owns_broker() and not second.owns_broker()
        assert first_broker.link().state is LinkState.CONNECTED
        assert second_broker.link().state is LinkState.DISCONNECTED  # the standby never opened a connection
        assert "another daemon on this seam owns the broker" in told
    finally:
        first.close()
        second.close()


def test_a_standby_takes_the_broker_over_when_the_owner_stops(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    clock = FakeClock()
    first_broker, second_broker = FakeBroker(clock=clock), FakeBroker(clock=clock)
    first, second = runtime_on(paths, clock, first_broker), runtime_on(paths, clock, second_broker)

    async def scenario() -> float:
        await first.start(timers=True)
        await second.start(timers=True)
        assert not second.owns_broker()
        await first.stop()  # a clean stop gives the lease up
        loop = asyncio.get_running_loop()
        began = loop.time()
        while not second.owns_broker() and loop.time() - began < 5 * RENEW_SECONDS:
            await asyncio.sleep(0.05)
        waited = loop.time() - began
        assert second_broker.link().state is LinkState.CONNECTED
        await second.stop()
        return waited

    try:
        waited = asyncio.run(scenario())
        assert waited < 3 * RENEW_SECONDS, f"the standby took {waited:.1f} s to take over"
        connects = [b for b in second.store.beads(type_="IBKR_SESSION") if b.payload.get("event") == "CONNECT"]
        assert len(connects) == 2  # the first owner's, then the standby's after the take-over
    finally:
        first.close()
        second.close()


def test_a_lease_whose_holder_process_is_gone_is_taken_at_once_and_a_live_one_is_not(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    clock = FakeClock()
    console = another_process(paths, clock)
    store = console.store
    try:
        ghost = LeaseKeeper(store, clock, "ghost")
        ghost.pid = dead_pid()  # the holder was SIGKILLed: its process no longer exists
        assert ghost.try_take()
        assert process_gone(ghost.host, ghost.pid)
        heir = LeaseKeeper(store, clock, "heir")
        assert heir.try_take(), "a dead holder's lease must not wait for its expiry"

        rival = LeaseKeeper(store, clock, "rival")  # this very process: alive
        assert not rival.try_take()
        assert rival.holder is not None and rival.holder.owner == "heir"
        clock.advance(LEASE_SECONDS - 1)
        assert heir.try_take()  # renewed in time
        clock.advance(LEASE_SECONDS - 1)
        assert not rival.try_take()  # the renewal counts from the renewal
    finally:
        console.close()


def test_an_owner_that_stalled_past_its_lease_loses_it_and_stops_its_broker(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    clock = FakeClock()
    broker = FakeBroker(clock=clock)
    owner = runtime_on(paths, clock, broker)
    standby = another_process(paths, clock)
    thief = LeaseKeeper(standby.store, clock, "the-standby")

    async def scenario() -> None:
        await owner.start(timers=True)
        assert owner.owns_broker()
        clock.advance(LEASE_SECONDS + 1)  # the owner stalled: its lease ran out meanwhile
        assert thief.try_take()
        loop = asyncio.get_running_loop()
        began = loop.time()
        while owner.owns_broker() and loop.time() - began < 30 * RENEW_SECONDS:  # generous: a loaded machine
            await asyncio.sleep(0.05)
        seen.append(broker.link().state)
        await owner.stop()

    seen: list[LinkState] = []
    try:
        asyncio.run(scenario())
        assert not owner.owns_broker()
        assert seen == [LinkState.DISCONNECTED]  # it stopped its broker as soon as it saw the lease gone
        assert thief.store.flags.lease() is not None and thief.store.flags.lease().owner == "the-standby"
    finally:
        owner.close()
        standby.close()


def test_the_owner_cancels_working_orders_when_another_daemon_sets_the_halt_flag(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    clock = FakeClock()
    broker = FakeBroker(clock=clock)
    owner = runtime_on(paths, clock, broker)
    assert owner.broker is not None

    async def approve_everything(request, approval):  # type: ignore[no-untyped-def]
        return None

    owner.broker.approval_hook = approve_everything

    async def scenario() -> None:
        await owner.start(timers=True)
        assert owner.broker is not None
        await owner.broker.submit(OrderRequest("w-1", "EURUSD", Side.BUY, 1_000, OrderType.LIMIT, limit_price=1.0))
        assert len(await owner.broker.open_orders()) == 1
        other = another_process(paths, clock)  # another daemon (a standby) handles a halt intent
        try:
            other.store.halt_on("drill", by="halt intent h-1 (the standby)")
        finally:
            other.close()
        loop = asyncio.get_running_loop()
        began = loop.time()
        while await owner.broker.open_orders() and loop.time() - began < 5:
            await asyncio.sleep(0.05)
        await owner.stop()

    try:
        asyncio.run(scenario())
        assert [o for o in broker._orders.values() if not o.state.done] == []
        cancels = [b.payload for b in owner.store.beads(type_="ORDER") if b.payload.get("event") == "cancel_all"]
        assert len(cancels) == 1 and "set by halt intent h-1" in cancels[0]["reason"]
    finally:
        owner.close()


def test_a_halt_that_asked_not_to_cancel_is_not_followed_by_a_cancel(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    clock = FakeClock()
    owner = runtime_on(paths, clock, FakeBroker(clock=clock))

    async def scenario() -> None:
        await owner.start(timers=True)
        other = another_process(paths, clock)
        try:
            other.store.halt_on("keep orders", by="halt intent h-2", facts={"cancel_orders": False})
        finally:
            other.close()
        await asyncio.sleep(2.5 * RENEW_SECONDS)  # the owner's timers tick every second
        await owner.stop()

    try:
        asyncio.run(scenario())
        assert not [b for b in owner.store.beads(type_="ORDER") if b.payload.get("event") == "cancel_all"]
    finally:
        owner.close()


def test_lease_times_are_the_seams_clock(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    clock = FakeClock()
    console = another_process(paths, clock)
    store = console.store
    try:
        keeper = LeaseKeeper(store, clock, "me")
        assert keeper.try_take()
        lease = store.flags.lease()
        assert lease is not None
        assert lease.expired(clock.now() + timedelta(seconds=LEASE_SECONDS))
        assert not lease.expired(clock.now() + timedelta(seconds=LEASE_SECONDS - 1))
        keeper.release()
        assert store.flags.lease() is None
    finally:
        console.close()
