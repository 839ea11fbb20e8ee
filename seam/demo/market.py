"""The simulated market: prices move in the daemon's FakeBroker (MOCK) or at the fake IB Gateway (PAPER)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from seam.broker.fake import FakeBroker
from seam.demo.script import DemoFailure
from seam.demo.threads import DaemonRunner, GatewayThread


class Market(Protocol):
    def move(self, pair: str, mid: float) -> None: ...


class MockMarket:
    """MOCK mode: the FakeBroker lives in the daemon, so a move happens on the daemon's loop."""

    def __init__(self, runner: Callable[[], DaemonRunner]) -> None:
        self.runner = runner

    def move(self, pair: str, mid: float) -> None:
        runner = self.runner()
        fake = runner.broker.broker
        if not isinstance(fake, FakeBroker):
            raise DemoFailure("MOCK mode is running without the FakeBroker")
        runner.call(lambda: fake.set_price(pair, mid), 5.0, f"moving {pair} to {mid}")


class GatewayMarket:
    """PAPER mode: the price moves at the gateway, which streams it and fills what it reaches."""

    def __init__(self, gateway: GatewayThread) -> None:
        self.gateway = gateway

    def move(self, pair: str, mid: float) -> None:
        self.gateway.call(lambda: self.gateway.gateway.set_price(pair, mid), 5.0, f"moving {pair} to {mid}")
