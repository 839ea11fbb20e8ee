"""No blocking store write on the event loop's thread: the broker service and its link supervisor write through
the lanes' pools, so a write waiting for the store's lock never stalls the loop (and the halt lane on it)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from seam.broker.fake import FakeBroker
from seam.broker.types import OrderRequest, OrderType, Side
from seam.clock import FakeClock
from seam.config import LoadedConfig, Secrets, Settings
from seam.runtime import Runtime
from tests.conftest import make_seam


async def approve_everything(request: object, approval: object) -> None:
    """An order path's approval step that lets everything through: these tests are about other steps."""


def _record_writer_threads(runtime: Runtime) -> list[str]:
    """Wrap this store's transaction (every write goes through it) to note the thread each one runs on."""
    db = runtime.store.db
    real: Callable[[], AbstractContextManager[Any]] = db.transaction
    threads: list[str] = []

    def recording() -> AbstractContextManager[Any]:
        threads.append(threading.current_thread().name)
        return real()

    db.transaction = recording  # type: ignore[method-assign]
    return threads


def _runtime(tmp_path: Path) -> tuple[Runtime, FakeBroker]:
    clock = FakeClock()
    broker = FakeBroker(clock=clock)

    async def no_wait(seconds: float) -> None:
        clock.advance(seconds)

    runtime = Runtime.open(
        make_seam(tmp_path / "seam"),
        LoadedConfig(Settings(), Secrets()),
        clock=clock,
        broker_client=broker,
        sleep=no_wait,
        approval=False,
    )
    return runtime, broker


def test_the_broker_services_writes_never_run_on_the_loops_thread(tmp_path: Path) -> None:
    runtime, fake = _runtime(tmp_path)
    threads = _record_writer_threads(runtime)
    service = runtime.broker
    assert service is not None
    service.approval_hook = approve_everything
    loop_thread: list[str] = []

    async def scenario() -> None:
        loop_thread.append(threading.current_thread().name)
        await runtime.start(timers=False)
        await service.submit(OrderRequest("w-1", "EURUSD", Side.BUY, 1_000, OrderType.LIMIT, limit_price=1.0))
        order = (await service.open_orders())[0]
        await service.cancel(order.order_id, reason="test")
        service.connection_lost("test drop")
        await service.supervisor.wait_recovered()
        fake.inject_position("GBPUSD", 5_000, 1.25)
        await service.reconcile(trigger="test")  # drift: RECONCILIATION + HALT in one transaction
        await service.cancel_all_working_orders(reason="test")
        await runtime.stop()

    try:
        asyncio.run(scenario())
        events = [b.payload.get("event") for b in runtime.store.beads(type_="IBKR_SESSION")]
    finally:
        runtime.close()
    assert {"CONNECT", "DISCONNECT", "RECONNECT"} <= set(events)
    assert len(threads) >= 8, threads  # the scenario wrote: connect, orders, cancel, drop, reconnect, drift...
    assert loop_thread[0] not in threads, f"a write ran on the event loop's thread: {threads}"
    assert all(name.startswith("seam-worker") for name in threads), threads


def test_the_recorder_sees_a_write_on_the_loops_thread(tmp_path: Path) -> None:
    # the check above can fail: a write made on the loop's thread is seen as such
    runtime, _ = _runtime(tmp_path)
    threads = _record_writer_threads(runtime)

    async def write_on_the_loop() -> str:
        runtime.store.append("TEST", {})
        return threading.current_thread().name

    try:
        loop_thread = asyncio.run(write_on_the_loop())
    finally:
        runtime.close()
    assert threads == [loop_thread]
