"""Order book of the fake broker: accepts, modifies, cancels and fills orders against the market.

Pure state with no I/O: every operation returns the events the server must publish, in the order a
real gateway sends them. Supports MKT, LMT, STP and STP LMT orders, DAY/GTC/IOC, parent/child
brackets (children wait until the parent fills, siblings cancel each other) and explicit OCA groups.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass

from .instruments import ContractSpec, Instrument, lookup
from .ledger import Ledger, commission_usd
from .market import Market

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

PRE_SUBMITTED = "PreSubmitted"
SUBMITTED = "Submitted"
FILLED = "Filled"
CANCELLED = "Cancelled"
WORKING_STATES = frozenset({PRE_SUBMITTED, SUBMITTED})
DONE_STATES = frozenset({FILLED, CANCELLED})
ORDER_TYPES = frozenset({"MKT", "LMT", "STP", "STP LMT"})
TIFS = frozenset({"", "DAY", "GTC", "IOC"})
FIRST_PERM_ID = 1_000_000_001
# Float prices from clients are compared with a tolerance well below any tick.
_EPS = 1e-9


@dataclass(frozen=True)
class OrderTicket:
    """An order exactly as a client sent it in a placeOrder message."""

    client_id: int
    order_id: int
    contract: ContractSpec
    action: str
    quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    oca_group: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    what_if: bool = False


@dataclass
class Order:
    """An accepted order and its life so far."""

    ticket: OrderTicket
    instrument: Instrument
    account: str
    perm_id: int
    status: str
    parent_perm_id: int = 0
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    stop_triggered: bool = False
    completed_time: float | None = None

    @property
    def client_id(self) -> int:
        return self.ticket.client_id

    @property
    def order_id(self) -> int:
        return self.ticket.order_id

    @property
    def remaining(self) -> float:
        return self.ticket.quantity - self.filled

    @property
    def is_buy(self) -> bool:
        return self.ticket.action == "BUY"


@dataclass(frozen=True)
class Execution:
    """One fill, as execDetails and commissionReport carry it."""

    exec_id: str
    perm_id: int
    order_id: int
    client_id: int
    account: str
    instrument: Instrument
    side: str
    shares: float
    price: float
    time: float
    cum_qty: float
    avg_price: float
    order_ref: str
    commission: float
    realized_pnl: float


@dataclass(frozen=True)
class OrderChanged:
    """An order was accepted, modified or released: send openOrder and orderStatus."""

    order: Order


@dataclass(frozen=True)
class OrderFilled:
    """An order filled: send execDetails, openOrder, orderStatus and commissionReport."""

    order: Order
    execution: Execution


@dataclass(frozen=True)
class OrderCancelled:
    """An order was cancelled: send orderStatus Cancelled and error 202."""

    order: Order
    reason: str


@dataclass(frozen=True)
class OrderError:
    """A request about an order failed: send error ``code`` with the order id as request id."""

    client_id: int
    order_id: int
    code: int
    message: str


BookEvent = OrderChanged | OrderFilled | OrderCancelled | OrderError


class OrderRejected(Exception):
    """An order the book refuses, with IB's error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Counters:
    perm_id: int = FIRST_PERM_ID
    exec_seq: int = 1


class Book:
    """All orders of all clients, matched against one market."""

    def __init__(self, market: Market, ledger: Ledger, clock: Clock) -> None:
        self._market = market
        self._ledger = ledger
        self._clock = clock
        self._orders: dict[int, Order] = {}
        self._perm_by_key: dict[tuple[int, int], int] = {}
        self._held: dict[int, list[OrderTicket]] = {}
        self._executions: list[Execution] = []
        self._counters = _Counters()
        self._ids_by_client: dict[int, int] = {}

    # ids -------------------------------------------------------------------------------------

    def observe_id(self, client_id: int, request_id: int) -> None:
        """Remember ids a client used so the next valid id it gets never collides with them."""
        self._ids_by_client[client_id] = max(self._ids_by_client.get(client_id, 0), request_id)

    def next_valid_id(self, client_id: int) -> int:
        return self._ids_by_client.get(client_id, 0) + 1

    # queries ---------------------------------------------------------------------------------

    def orders(self) -> list[Order]:
        return list(self._orders.values())

    def working_orders(self, client_id: int | None = None) -> list[Order]:
        return [
            o
            for o in self._orders.values()
            if o.status in WORKING_STATES and (client_id is None or o.client_id == client_id)
        ]

    def done_orders(self) -> list[Order]:
        return [o for o in self._orders.values() if o.status in DONE_STATES]

    def executions(self) -> list[Execution]:
        return list(self._executions)

    def find(self, client_id: int, order_id: int) -> Order | None:
        perm_id = self._perm_by_key.get((client_id, order_id))
        return self._orders.get(perm_id) if perm_id is not None else None

    # commands --------------------------------------------------------------------------------

    def place(self, ticket: OrderTicket) -> list[BookEvent]:
        """Handle a placeOrder: a new order, a modification, or a held (untransmitted) part of a group."""
        self.observe_id(ticket.client_id, ticket.order_id)
        existing = self.find(ticket.client_id, ticket.order_id)
        if existing:
            return self._modify(existing, ticket)
        held = self._held.setdefault(ticket.client_id, [])
        held[:] = [t for t in held if t.order_id != ticket.order_id]
        if not ticket.transmit:
            # IB holds an untransmitted order until a later order of its group is transmitted.
            held.append(ticket)
            return []
        # A transmitted child releases its own group only: its parent and the parent's other children.
        group = {ticket.parent_id} if ticket.parent_id else set()
        batch = [t for t in held if group and (t.order_id in group or t.parent_id in group)] + [ticket]
        held[:] = [t for t in held if t not in batch]
        events: list[BookEvent] = []
        for item in batch:
            events += self._accept(item)
        events += self.match()
        events += self._expire_ioc(batch)
        return events

    def drop_held(self, client_id: int) -> int:
        """A client's session ended: the untransmitted parts of its groups go with it. Returns how many."""
        return len(self._held.pop(client_id, []))

    def held(self) -> list[OrderTicket]:
        """Every untransmitted order still held, for tests."""
        return [t for tickets in self._held.values() for t in tickets]

    def cancel(self, client_id: int, order_id: int) -> list[BookEvent]:
        held = self._held.get(client_id, [])
        if any(t.order_id == order_id for t in held):
            held[:] = [t for t in held if t.order_id != order_id]
            return []
        order = self.find(client_id, order_id)
        if order is None:
            return [OrderError(client_id, order_id, 135, f"Can't find order with id ={order_id}")]
        if order.status in DONE_STATES:
            message = f"Cancel attempted when order is not in a cancellable state. Order permId ={order.perm_id}"
            return [OrderError(client_id, order_id, 161, message)]
        return self._cancel(order, "")

    def cancel_all(self) -> list[BookEvent]:
        """reqGlobalCancel: every working order of every client."""
        self._held.clear()
        events: list[BookEvent] = []
        for order in self.working_orders():
            if order.status in WORKING_STATES:
                events += self._cancel(order, "")
        return events

    def match(self) -> list[BookEvent]:
        """Fill every working order the current quotes reach; repeat while fills release children."""
        events: list[BookEvent] = []
        progressed = True
        while progressed:
            progressed = False
            for order in list(self._orders.values()):
                if order.status != SUBMITTED:
                    continue
                price = self._fill_price(order)
                if price is not None:
                    events += self._fill(order, price)
                    progressed = True
        return events

    # internals -------------------------------------------------------------------------------

    def _accept(self, ticket: OrderTicket) -> list[BookEvent]:
        try:
            inst = self._validate(ticket)
            parent = self._parent_of(ticket)
        except OrderRejected as rej:
            return [OrderError(ticket.client_id, ticket.order_id, rej.code, rej.message)]
        waiting = parent is not None and parent.status != FILLED
        order = Order(
            ticket=ticket,
            instrument=inst,
            account=ticket.account or self._ledger.accounts[0],
            perm_id=self._counters.perm_id,
            status=PRE_SUBMITTED if waiting else SUBMITTED,
            parent_perm_id=parent.perm_id if parent else 0,
        )
        self._counters.perm_id += 1
        self._orders[order.perm_id] = order
        self._perm_by_key[(ticket.client_id, ticket.order_id)] = order.perm_id
        logger.info(
            "accepted order %s perm %d: %s %s %s",
            ticket.order_id,
            order.perm_id,
            ticket.action,
            ticket.quantity,
            inst.pair,
        )
        return [OrderChanged(_snapshot(order))]

    def _validate(self, ticket: OrderTicket) -> Instrument:
        inst = lookup(ticket.contract)
        if inst is None:
            raise OrderRejected(200, "No security definition has been found for the request")
        if ticket.action not in ("BUY", "SELL"):
            raise OrderRejected(201, f"Order rejected - reason:Invalid action {ticket.action!r}")
        if not ticket.quantity > 0:
            raise OrderRejected(201, "Order rejected - reason:The order size must be positive")
        if ticket.order_type not in ORDER_TYPES:
            raise OrderRejected(201, f"Order rejected - reason:Unsupported order type {ticket.order_type!r}")
        if ticket.order_type in ("LMT", "STP LMT") and ticket.lmt_price is None:
            raise OrderRejected(201, "Order rejected - reason:A limit price is required")
        if ticket.order_type in ("STP", "STP LMT") and ticket.aux_price is None:
            raise OrderRejected(201, "Order rejected - reason:A stop price is required")
        if ticket.tif not in TIFS:
            raise OrderRejected(201, f"Order rejected - reason:Unsupported time in force {ticket.tif!r}")
        if ticket.account and ticket.account not in self._ledger.accounts:
            raise OrderRejected(201, f"Order rejected - reason:Unknown account {ticket.account!r}")
        return inst

    def _parent_of(self, ticket: OrderTicket) -> Order | None:
        if not ticket.parent_id:
            return None
        parent = self.find(ticket.client_id, ticket.parent_id)
        if parent is None or parent.status == CANCELLED:
            raise OrderRejected(201, f"Order rejected - reason:Parent order {ticket.parent_id} is not working")
        return parent

    def _modify(self, order: Order, ticket: OrderTicket) -> list[BookEvent]:
        if order.status in DONE_STATES:
            message = f"Cannot modify an order in state {order.status}"
            return [OrderError(ticket.client_id, ticket.order_id, 104, message)]
        try:
            inst = self._validate(ticket)
        except OrderRejected as rej:
            return [OrderError(ticket.client_id, ticket.order_id, rej.code, rej.message)]
        if inst != order.instrument or ticket.action != order.ticket.action:
            return [
                OrderError(
                    ticket.client_id,
                    ticket.order_id,
                    105,
                    "Order being modified does not match original order",
                )
            ]
        order.ticket = ticket
        logger.info("modified order %s perm %d", ticket.order_id, order.perm_id)
        return [OrderChanged(_snapshot(order)), *self.match(), *self._expire_ioc([ticket])]

    def _fill_price(self, order: Order) -> float | None:
        """The price this order fills at now, or None if the market does not reach it."""
        quote = self._market.quote(order.instrument.pair)
        touch = quote.ask if order.is_buy else quote.bid
        ticket = order.ticket
        if ticket.order_type in ("STP", "STP LMT") and not order.stop_triggered:
            assert ticket.aux_price is not None
            if not _reaches(order.is_buy, touch, ticket.aux_price, stop=True):
                return None
            order.stop_triggered = True
        if ticket.order_type in ("LMT", "STP LMT"):
            assert ticket.lmt_price is not None
            return touch if _reaches(order.is_buy, touch, ticket.lmt_price, stop=False) else None
        return touch

    def _fill(self, order: Order, price: float) -> list[BookEvent]:
        qty = order.remaining
        signed = qty if order.is_buy else -qty
        commission = commission_usd(order.instrument, qty, price, self._market)
        realized = self._ledger.apply_fill(order.account, order.instrument, signed, price, commission, self._market)
        now = self._clock()
        order.filled += qty
        order.avg_fill_price = order.last_fill_price = price
        order.status = FILLED
        order.completed_time = now
        execution = Execution(
            exec_id=f"{self._counters.exec_seq:08x}.{order.perm_id:08x}.01.01",
            perm_id=order.perm_id,
            order_id=order.order_id,
            client_id=order.client_id,
            account=order.account,
            instrument=order.instrument,
            side="BOT" if order.is_buy else "SLD",
            shares=qty,
            price=price,
            time=now,
            cum_qty=order.filled,
            avg_price=price,
            order_ref=order.ticket.order_ref,
            commission=commission,
            realized_pnl=realized - commission if realized else 0.0,
        )
        self._counters.exec_seq += 1
        self._executions.append(execution)
        logger.info("filled perm %d: %s %s %s @ %s", order.perm_id, execution.side, qty, order.instrument.pair, price)
        events: list[BookEvent] = [OrderFilled(_snapshot(order), execution)]
        events += self._release_children(order)
        events += self._cancel_oca_siblings(order)
        return events

    def _release_children(self, parent: Order) -> list[BookEvent]:
        events: list[BookEvent] = []
        for child in self._orders.values():
            if child.parent_perm_id == parent.perm_id and child.status == PRE_SUBMITTED:
                child.status = SUBMITTED
                events.append(OrderChanged(_snapshot(child)))
        return events

    def _cancel_oca_siblings(self, filled: Order) -> list[BookEvent]:
        """Bracket children of one parent form an OCA group; so do orders sharing an ocaGroup name."""
        events: list[BookEvent] = []
        group = filled.ticket.oca_group
        for other in list(self._orders.values()):
            if other is filled or other.status not in WORKING_STATES:
                continue
            same_parent = filled.parent_perm_id and other.parent_perm_id == filled.parent_perm_id
            same_group = group and other.ticket.oca_group == group and other.account == filled.account
            if same_parent or same_group:
                events += self._cancel(other, "OCA")
        return events

    def _cancel(self, order: Order, reason: str) -> list[BookEvent]:
        order.status = CANCELLED
        order.completed_time = self._clock()
        logger.info("cancelled perm %d %s", order.perm_id, reason)
        events: list[BookEvent] = [OrderCancelled(_snapshot(order), reason)]
        for child in list(self._orders.values()):
            if child.parent_perm_id == order.perm_id and child.status in WORKING_STATES:
                events += self._cancel(child, "parent cancelled")
        return events

    def _expire_ioc(self, tickets: list[OrderTicket]) -> list[BookEvent]:
        events: list[BookEvent] = []
        for ticket in tickets:
            order = self.find(ticket.client_id, ticket.order_id)
            if order and ticket.tif == "IOC" and order.status == SUBMITTED:
                events += self._cancel(order, "IOC")
        return events


def _reaches(is_buy: bool, touch: float, level: float, stop: bool) -> bool:
    """Does the touch price reach a limit (buy at or below) or a stop (buy at or above)?"""
    if stop:
        return touch >= level - _EPS if is_buy else touch <= level + _EPS
    return touch <= level + _EPS if is_buy else touch >= level - _EPS


def _snapshot(order: Order) -> Order:
    # Events are published after the whole operation; a copy keeps each event's status as it was.
    return copy.copy(order)
