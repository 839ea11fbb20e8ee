"""FakeBroker: MOCK mode. In-process, deterministic, no network — and the same behaviour tests rely on.

A small simulated FX book: quotes per pair (set or jump them), market orders fill at once at the
touch, limit and stop orders fill when the price crosses them, brackets hold their children until
the entry fills and cancel the sibling when one child fills (OCA). Positions and cash follow fills.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from seam.broker.client import OrderListener
from seam.broker.types import (
    AccountSnapshot,
    BracketRequest,
    Fill,
    LinkInfo,
    LinkState,
    Mode,
    Order,
    OrderRequest,
    OrderState,
    OrderType,
    Position,
    Quote,
    Side,
    pip_size,
)
from seam.clock import Clock, SystemClock
from seam.errors import BrokerError, BrokerUnavailable

__all__ = ["DEFAULT_PRICES", "FakeBroker"]

DEFAULT_PRICES = {
    "EURUSD": 1.0850,
    "GBPUSD": 1.2650,
    "USDJPY": 151.20,
    "AUDUSD": 0.6550,
    "USDCAD": 1.3650,
    "NZDUSD": 0.6050,
}
SPREAD_PIPS = 0.6
COMMISSION_PER_UNIT = 0.00002  # 0.2 basis points of notional, with a minimum


class FakeBroker:
    mode = Mode.MOCK

    def __init__(
        self,
        *,
        account: str = "MOCK0001",
        equity: float = 100_000.0,
        clock: Clock | None = None,
        prices: dict[str, float] | None = None,
    ) -> None:
        self.account_id = account
        self.clock = clock or SystemClock()
        self._mid = dict(DEFAULT_PRICES if prices is None else prices)
        self._cash = equity
        self._realized = 0.0
        self._orders: dict[str, Order] = {}
        self._fills: list[Fill] = []
        self._positions: dict[str, tuple[int, float]] = {}
        self._ids = itertools.count(1)
        self._exec_ids = itertools.count(1)
        self._listeners: list[OrderListener] = []
        self._connected = False
        self._oca: dict[str, list[str]] = {}
        self.sent: list[OrderRequest | BracketRequest] = []  # what reached the "broker": tests count it
        self.fail_next: Callable[[], None] | None = None  # a fault to raise on the next placement
        self.drop_after_next_order = False  # book the next order, then lose the link

    # -- link -------------------------------------------------------------------------------------

    async def connect(self) -> LinkInfo:
        self._connected = True
        return self.link()

    async def disconnect(self) -> None:
        self._connected = False

    def link(self) -> LinkInfo:
        state = LinkState.CONNECTED if self._connected else LinkState.DISCONNECTED
        return LinkInfo(Mode.MOCK, state, self.account_id, detail="in-process fake broker")

    def _require_link(self) -> None:
        if not self._connected:
            raise BrokerUnavailable("the mock broker is not connected")

    # -- reads ------------------------------------------------------------------------------------

    async def managed_accounts(self) -> list[str]:
        self._require_link()
        return [self.account_id]

    async def account(self) -> AccountSnapshot:
        self._require_link()
        unrealized = sum(self._unrealized(pair, qty, cost) for pair, (qty, cost) in self._positions.items())
        net = self._cash + unrealized
        return AccountSnapshot(
            self.account_id,
            "USD",
            round(net, 2),
            round(self._cash, 2),
            round(net * 30, 2),
            round(unrealized, 2),
            round(self._realized, 2),
        )

    async def positions(self) -> list[Position]:
        self._require_link()
        return [
            Position(self.account_id, pair, qty, cost)
            for pair, (qty, cost) in sorted(self._positions.items())
            if qty != 0
        ]

    async def open_orders(self) -> list[Order]:
        self._require_link()
        return [o for o in self._orders.values() if not o.state.done]

    async def fills(self) -> list[Fill]:
        self._require_link()
        return list(self._fills)

    async def quote(self, pair: str) -> Quote:
        self._require_link()
        return self._quote(pair)

    async def orders_by_ref(self, ref: str) -> list[Order]:
        self._require_link()
        return [o for o in self._orders.values() if o.ref == ref]

    def subscribe(self, listener: OrderListener) -> None:
        self._listeners.append(listener)

    # -- orders -----------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> Order:
        self._require_link()
        self._before_send(request)
        order = self._new_order(
            request.ref,
            request.pair,
            request.side,
            request.quantity,
            request.order_type,
            request.limit_price,
            request.stop_price,
            OrderState.WORKING,
        )
        self._match(order.pair)
        self._maybe_drop()
        return self._orders[order.order_id]

    async def place_bracket(self, request: BracketRequest) -> list[Order]:
        self._require_link()
        self._before_send(request)
        entry_type = OrderType.MARKET if request.entry_limit is None else OrderType.LIMIT
        parent = self._new_order(
            request.ref,
            request.pair,
            request.side,
            request.quantity,
            entry_type,
            request.entry_limit,
            None,
            OrderState.WORKING,
        )
        exit_side = request.side.opposite
        target = self._new_order(
            request.ref,
            request.pair,
            exit_side,
            request.quantity,
            OrderType.LIMIT,
            request.target,
            None,
            OrderState.HELD,
            parent.order_id,
        )
        stop = self._new_order(
            request.ref,
            request.pair,
            exit_side,
            request.quantity,
            OrderType.STOP,
            None,
            request.stop,
            OrderState.HELD,
            parent.order_id,
        )
        self._oca[target.order_id] = [stop.order_id]
        self._oca[stop.order_id] = [target.order_id]
        self._match(request.pair)
        self._maybe_drop()
        return [self._orders[o.order_id] for o in (parent, target, stop)]

    async def cancel(self, order_id: str) -> Order:
        self._require_link()
        order = self._orders.get(order_id)
        if order is None:
            raise BrokerError(f"no order {order_id} at the broker")
        if order.state.done:
            raise BrokerError(f"order {order_id} is already {order.state}")
        return self._update(order, state=OrderState.CANCELLED, reason="cancelled on request")

    def _maybe_drop(self) -> None:
        """The unclear failure: the broker booked the order, the acknowledgement never arrived."""
        if self.drop_after_next_order:
            self.drop_after_next_order = False
            self._connected = False
            raise BrokerUnavailable("the connection was lost after the order was sent")

    def _before_send(self, request: OrderRequest | BracketRequest) -> None:
        if request.pair not in self._mid:
            raise BrokerError(f"no security definition for {request.pair}")
        if request.quantity <= 0:
            raise BrokerError(f"order quantity must be positive (got {request.quantity})")
        fault, self.fail_next = self.fail_next, None
        self.sent.append(request)
        if fault is not None:
            fault()

    # -- the market -------------------------------------------------------------------------------

    def set_price(self, pair: str, mid: float) -> None:
        """Move the market (a test and demo control); working orders that the move crosses fill."""
        self._mid[pair] = mid
        self._match(pair)

    def jump_price(self, pair: str, pips: float) -> None:
        self.set_price(pair, self._mid[pair] + pips * pip_size(pair))

    def inject_position(self, pair: str, quantity: int, avg_cost: float) -> None:
        """A position this client never traded (for drift tests)."""
        self._positions[pair] = (quantity, avg_cost)

    def _quote(self, pair: str) -> Quote:
        if pair not in self._mid:
            raise BrokerError(f"no market data for {pair}")
        half = SPREAD_PIPS * pip_size(pair) / 2
        digits = 3 if pair.endswith("JPY") else 5
        mid = self._mid[pair]
        return Quote(pair, round(mid - half, digits), round(mid + half, digits), self.clock.now())

    def _new_order(
        self,
        ref: str,
        pair: str,
        side: Side,
        quantity: int,
        order_type: OrderType,
        limit: float | None,
        stop: float | None,
        state: OrderState,
        parent: str | None = None,
    ) -> Order:
        order = Order(str(next(self._ids)), ref, pair, side, quantity, order_type, state, limit, stop, parent_id=parent)
        self._orders[order.order_id] = order
        self._emit(order)
        return order

    def _match(self, pair: str) -> None:
        quote = self._quote(pair)
        progressed = True
        while progressed:  # a fill can release children that the same price also crosses
            progressed = False
            for order in list(self._orders.values()):
                if order.pair == pair and order.state is OrderState.WORKING and self._crosses(order, quote):
                    self._fill(order, quote)
                    progressed = True

    @staticmethod
    def _crosses(order: Order, quote: Quote) -> bool:
        price = quote.ask if order.side is Side.BUY else quote.bid
        if order.order_type is OrderType.MARKET:
            return True
        if order.order_type is OrderType.LIMIT:
            assert order.limit_price is not None
            return price <= order.limit_price if order.side is Side.BUY else price >= order.limit_price
        assert order.stop_price is not None
        return price >= order.stop_price if order.side is Side.BUY else price <= order.stop_price

    def _fill(self, order: Order, quote: Quote) -> None:
        touch = quote.ask if order.side is Side.BUY else quote.bid
        price = touch
        if order.order_type is OrderType.LIMIT and order.limit_price is not None:
            price = min(touch, order.limit_price) if order.side is Side.BUY else max(touch, order.limit_price)
        notional_usd = order.quantity * (1.0 if order.pair.startswith("USD") else price)
        commission = round(max(2.0, notional_usd * COMMISSION_PER_UNIT), 2)
        fill = Fill(
            f"mock-{next(self._exec_ids):06d}",
            order.order_id,
            order.ref,
            order.pair,
            order.side,
            order.quantity,
            price,
            self.clock.now(),
            commission,
        )
        self._fills.append(fill)
        self._book(fill)
        self._update(order, state=OrderState.FILLED, filled=order.quantity, avg_fill_price=price)
        for listener in list(self._listeners):
            listener(fill)
        for child in [o for o in self._orders.values() if o.parent_id == order.order_id and o.state is OrderState.HELD]:
            self._update(child, state=OrderState.WORKING)
        for sibling_id in self._oca.get(order.order_id, []):
            sibling = self._orders[sibling_id]
            if not sibling.state.done:
                self._update(sibling, state=OrderState.CANCELLED, reason="OCA: sibling filled")

    def _book(self, fill: Fill) -> None:
        signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
        qty, cost = self._positions.get(fill.pair, (0, 0.0))
        new_qty = qty + signed
        if qty == 0 or (qty > 0) == (signed > 0):
            cost = (abs(qty) * cost + abs(signed) * fill.price) / abs(new_qty)
        else:
            closed = min(abs(qty), abs(signed))
            realized = self._pnl_usd(fill.pair, closed * (fill.price - cost) * (1 if qty > 0 else -1), fill.price)
            self._realized += realized
            self._cash += realized
            if new_qty != 0 and (new_qty > 0) != (qty > 0):
                cost = fill.price
        self._cash -= fill.commission or 0.0
        self._positions[fill.pair] = (new_qty, cost if new_qty else 0.0)

    @staticmethod
    def _pnl_usd(pair: str, quote_ccy_pnl: float, price: float) -> float:
        return quote_ccy_pnl / price if pair.startswith("USD") else quote_ccy_pnl

    def _unrealized(self, pair: str, qty: int, cost: float) -> float:
        quote = self._quote(pair)
        mark = quote.bid if qty > 0 else quote.ask
        return self._pnl_usd(pair, qty * (mark - cost), mark)

    def _update(self, order: Order, **changes: object) -> Order:
        updated = replace(order, **changes)  # type: ignore[arg-type]
        self._orders[order.order_id] = updated
        self._emit(updated)
        return updated

    def _emit(self, order: Order) -> None:
        for listener in list(self._listeners):
            listener(order)

    def now(self) -> datetime:
        return self.clock.now()
