"""Broker domain types: frozen, in our own words; the IB library's objects never leave the adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = [
    "AccountSnapshot",
    "BracketRequest",
    "Fill",
    "LinkInfo",
    "LinkState",
    "Mode",
    "Order",
    "OrderRequest",
    "OrderState",
    "OrderType",
    "Position",
    "Quote",
    "Side",
    "pip_size",
]


class Mode(StrEnum):
    MOCK = "mock"
    PAPER = "paper"
    LIVE = "live"


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"


class OrderState(StrEnum):
    PENDING = "pending"  # sent, not yet acknowledged
    HELD = "held"  # accepted, waiting on its parent (bracket children)
    WORKING = "working"  # live at the broker
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def done(self) -> bool:
        return self in DONE_STATES


DONE_STATES = frozenset({OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED})


class LinkState(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RECONNECTING = "reconnecting"
    ESCALATED = "escalated"  # gave up after the configured attempts; a human must run `seam broker reconnect`


def pip_size(pair: str) -> float:
    return 0.01 if pair.endswith("JPY") else 0.0001


@dataclass(frozen=True)
class OrderRequest:
    ref: str  # our reference (the proposal id), sent as orderRef
    pair: str
    side: Side
    quantity: int
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None


@dataclass(frozen=True)
class BracketRequest:
    """Entry (market when entry_limit is None) with a protective stop and a take-profit target."""

    ref: str
    pair: str
    side: Side
    quantity: int
    stop: float
    target: float
    entry_limit: float | None = None


@dataclass(frozen=True)
class Order:
    order_id: str
    ref: str
    pair: str
    side: Side
    quantity: int
    order_type: OrderType
    state: OrderState
    limit_price: float | None = None
    stop_price: float | None = None
    filled: int = 0
    avg_fill_price: float | None = None
    parent_id: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Fill:
    exec_id: str
    order_id: str
    ref: str
    pair: str
    side: Side
    quantity: int
    price: float
    time: datetime
    commission: float | None = None
    commission_currency: str = "USD"


@dataclass(frozen=True)
class Position:
    account: str
    pair: str
    quantity: int  # signed: > 0 long, < 0 short
    avg_cost: float


@dataclass(frozen=True)
class AccountSnapshot:
    account: str
    currency: str
    net_liquidation: float
    cash: float
    buying_power: float
    unrealized_pnl: float = 0.0
    realized_pnl: float = 0.0
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Quote:
    pair: str
    bid: float
    ask: float
    time: datetime

    @property
    def spread_pips(self) -> float:
        return round((self.ask - self.bid) / pip_size(self.pair), 1)


@dataclass(frozen=True)
class LinkInfo:
    mode: Mode
    state: LinkState
    account: str | None = None
    host: str | None = None
    port: int | None = None
    attempts: int = 0
    detail: str = ""
