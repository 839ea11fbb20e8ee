"""Translation between our broker types and the IB client library's objects: pure, no I/O, no state.

This is the only module where IB's camelCase names appear. It never imports the IB library at run time:
constructors come in through the ``lib`` argument (``ib_async`` or ``ib_insync``, the same API) and
everything read from the library is read by attribute, so tests can pass either library or plain stand-ins.

Order identity: our ``order_id`` is IB's ``permId``, the one id that is stable across sessions and
clients (IB's ``orderId`` is per client, and orders completed before a reconnect come back without one).
Before IB assigns a permId (an order not yet acknowledged) the id is ``"c<clientId>o<orderId>"``.

IB order status → our OrderState:

    PendingSubmit, ApiPending        PENDING    sent, not acknowledged
    PreSubmitted                     HELD       accepted, waiting (bracket children, untriggered stops)
    Submitted                        WORKING
    PendingCancel                    WORKING    a cancel was asked for; the order can still fill until
                                                IB confirms it, so it is not treated as done
    ValidationError (ib_async)       WORKING    a warning on a live order; IB keeps the order
    Filled                           FILLED
    Cancelled, ApiCancelled          CANCELLED  or REJECTED when IB ended it with an error code
                                                (201 order rejected, 100 pacing, ...) other than
                                                202 "order cancelled" and the cancel refusals
    Inactive                         REJECTED   IB will not work it (bad price, permissions, ...)
    anything else                    PENDING    not done: the caller keeps watching it
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from types import ModuleType
from typing import TYPE_CHECKING

from seam.broker.types import (
    AccountSnapshot,
    BracketRequest,
    Fill,
    Order,
    OrderRequest,
    OrderState,
    OrderType,
    Position,
    Quote,
    Side,
)

if TYPE_CHECKING:
    # Types only: ib_insync's objects have the same shape, and nothing here runs library code.
    from ib_async import AccountValue, Contract, Ticker, Trade
    from ib_async import Fill as IBFill
    from ib_async import Order as IBOrder
    from ib_async import Position as IBPosition

__all__ = [
    "ACKNOWLEDGED",
    "BASE_CURRENCY",
    "account_of",
    "account_snapshot",
    "acknowledged",
    "bracket_orders",
    "cancel_refusal",
    "con_id",
    "fill_from_ib",
    "fx_contract",
    "local_order_id",
    "normalize_pair",
    "order_error",
    "order_from_trade",
    "order_id_of",
    "order_key",
    "order_state",
    "pair_of",
    "parent_link",
    "perm_id_of",
    "position_from_ib",
    "quote_from_ticker",
    "ref_of",
    "single_order",
]

BASE_CURRENCY = "USD"
EXCHANGE = "IDEALPRO"
# IB leaves a double it does not set at DBL_MAX ("UNSET_DOUBLE") and an int at 2**31 - 1.
_UNSET_DOUBLE = sys.float_info.max
# Resting orders stay on the book across IB's daily session break, so a protective stop never lapses.
_RESTING_TIF = "GTC"
# "Cancel all remaining orders with block": IB's safest OCA type, used between bracket children.
_OCA_CANCEL_WITH_BLOCK = 1

_STATES: dict[str, OrderState] = {
    "PendingSubmit": OrderState.PENDING,
    "ApiPending": OrderState.PENDING,
    "PreSubmitted": OrderState.HELD,
    "Submitted": OrderState.WORKING,
    "PendingCancel": OrderState.WORKING,
    "ValidationError": OrderState.WORKING,
    "ApiUpdate": OrderState.WORKING,
    "Filled": OrderState.FILLED,
    "Cancelled": OrderState.CANCELLED,
    "ApiCancelled": OrderState.CANCELLED,
    "Inactive": OrderState.REJECTED,
}
# Statuses that show IB has heard of the order (anything but the library's own "sent" marker).
ACKNOWLEDGED = frozenset(status for status, state in _STATES.items() if state is not OrderState.PENDING)

# IB's answers that refuse a cancel (unknown id, already done, not cancellable): they say nothing about
# how the order ended, though the library marks the order Cancelled when one arrives.
_CANCEL_REFUSALS = frozenset({135, 161, 10147, 10148})
# 202 is IB's "Order Canceled" notice.
_NOT_REJECTIONS = frozenset({0, 202}) | _CANCEL_REFUSALS

_ENDED = frozenset({"Cancelled", "ApiCancelled", "Inactive"})

_ORDER_TYPES: dict[str, OrderType] = {
    "MKT": OrderType.MARKET,
    "LMT": OrderType.LIMIT,
    "STP": OrderType.STOP,
    "STP LMT": OrderType.STOP,
}
_SIDES = {"BUY": Side.BUY, "BOT": Side.BUY, "SELL": Side.SELL, "SLD": Side.SELL}
_PAIR = re.compile(r"^[A-Z]{6}$")
# The library logs an order error as "Error 201, reqId 5: <IB's text>, contract: Forex(...)".
_LOG_PREFIX = re.compile(r"^(?:Error|Warning) -?\d+, reqId -?\d+: ")


# contracts ------------------------------------------------------------------------------------


def normalize_pair(pair: str) -> str:
    """'eur/usd', 'EUR.USD' and 'EURUSD' are one pair; anything else is not an FX pair."""
    cleaned = pair.strip().upper().replace("/", "").replace(".", "")
    if not _PAIR.match(cleaned):
        raise ValueError(f"{pair!r} is not an FX pair such as EURUSD")
    return cleaned


def fx_contract(lib: ModuleType, pair: str) -> Contract:
    """An IDEALPRO cash contract for ``pair``; the adapter qualifies it (fills the conId) before use."""
    contract: Contract = lib.Forex(normalize_pair(pair), exchange=EXCHANGE)
    return contract


def pair_of(contract: Contract) -> str:
    """EUR (symbol) + USD (currency); IB's localSymbol 'EUR.USD' as the fallback."""
    if contract.symbol and contract.currency:
        return f"{contract.symbol}{contract.currency}".upper()
    return contract.localSymbol.replace(".", "").upper()


# our requests -> IB orders --------------------------------------------------------------------


def single_order(lib: ModuleType, request: OrderRequest, account: str, order_id: int = 0) -> IBOrder:
    """One order; ``orderRef`` carries our ref so a retry can find what was sent."""
    common = {"orderRef": request.ref, "account": account, "orderId": order_id}
    side, qty = request.side.value, request.quantity
    if request.order_type is OrderType.MARKET:
        order: IBOrder = lib.MarketOrder(side, qty, **common)
    elif request.order_type is OrderType.LIMIT:
        order = lib.LimitOrder(side, qty, _required(request.limit_price, "limit_price"), tif=_RESTING_TIF, **common)
    else:
        order = lib.StopOrder(side, qty, _required(request.stop_price, "stop_price"), tif=_RESTING_TIF, **common)
    return order


def bracket_orders(
    lib: ModuleType, request: BracketRequest, account: str, order_ids: tuple[int, int, int]
) -> list[IBOrder]:
    """Entry, take-profit and stop, in the order they must be sent.

    Only the last leg transmits: IB holds the first two until it arrives, so the entry can never go
    live without its protection. Both children name the parent and share one OCA group, so a fill of
    either cancels the other even where IB would not infer it from the parent link.
    """
    parent_id, target_id, stop_id = order_ids
    common = {"orderRef": request.ref, "account": account}
    side, exit_side, qty = request.side.value, request.side.opposite.value, request.quantity
    if request.entry_limit is None:
        entry: IBOrder = lib.MarketOrder(side, qty, orderId=parent_id, transmit=False, **common)
    else:
        entry = lib.LimitOrder(
            side, qty, request.entry_limit, orderId=parent_id, transmit=False, tif=_RESTING_TIF, **common
        )
    children = {
        "parentId": parent_id,
        "ocaGroup": f"seam-{request.ref}-{parent_id}",
        "ocaType": _OCA_CANCEL_WITH_BLOCK,
        "tif": _RESTING_TIF,
        **common,
    }
    target: IBOrder = lib.LimitOrder(exit_side, qty, request.target, orderId=target_id, transmit=False, **children)
    stop: IBOrder = lib.StopOrder(exit_side, qty, request.stop, orderId=stop_id, transmit=True, **children)
    return [entry, target, stop]


def _required(value: float | None, name: str) -> float:
    if value is None:
        raise ValueError(f"{name} is required for this order type")
    return value


# IB trades and fills -> ours ------------------------------------------------------------------


def perm_id_of(trade: Trade) -> int:
    return int(trade.order.permId or trade.orderStatus.permId or 0)


def local_order_id(key: tuple[int, int]) -> str:
    """Our id for an order IB has not given a permId yet, from its (clientId, orderId)."""
    return f"c{key[0]}o{key[1]}"


def order_id_of(trade: Trade) -> str:
    perm_id = perm_id_of(trade)
    if perm_id:
        return str(perm_id)
    return local_order_id((trade.order.clientId, trade.order.orderId))


def order_key(trade: Trade) -> tuple[int, int] | None:
    """(clientId, orderId), the key IB links children by; None for orders that came back without one."""
    order = trade.order
    return (order.clientId, order.orderId) if order.orderId > 0 else None


def parent_link(trade: Trade) -> int | tuple[int, int] | None:
    """How this order names its parent: a permId (orders resent after a reconnect), a (clientId,
    orderId) key (orders of this session), or None for an order without a parent."""
    order = trade.order
    if order.parentPermId:
        return int(order.parentPermId)
    if order.parentId:
        return (order.clientId, order.parentId)
    return None


def ref_of(trade: Trade) -> str:
    return trade.order.orderRef or ""


def account_of(item: Trade | IBFill) -> str:
    """The account an order or a fill belongs to; empty when IB left it out (single-account sessions)."""
    if hasattr(item, "execution"):
        return str(item.execution.acctNumber or "")
    return str(item.order.account or "")


def acknowledged(trade: Trade) -> bool:
    """IB has answered for this order: accepted, refused or already done."""
    return trade.orderStatus.status in ACKNOWLEDGED


def con_id(contract: Contract | None) -> int:
    return int(contract.conId) if contract is not None and contract.conId else 0


def order_error(trade: Trade) -> tuple[int, str] | None:
    """The (code, IB text) that ended this order, if IB refused it rather than cancelled it."""
    for entry in reversed(trade.log):
        code = int(entry.errorCode or 0)
        # Only the entry that ended the order counts: a warning on a live order is not a rejection.
        if entry.status in _ENDED and code not in _NOT_REJECTIONS:
            return code, _ib_text(entry.message)
    return None


def cancel_refusal(trade: Trade) -> tuple[int, str] | None:
    """The (code, IB text) if IB refused to cancel this order; its real state is then unknown here."""
    for entry in reversed(trade.log):
        if int(entry.errorCode or 0) in _CANCEL_REFUSALS:
            return int(entry.errorCode), _ib_text(entry.message)
    return None


def order_state(status: str, error_code: int | None = None) -> OrderState:
    """Our state for IB's status string; see the table in the module docstring."""
    state = _STATES.get(status, OrderState.PENDING)
    if state is OrderState.CANCELLED and error_code is not None and error_code not in _NOT_REJECTIONS:
        return OrderState.REJECTED
    return state


def order_from_trade(trade: Trade, parent_id: str | None = None) -> Order:
    """Our Order from an IB Trade. ``parent_id`` is the parent's order_id, which the adapter resolves
    (IB links a child to its parent by the per-client orderId, or by permId after a reconnect)."""
    ib_order, status = trade.order, trade.orderStatus
    error = order_error(trade)
    state = order_state(status.status, error[0] if error else None)
    reason = error[1] if error and state is OrderState.REJECTED else ""
    if state is OrderState.REJECTED and not reason:
        reason = f"IB status {status.status}"
    order_type = _ORDER_TYPES.get(ib_order.orderType) or _guess_type(ib_order)
    filled = _filled_quantity(trade)
    return Order(
        order_id=order_id_of(trade),
        ref=ib_order.orderRef or "",
        pair=pair_of(trade.contract),
        side=_SIDES[ib_order.action],
        quantity=_units(ib_order.totalQuantity),
        order_type=order_type,
        state=state,
        limit_price=_price(ib_order.lmtPrice) if ib_order.orderType in ("LMT", "STP LMT") else None,
        stop_price=_price(ib_order.auxPrice) if ib_order.orderType in ("STP", "STP LMT") else None,
        filled=filled,
        avg_fill_price=_avg_fill_price(trade) if filled else None,
        parent_id=parent_id,
        reason=reason,
    )


def _guess_type(ib_order: IBOrder) -> OrderType:
    # An order type seam does not send (placed in TWS by hand, say) still has to be listed for
    # reconciliation; its prices tell what it most resembles.
    if _price(ib_order.lmtPrice) is not None:
        return OrderType.LIMIT
    if _price(ib_order.auxPrice) is not None:
        return OrderType.STOP
    return OrderType.MARKET


def _filled_quantity(trade: Trade) -> int:
    # A live order reports its fill in orderStatus; an order completed before a reconnect only in the
    # order itself (filledQuantity) and in the executions resent for it.
    from_fills = sum(f.execution.shares for f in trade.fills)
    from_order = _price(trade.order.filledQuantity) or 0.0
    return _units(max(float(trade.orderStatus.filled or 0.0), from_order, from_fills))


def _avg_fill_price(trade: Trade) -> float | None:
    avg = _price(trade.orderStatus.avgFillPrice)
    if avg:
        return avg
    shares = sum(f.execution.shares for f in trade.fills)
    if shares:
        return sum(f.execution.shares * f.execution.price for f in trade.fills) / shares
    return None


def fill_from_ib(fill: IBFill) -> Fill:
    """Our Fill; ``commission`` stays None until IB's commission report for the execution arrives."""
    execution, report = fill.execution, fill.commissionReport
    has_report = bool(report.execId)
    when = execution.time if execution.time.year > 1970 else fill.time
    return Fill(
        exec_id=execution.execId,
        order_id=str(execution.permId) if execution.permId else local_order_id((execution.clientId, execution.orderId)),
        ref=execution.orderRef or "",
        pair=pair_of(fill.contract),
        side=_SIDES[execution.side],
        quantity=_units(execution.shares),
        price=float(execution.price),
        time=when if when.tzinfo else when.replace(tzinfo=UTC),
        commission=float(report.commission) if has_report else None,
        commission_currency=(report.currency or BASE_CURRENCY) if has_report else BASE_CURRENCY,
    )


# account, positions, quotes -------------------------------------------------------------------


def position_from_ib(position: IBPosition) -> Position:
    return Position(
        account=position.account,
        pair=pair_of(position.contract),
        quantity=_units(position.position),
        avg_cost=float(position.avgCost),
    )


def account_snapshot(account: str, values: Iterable[AccountValue], currency: str = BASE_CURRENCY) -> AccountSnapshot:
    """The snapshot from IB's account values (later rows win); ValueError if a money figure is missing."""
    rows: dict[str, str] = {}
    for value in values:
        if value.account == account and value.currency in (currency, "") and not value.modelCode:
            rows[value.tag] = value.value

    def money(tag: str, required: bool = True) -> float:
        text = rows.get(tag)
        if text is None:
            if required:
                raise ValueError(f"IB reported no {tag} in {currency} for account {account}")
            return 0.0
        return float(text)

    return AccountSnapshot(
        account=account,
        currency=currency,
        net_liquidation=money("NetLiquidation"),
        cash=money("TotalCashValue"),
        buying_power=money("BuyingPower"),
        unrealized_pnl=money("UnrealizedPnL", required=False),
        realized_pnl=money("RealizedPnL", required=False),
        values=rows,
    )


def quote_from_ticker(pair: str, ticker: Ticker, now: datetime) -> Quote | None:
    """Bid and ask once both are real prices; None while the ticker is still empty (IB sends NaN)."""
    bid, ask = _price(ticker.bid), _price(ticker.ask)
    if not bid or not ask or bid <= 0 or ask <= 0:
        return None
    when = ticker.time if ticker.time is not None else now
    return Quote(pair=pair, bid=bid, ask=ask, time=when if when.tzinfo else when.replace(tzinfo=UTC))


# helpers --------------------------------------------------------------------------------------


def _price(value: object) -> float | None:
    """IB's optional doubles: None, NaN and DBL_MAX all mean 'not set'."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]  # float or Decimal, as the library gives it
    if math.isnan(number) or number >= _UNSET_DOUBLE:
        return None
    return number


def _units(quantity: object) -> int:
    number = _price(quantity)
    return int(round(number)) if number is not None else 0


def _ib_text(message: str) -> str:
    text = _LOG_PREFIX.sub("", message, count=1)
    return text.split(", contract: ", 1)[0]
