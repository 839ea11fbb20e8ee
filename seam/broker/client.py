"""The BrokerClient Protocol: what handlers may ask of a broker, whichever mode runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from seam.broker.types import (
    AccountSnapshot,
    BracketRequest,
    Fill,
    LinkInfo,
    Mode,
    Order,
    OrderRequest,
    Position,
    Quote,
)

__all__ = ["BrokerClient", "OrderListener"]

OrderListener = Callable[[Order | Fill], None]


class BrokerClient(Protocol):
    """Async, on the daemon's one event loop. Errors are seam.errors.BrokerError and its subclasses."""

    mode: Mode

    async def connect(self) -> LinkInfo: ...

    async def disconnect(self) -> None: ...

    def link(self) -> LinkInfo: ...

    async def managed_accounts(self) -> list[str]: ...

    async def account(self) -> AccountSnapshot: ...

    async def positions(self) -> list[Position]: ...

    async def open_orders(self) -> list[Order]: ...

    async def fills(self) -> list[Fill]: ...

    async def quote(self, pair: str) -> Quote: ...

    async def place_order(self, request: OrderRequest) -> Order: ...

    async def place_bracket(self, request: BracketRequest) -> list[Order]: ...

    async def orders_by_ref(self, ref: str) -> list[Order]:
        """Every order (working or done) carrying this reference: how a retry finds what was sent."""
        ...

    async def cancel(self, order_id: str) -> Order: ...

    def subscribe(self, listener: OrderListener) -> None:
        """Call `listener` with each order update and fill, on the event loop."""
        ...
