"""The demo's background threads: the daemon and the fake IB Gateway, each on an event loop of its own."""

from __future__ import annotations

import asyncio
import errno
import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from seam.approval import ApprovalService
from seam.broker.service import BrokerService
from seam.clock import ShiftedClock
from seam.config import load_config
from seam.daemon import Daemon
from seam.demo.script import PAPER_ACCOUNT, PAPER_PORT, START_SECONDS, STOP_SECONDS, DemoFailure
from seam.paths import SeamPaths

T = TypeVar("T")


class LoopThread:
    """An event loop in a background thread; the demo calls into it with bounded waits."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[T], timeout: float, what: str) -> T:
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(coro), self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise DemoFailure(f"{what} did not finish within {timeout:g} s") from None

    def call(self, fn: Callable[[], T], timeout: float, what: str) -> T:
        async def on_loop() -> T:
            return fn()

        return self.run(on_loop(), timeout, what)

    def close(self) -> None:
        if self.loop.is_closed():
            return  # closed already: on the normal path and again by the clean-up stack
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(STOP_SECONDS)
        if self.thread.is_alive():
            raise DemoFailure(f"the {self.thread.name} thread did not stop within {STOP_SECONDS:g} s")
        self.loop.close()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


class DaemonRunner(LoopThread):
    """A Daemon built and run on its own loop, as `seam watch` runs it."""

    def __init__(self, paths: SeamPaths, env: dict[str, str], clock: ShiftedClock, session: int) -> None:
        super().__init__(f"seam-demo-daemon-{session}")
        self.paths = paths
        self.env = env
        self.clock = clock
        self.daemon: Daemon | None = None
        self.task: Future[Any] | None = None

    def start(self) -> Daemon:
        async def build() -> Daemon:
            # built on its loop: the IB client library binds to the loop that creates it
            config = load_config(self.paths, env=self.env)
            return Daemon(self.paths, config, clock=self.clock)

        daemon = self.run(build(), START_SECONDS, "building the daemon")
        self.daemon = daemon
        task = self.task = asyncio.run_coroutine_threadsafe(daemon.run(), self.loop)
        deadline = time.monotonic() + START_SECONDS
        while not daemon.started.is_set():
            if task.done():
                raise DemoFailure(f"the daemon stopped while starting: {task.exception()!r}")
            if time.monotonic() > deadline:
                raise DemoFailure(f"the daemon did not start within {START_SECONDS:g} s")
            time.sleep(0.02)
        return daemon

    def stop(self) -> None:
        if self.daemon is not None and self.task is not None and not self.task.done():
            self.loop.call_soon_threadsafe(self.daemon.stop)
            try:
                self.task.result(STOP_SECONDS)
            except FutureTimeout:
                raise DemoFailure(f"the daemon did not stop within {STOP_SECONDS:g} s") from None
        self.close()

    def check_alive(self) -> None:
        """A daemon that died mid-story is named at once, not discovered as a timeout later."""
        if self.task is not None and self.task.done():
            error = self.task.exception()
            raise DemoFailure("the daemon stopped unexpectedly" + (f": {error!r}" if error else ""))

    @property
    def approval(self) -> ApprovalService:
        service = self._daemon.runtime.approval
        if service is None:
            raise DemoFailure("the daemon has no approval service")
        return service

    @property
    def broker(self) -> BrokerService:
        service = self._daemon.runtime.broker
        if service is None:
            raise DemoFailure("the daemon has no broker service")
        return service

    @property
    def _daemon(self) -> Daemon:
        if self.daemon is None:
            raise DemoFailure("the daemon is not running")
        return self.daemon


class GatewayThread(LoopThread):
    """The fake IB Gateway (real TWS protocol over TCP) in this process, on a loop of its own."""

    def __init__(self, clock: ShiftedClock) -> None:
        # Imported here: MOCK mode needs neither the fake gateway nor the IB library.
        from mocks.fake_ib_gateway import FakeGateway

        super().__init__("seam-demo-gateway")
        self.clock = clock
        self._factory = FakeGateway
        self.gateway: Any = None

    def start(self) -> str:
        """Listen on port 4002 of a loopback address of our own; returns the address."""
        for host in (_private_loopback(), "127.0.0.1"):
            # executions are stamped on the same simulated clock as everything else
            gateway = self._factory(
                host=host, port=PAPER_PORT, accounts=[PAPER_ACCOUNT], seed=7, clock=lambda: self.clock.now().timestamp()
            )
            try:
                self.run(gateway.start(), START_SECONDS, "starting the fake IB Gateway")
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL:
                    continue  # only 127.0.0.1 is configured here (macOS): use it
                raise DemoFailure(
                    f"the fake IB Gateway could not listen on {host}:{PAPER_PORT}: {exc} "
                    "(is another gateway using it? the demo only ever connects to its own)"
                ) from exc
            self.gateway = gateway
            return host
        raise DemoFailure("no loopback address was available for the fake IB Gateway")

    def stop(self) -> None:
        if self.gateway is not None:
            self.run(self.gateway.stop(), STOP_SECONDS, "stopping the fake IB Gateway")
        self.close()


def _private_loopback() -> str:
    raw = os.urandom(3)
    return f"127.{raw[0] % 250 + 2}.{raw[1]}.{raw[2] % 250 + 2}"
