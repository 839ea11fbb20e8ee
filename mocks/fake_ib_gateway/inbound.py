"""Parsing of client requests (server version 176 layouts) into typed values.

Field positions are those the client libraries write in ``Client.placeOrder``, ``reqMktData``,
``reqHistoricalData`` and friends; only the fields the fake gateway acts on are read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .book import OrderTicket
from .instruments import ContractSpec

logger = logging.getLogger(__name__)

# Where the request id (or order id) sits in each request, for errors about that request.
REQUEST_ID_INDEX: dict[int, int] = {1: 2, 2: 2, 3: 1, 4: 2, 7: 2, 9: 2, 20: 1, 62: 2, 63: 2, 76: 2, 77: 2}


class RequestFormatError(ValueError):
    """A request too short or with a field of the wrong type."""


def flag(text: str) -> bool:
    """Read a boolean field: "1" (both libraries) or "True" (defensive)."""
    return text.strip() in ("1", "True", "true")


def to_int(text: str, default: int = 0) -> int:
    try:
        return int(text) if text else default
    except ValueError as exc:
        raise RequestFormatError(f"not an integer: {text!r}") from exc


def to_price(text: str) -> float | None:
    """A price field; empty means unset."""
    try:
        return float(text) if text else None
    except ValueError as exc:
        raise RequestFormatError(f"not a number: {text!r}") from exc


def field_at(fields: list[str], index: int) -> str:
    if index >= len(fields):
        raise RequestFormatError(f"message {fields[:1]} has {len(fields)} fields, needs more than {index}")
    return fields[index]


def request_id(fields: list[str]) -> int:
    """The request or order id a message refers to, or -1 if it has none."""
    index = REQUEST_ID_INDEX.get(to_int(fields[0]) if fields else 0)
    if index is None or index >= len(fields):
        return -1
    try:
        return int(fields[index])
    except ValueError:
        return -1


def contract_at(fields: list[str], start: int) -> ContractSpec:
    """The 12 contract fields clients send: conId, symbol, secType, lastTradeDate, strike, right,
    multiplier, exchange, primaryExchange, currency, localSymbol, tradingClass."""
    field_at(fields, start + 11)
    return ContractSpec(
        con_id=to_int(fields[start]),
        symbol=fields[start + 1].upper(),
        sec_type=fields[start + 2].upper(),
        exchange=fields[start + 7].upper(),
        currency=fields[start + 9].upper(),
        local_symbol=fields[start + 10].upper(),
    )


def place_order(fields: list[str], client_id: int) -> OrderTicket:
    """placeOrder: ``[3, orderId, <12 contract>, secIdType, secId, action, totalQuantity, orderType,
    lmtPrice, auxPrice, tif, ocaGroup, account, openClose, origin, orderRef, transmit, parentId, ...]``."""
    field_at(fields, 28)
    quantity = to_price(fields[17])
    return OrderTicket(
        client_id=client_id,
        order_id=to_int(fields[1]),
        contract=contract_at(fields, 2),
        action=fields[16].upper(),
        quantity=quantity if quantity is not None else 0.0,
        order_type=fields[18].upper(),
        lmt_price=to_price(fields[19]),
        aux_price=to_price(fields[20]),
        tif=fields[21].upper(),
        oca_group=fields[22],
        account=fields[23],
        order_ref=fields[26],
        transmit=flag(fields[27]),
        parent_id=to_int(fields[28]),
        what_if=what_if(fields),
    )


# Index of the first field after ``hidden`` in a non-BAG placeOrder: the empty sharesAllocation.
_AFTER_HIDDEN = 35
# Largest double: the libraries' "unset" value, sent as empty but tolerated as a number.
_UNSET_DOUBLE = 1.7976931348623157e308


def what_if(fields: list[str]) -> bool:
    """placeOrder's whatIf flag, found by walking the optional blocks that precede it.

    Layout at v176 after ``hidden``: sharesAllocation .. deltaNeutralAuxPrice (32 fields, with
    deltaNeutralOrderType 30th), 8 delta-neutral fields if that type is set, continuousUpdate ..
    scalePriceIncrement (7), 7 scale fields if the increment is set, scaleTable .. hedgeType (4),
    hedgeParam if hedgeType is set, optOutSmartRouting .. notHeld (4), the delta-neutral contract flag
    (+3 if set), algoStrategy (+count and tag/value pairs if set), algoId, then whatIf.
    """
    if field_at(fields, 4).upper() == "BAG":
        return False  # combo orders are refused anyway; their leg blocks are not walked
    i = _AFTER_HIDDEN + 32
    if field_at(fields, _AFTER_HIDDEN + 30):
        i += 8
    increment = to_price(field_at(fields, i + 6)) or 0.0
    i += 7 + (7 if 0 < increment < _UNSET_DOUBLE else 0)
    i += 4 + (1 if field_at(fields, i + 3) else 0)
    i += 4
    i += 1 + (3 if flag(field_at(fields, i)) else 0)
    if field_at(fields, i):
        i += 1 + 2 * to_int(field_at(fields, i + 1)) + 1
    else:
        i += 1
    return flag(field_at(fields, i + 1))


@dataclass(frozen=True)
class MarketDataRequest:
    req_id: int
    contract: ContractSpec
    snapshot: bool


def market_data(fields: list[str]) -> MarketDataRequest:
    """reqMktData: ``[1, 11, reqId, <12 contract>, dncFlag, (3 dnc fields), genericTicks, snapshot, ...]``."""
    dnc_extra = 3 if flag(field_at(fields, 15)) else 0
    return MarketDataRequest(
        req_id=to_int(fields[2]),
        contract=contract_at(fields, 3),
        snapshot=flag(field_at(fields, 17 + dnc_extra)),
    )


@dataclass(frozen=True)
class HistoryRequest:
    req_id: int
    contract: ContractSpec
    end: str
    bar_size: str
    duration: str
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


def historical_data(fields: list[str]) -> HistoryRequest:
    """reqHistoricalData: ``[20, reqId, <12 contract>, includeExpired, endDateTime, barSize, duration,
    useRTH, whatToShow, formatDate, keepUpToDate, chartOptions]`` (bar size before duration)."""
    field_at(fields, 21)
    return HistoryRequest(
        req_id=to_int(fields[1]),
        contract=contract_at(fields, 2),
        end=fields[15],
        bar_size=fields[16],
        duration=fields[17],
        what_to_show=fields[19].upper(),
        format_date=to_int(fields[20], 1),
        keep_up_to_date=flag(fields[21]),
    )


@dataclass(frozen=True)
class ExecutionFilter:
    client_id: int
    account: str
    symbol: str
    sec_type: str
    side: str


def execution_filter(fields: list[str]) -> tuple[int, ExecutionFilter]:
    """reqExecutions: ``[7, 3, reqId, clientId, acctCode, time, symbol, secType, exchange, side]``."""
    field_at(fields, 9)
    return to_int(fields[2]), ExecutionFilter(
        client_id=to_int(fields[3]),
        account=fields[4],
        symbol=fields[6].upper(),
        sec_type=fields[7].upper(),
        side=fields[9].upper(),
    )
