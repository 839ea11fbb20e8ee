"""Server-to-client messages at server version 176, as field lists ready for ``wire.encode_fields``.

Every layout here was read off ``Decoder`` in ib_async 2.1.0 and ib_insync 0.9.86; the field counts
in the docstrings are the ones the decoders require (ib_insync rejects a message with one too many).
"""

from __future__ import annotations

import logging
import time as _time

from .book import Execution, Order
from .instruments import EXCHANGE, SEC_TYPE, Instrument
from .ledger import MarginImpact, PortfolioLine
from .market import Bar, Quote
from .wire import Field

logger = logging.getLogger(__name__)

Message = list[Field]

TICK_BID = 1
TICK_ASK = 2
REAL_TIME_DATA = 1
ORDER_TYPES = "DAY,GTC,IOC,LIMIT,LMT,MKT,STP,STPLMT"
# openOrder's order-state block: status then 14 margin/commission fields, all unset.
_EMPTY_ORDER_STATE = [""] * 14


def format_time(epoch: float) -> str:
    """IB's ``yyyymmdd hh:mm:ss <zone>`` form; both clients parse the zone name."""
    return _time.strftime("%Y%m%d %H:%M:%S UTC", _time.gmtime(epoch))


def contract_fields(inst: Instrument, exchange: str = EXCHANGE) -> list[Field]:
    """The 11-field contract block: conId, symbol, secType, lastTradeDate, strike, right, multiplier,
    exchange, currency, localSymbol, tradingClass."""
    return [
        inst.con_id,
        inst.base,
        SEC_TYPE,
        "",
        0.0,
        "",
        "",
        exchange,
        inst.quote,
        inst.local_symbol,
        inst.local_symbol,
    ]


def price(value: float | None) -> Field:
    return "" if value is None else value


# session -------------------------------------------------------------------------------------


def server_hello(version: int, epoch: float) -> Message:
    """Handshake answer: exactly two fields, the version and a connection time."""
    return [version, format_time(epoch)]


def managed_accounts(accounts: list[str]) -> Message:
    return [15, 1, ",".join(accounts)]


def next_valid_id(order_id: int) -> Message:
    return [9, 1, order_id]


def error(req_id: int, code: int, text: str) -> Message:
    """``[4, 2, reqId, code, message, advancedOrderRejectJson]``: the last field is required at 166+."""
    return [4, 2, req_id, code, text, ""]


def current_time(epoch: float) -> Message:
    return [49, 1, int(epoch)]


# accounts and positions ----------------------------------------------------------------------


def account_value(tag: str, value: str, currency: str, account: str) -> Message:
    return [6, 2, tag, value, currency, account]


def portfolio(line: PortfolioLine, account: str) -> Message:
    """updatePortfolio: exactly 20 fields."""
    return [
        7,
        8,
        *contract_fields(line.instrument, exchange=""),
        line.qty,
        line.market_price,
        round(line.market_value, 2),
        line.avg_cost,
        round(line.unrealized, 2),
        round(line.realized, 2),
        account,
    ]


def account_time(epoch: float) -> Message:
    return [8, 1, _time.strftime("%H:%M", _time.gmtime(epoch))]


def account_download_end(account: str) -> Message:
    return [54, 1, account]


def account_update_multi(req_id: int, account: str, tag: str, value: str, currency: str) -> Message:
    return [73, 1, req_id, account, "", tag, value, currency]


def account_update_multi_end(req_id: int) -> Message:
    return [74, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Message:
    return [63, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> Message:
    return [64, 1, req_id]


def position(account: str, inst: Instrument, qty: float, avg_cost: float) -> Message:
    """position: exactly 16 fields; IB leaves the exchange of a position empty."""
    return [61, 3, account, *contract_fields(inst, exchange=""), qty, avg_cost]


def position_end() -> Message:
    return [62, 1]


# contracts and market data -------------------------------------------------------------------


def contract_details(req_id: int, inst: Instrument) -> Message:
    """contractDetails without a version field (164+): 40 fields, no secIds."""
    # Grouped as the decoders read the fields; one field per line would hide that.
    # fmt: off
    return [
        10, req_id, inst.base, SEC_TYPE, "", 0.0, "", EXCHANGE, inst.quote, inst.local_symbol,
        inst.local_symbol, inst.local_symbol, inst.con_id, inst.min_tick,
        "", ORDER_TYPES,
        EXCHANGE, 1, 0, inst.long_name, "", "", "", "", "", "US/Eastern", "", "", "", "",
        0,  # numSecIds
        4, "", "", "", "", "", 1, 1, 1,
    ]
    # fmt: on


def contract_details_end(req_id: int) -> Message:
    return [52, 1, req_id]


def market_data_type(req_id: int, data_type: int = REAL_TIME_DATA) -> Message:
    return [58, 1, req_id, data_type]


def quote_ticks(req_id: int, quote: Quote) -> list[Message]:
    """tickPrice (exactly 7 fields) for bid and ask, sizes included."""
    return [
        [1, 6, req_id, TICK_BID, quote.bid, quote.bid_size, 0],
        [1, 6, req_id, TICK_ASK, quote.ask, quote.ask_size, 0],
    ]


def snapshot_end(req_id: int) -> Message:
    return [57, 1, req_id]


def historical_data(req_id: int, start: str, end: str, bars: list[tuple[str, Bar]]) -> Message:
    """historicalData with every bar inline; FX midpoints have no volume, so -1 for volume, wap, count."""
    fields: Message = [17, req_id, start, end, len(bars)]
    for date, bar in bars:
        fields += [date, bar.open, bar.high, bar.low, bar.close, -1, -1, -1]
    return fields


# orders and executions -----------------------------------------------------------------------


def open_order(order: Order, impact: MarginImpact | None = None) -> Message:
    """openOrder at v176: 128 fields, no version field; counts zero and presence fields empty.

    With ``impact`` it is the answer to a what-if order: whatIf set and the margin fields filled.
    """
    t = order.ticket
    what_if = 1 if impact else 0
    state = impact.order_state() if impact else _EMPTY_ORDER_STATE
    oca_type = _oca_type(order)
    # Grouped as the decoders read the fields; one field per line would hide that.
    # fmt: off
    return [
        5, t.order_id, *contract_fields(order.instrument),
        t.action, t.quantity, t.order_type, price(t.lmt_price), price(t.aux_price), t.tif or "DAY",
        t.oca_group, order.account, "O", 0, t.order_ref, t.client_id, order.perm_id,
        0, 0, "", "",  # outsideRth, hidden, discretionaryAmt, goodAfterTime
        "", "", "", "", "",  # sharesAllocation, faGroup, faMethod, faPercentage, faProfile
        "", "", "", "", "", "", "", -1,  # modelCode .. exemptCode
        "", "", "", "", "", "", "", 0, 0, 0, "",  # auctionStrategy .. minQty
        oca_type, 0, 0, "",  # ocaType, eTradeOnly, firmQuoteOnly, nbboPriceCap
        t.parent_id, 0, "", "",  # parentId, triggerMethod, volatility, volatilityType
        "", "",  # deltaNeutralOrderType (empty: no delta-neutral block), deltaNeutralAuxPrice
        0, "", "", "", "", "", "",  # continuousUpdate .. comboLegsDescrip
        0, 0, 0,  # comboLegs, orderComboLegs, smartComboRoutingParams
        "", "", "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement (empty: no scale block)
        "",  # hedgeType (empty: no hedgeParam)
        0, "", "", 0, 0,  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, deltaNeutralContract
        "",  # algoStrategy (empty: no algo params)
        0, what_if, order.status, *state, 0, 0,  # solicited, whatIf, status, order state, randomize*
        0,  # conditions
        "", "", "", "", "", "", "", 0, "", "", "", "", 0, 0, "", 0,  # adjusted* .. usePriceMgmtAlgo
        "", 0, 0,  # duration, postToAts, autoCancelParent
        "", "", "", "", "",  # minTradeQty .. midOffsetAtHalf
    ]
    # fmt: on


def order_status(order: Order) -> Message:
    """orderStatus: ``[3, orderId, status, filled, remaining, avgFillPrice, permId, parentId,
    lastFillPrice, clientId, whyHeld, mktCapPrice]``; the clientId keys the trade in the client."""
    why_held = "child" if order.status == "PreSubmitted" and order.parent_perm_id else ""
    return [
        3,
        order.order_id,
        order.status,
        order.filled,
        order.remaining,
        order.avg_fill_price,
        order.perm_id,
        order.ticket.parent_id,
        order.last_fill_price,
        order.client_id,
        why_held,
        0.0,
    ]


def _oca_type(order: Order) -> Field:
    # 1 = cancel the rest of the group on a fill, which is how the book treats OCA groups and brackets.
    return 1 if order.ticket.oca_group or order.parent_perm_id else ""


def open_order_end() -> Message:
    return [53, 1]


def completed_order(order: Order) -> Message:
    """completedOrder at v176: no order id (clients key it by permId)."""
    t = order.ticket
    oca_type = _oca_type(order)
    completed = format_time(order.completed_time or 0.0)
    # Grouped as the decoders read the fields; one field per line would hide that.
    # fmt: off
    return [
        101, *contract_fields(order.instrument),
        t.action, t.quantity, t.order_type, price(t.lmt_price), price(t.aux_price), t.tif or "DAY",
        t.oca_group, order.account, "O", 0, t.order_ref, order.perm_id,
        0, 0, "", "",  # outsideRth, hidden, discretionaryAmt, goodAfterTime
        "", "", "", "",  # faGroup, faMethod, faPercentage, faProfile
        "", "", "", "", "", "", "", -1,  # modelCode .. exemptCode
        "", "", "", "", "", "", 0, 0, "",  # startingPrice .. minQty
        oca_type, 0, "", "",  # ocaType, triggerMethod, volatility, volatilityType
        "", "",  # deltaNeutralOrderType (empty), deltaNeutralAuxPrice
        0, "", "", "", "",  # continuousUpdate .. comboLegsDescrip
        0, 0, 0,  # comboLegs, orderComboLegs, smartComboRoutingParams
        "", "", "",  # scale fields (empty: no scale block)
        "",  # hedgeType
        "", "", 0, 0,  # clearingAccount, clearingIntent, notHeld, deltaNeutralContract
        "",  # algoStrategy
        0, order.status, 0, 0,  # solicited, status, randomizeSize, randomizePrice
        0,  # conditions
        "", "", "", 0, 0, "", order.filled, "", 0, "", 0, 0,  # trailStopPrice .. routeMarketableToBbo
        order.parent_perm_id or "", completed, order.status,  # parentPermId, completedTime, completedStatus
        "", "", "", "", "",  # minTradeQty .. midOffsetAtHalf
    ]
    # fmt: on


def completed_orders_end() -> Message:
    return [102]


def exec_details(req_id: int, ex: Execution) -> Message:
    """execDetails: exactly 31 fields; reqId -1 marks a live fill."""
    # Grouped as the decoders read the fields; one field per line would hide that.
    # fmt: off
    return [
        11, req_id, ex.order_id, *contract_fields(ex.instrument),
        ex.exec_id, format_time(ex.time), ex.account, EXCHANGE, ex.side, ex.shares, ex.price,
        ex.perm_id, ex.client_id, 0, ex.cum_qty, ex.avg_price, ex.order_ref, "", "", "", 2,
    ]
    # fmt: on


def exec_details_end(req_id: int) -> Message:
    return [55, 1, req_id]


def commission_report(ex: Execution) -> Message:
    """commissionReport: exactly 8 fields."""
    return [59, 1, ex.exec_id, ex.commission, "USD", round(ex.realized_pnl, 2), "", ""]
