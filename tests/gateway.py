"""The fake IB Gateway in the test process, for daemons in PAPER mode (tests/broker/test_paper_mode.py, the kill test).

PAPER mode insists on port 4002, so each test binds its gateway to a loopback address of its own
(127.x.y.z:4002) and parallel tests never collide.
"""

from __future__ import annotations

import asyncio
import os
import threading

from mocks.fake_ib_gateway import FakeGateway

__all__ = ["GatewayThread", "loopback"]


class GatewayThread:
    """The fake gateway on an event loop in a background thread; controls are called on that loop."""

    def __init__(self, host: str, port: int, account: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.gateway = FakeGateway(host=host, port=port, accounts=[account], seed=3)

    def __enter__(self) -> GatewayThread:
        self.thread.start()
        self.call_async(self.gateway.start())
        return self

    def call_async(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def call(self, fn, *args):  # type: ignore[no-untyped-def]
        async def run():  # type: ignore[no-untyped-def]
            return fn(*args)

        return self.call_async(run())

    def __exit__(self, *exc: object) -> None:
        self.call_async(self.gateway.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def loopback() -> str:
    """A loopback address of this test's own (all of 127.0.0.0/8 is loopback on Linux)."""
    raw = os.urandom(3)
    return f"127.{raw[0] % 250 + 2}.{raw[1]}.{raw[2] % 250 + 2}"
