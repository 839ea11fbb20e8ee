"""Request dispatch: one small handler per client message id, answering as IB Gateway does.

Every request that a client library waits on gets its end marker or an error with its request id;
a request left unanswered would block the client forever (its default request timeout is none).
"""

from __future__ import annotations

import calendar
import logging
import math
import re
import time as _time
from collections.abc import Callable

from . import inbound, outbound
from .book import PRE_SUBMITTED, Execution, Order, OrderTicket
from .inbound import ExecutionFilter, HistoryRequest
from .instruments import FX_PAIRS, Instrument, lookup
from .market import Bar
from .session import Session
from .state import GatewayState

logger = logging.getLogger(__name__)

Handler = Callable[[GatewayState, Session, list[str]], None]

NO_SECURITY = (200, "No security definition has been found for the request")
HISTORY_ERROR = 162
MAX_BARS = 5000
_BAR_UNITS = {"sec": 1, "min": 60, "hour": 3600, "day": 86400, "week": 604800, "month": 2592000}
_DURATION_UNITS = {"S": 1, "D": 86400, "W": 604800, "M": 2592000, "Y": 31536000}
_BAR_SIZE = re.compile(r"^\s*(\d+)\s*(sec|min|hour|day|week|month)s?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+)\s*([SDWMY])\s*$", re.IGNORECASE)
_HISTORY_SHOWS = frozenset({"MIDPOINT", "BID", "ASK"})


def dispatch(state: GatewayState, session: Session, fields: list[str]) -> None:
    """Serve one request from a logged-in session."""
    msg_id = inbound.to_int(fields[0]) if fields else -1
    handler = HANDLERS.get(msg_id)
    if handler is None:
        logger.warning("client %s sent unsupported message %s; ignored", session.client_id, fields[:3])
        return
    req_id = inbound.request_id(fields)
    if req_id > 0 and session.client_id is not None:
        state.book.observe_id(session.client_id, req_id)
    handler(state, session, fields)


# ids, time, accounts ---------------------------------------------------------------------------


def _req_ids(state: GatewayState, session: Session, fields: list[str]) -> None:
    session.send(outbound.next_valid_id(state.book.next_valid_id(_client(session))))


def _current_time(state: GatewayState, session: Session, fields: list[str]) -> None:
    session.send(outbound.current_time(state.clock()))


def _managed_accounts(state: GatewayState, session: Session, fields: list[str]) -> None:
    session.send(outbound.managed_accounts(state.accounts))


def _ignore(state: GatewayState, session: Session, fields: list[str]) -> None:
    """Requests that need no answer here (data type, auto-bind, cancels of one-shot requests)."""


def _account_updates(state: GatewayState, session: Session, fields: list[str]) -> None:
    subscribe = inbound.flag(inbound.field_at(fields, 2))
    account = inbound.field_at(fields, 3) or state.accounts[0]
    if not subscribe:
        session.subscriptions.accounts.discard(account)
        return
    if account not in state.accounts:
        session.send(outbound.error(-1, 321, f"Error validating request:-'account' : unknown account {account}"))
        return
    session.subscriptions.accounts.add(account)
    pairs = [p.pair for p in state.ledger.positions(account)]
    session.send_all(state.router.account_messages(account, pairs))
    session.send(outbound.account_download_end(account))


def _account_updates_multi(state: GatewayState, session: Session, fields: list[str]) -> None:
    req_id = inbound.to_int(inbound.field_at(fields, 2))
    accounts = [fields[3]] if len(fields) > 3 and fields[3] not in ("", "All") else state.accounts
    for account in accounts:
        if account not in state.accounts:
            continue
        session.subscriptions.accounts_multi[req_id] = account
        session.send_all(state.router.account_multi_messages(req_id, account))
    session.send(outbound.account_update_multi_end(req_id))


def _cancel_account_updates_multi(state: GatewayState, session: Session, fields: list[str]) -> None:
    session.subscriptions.accounts_multi.pop(inbound.to_int(inbound.field_at(fields, 2)), None)


def _account_summary(state: GatewayState, session: Session, fields: list[str]) -> None:
    req_id = inbound.to_int(inbound.field_at(fields, 2))
    tags = {tag.strip() for tag in inbound.field_at(fields, 4).split(",") if tag.strip()}
    for account in state.accounts:
        for tag, value, ccy in state.ledger.account_values(account, state.market):
            if tag in tags and tag not in ("CashBalance", "ExchangeRate", "AccountCode", "Currency"):
                session.send(outbound.account_summary(req_id, account, tag, value, ccy))
    session.send(outbound.account_summary_end(req_id))


def _positions(state: GatewayState, session: Session, fields: list[str]) -> None:
    session.subscriptions.positions = True
    for view in state.ledger.positions():
        session.send(outbound.position(view.account, FX_PAIRS[view.pair], view.qty, view.avg_cost))
    session.send(outbound.position_end())


def _cancel_positions(state: GatewayState, session: Session, fields: list[str]) -> None:
    session.subscriptions.positions = False


# contracts and market data ---------------------------------------------------------------------


def _contract_details(state: GatewayState, session: Session, fields: list[str]) -> None:
    req_id = inbound.to_int(inbound.field_at(fields, 2))
    inst = lookup(inbound.contract_at(fields, 3))
    if inst is None:
        session.send(outbound.error(req_id, *NO_SECURITY))
        return
    session.send_all([outbound.contract_details(req_id, inst), outbound.contract_details_end(req_id)])


def _market_data(state: GatewayState, session: Session, fields: list[str]) -> None:
    request = inbound.market_data(fields)
    inst = lookup(request.contract)
    if inst is None:
        session.send(outbound.error(request.req_id, *NO_SECURITY))
        return
    session.send(outbound.market_data_type(request.req_id))
    session.send_all(outbound.quote_ticks(request.req_id, state.market.quote(inst.pair)))
    if request.snapshot:
        session.send(outbound.snapshot_end(request.req_id))
    else:
        session.subscriptions.quotes[request.req_id] = inst.pair


def _cancel_market_data(state: GatewayState, session: Session, fields: list[str]) -> None:
    session.subscriptions.quotes.pop(inbound.to_int(inbound.field_at(fields, 2)), None)


def _historical_data(state: GatewayState, session: Session, fields: list[str]) -> None:
    request = inbound.historical_data(fields)
    inst = lookup(request.contract)
    if inst is None:
        session.send(outbound.error(request.req_id, *NO_SECURITY))
        return
    try:
        end = _parse_end(request.end, state.clock())
        bar_seconds = _bar_seconds(request.bar_size)
        bars = _history(state, inst, request, end, bar_seconds)
    except ValueError as exc:
        text = f"Historical Market Data Service error message:{exc}"
        session.send(outbound.error(request.req_id, HISTORY_ERROR, text))
        return
    if request.keep_up_to_date:
        logger.warning("keepUpToDate bars are not streamed by the fake gateway; sending history only")
    dated = [(_bar_date(bar.start, bar_seconds, request.format_date), bar) for bar in bars]
    start_text = outbound.format_time(bars[0].start) if bars else ""
    session.send(outbound.historical_data(request.req_id, start_text, outbound.format_time(end), dated))


def _history(state: GatewayState, inst: Instrument, request: HistoryRequest, end: float, bar_seconds: int) -> list[Bar]:
    if request.what_to_show not in _HISTORY_SHOWS:
        raise ValueError(f"No historical market data for {inst.base}/CASH@IDEALPRO {request.what_to_show}")
    count = math.ceil(_duration_seconds(request.duration) / bar_seconds)
    if count > MAX_BARS:
        raise ValueError(f"Time length exceed max: {count} bars requested, at most {MAX_BARS}")
    bars = state.market.bars(inst.pair, end, bar_seconds, max(count, 1))
    if request.what_to_show == "MIDPOINT":
        return bars
    quote = state.market.quote(inst.pair)
    shift = (quote.ask - quote.bid) / 2 * (1 if request.what_to_show == "ASK" else -1)
    return [
        Bar(
            start=b.start,
            open=inst.round_price(b.open + shift),
            high=inst.round_price(b.high + shift),
            low=inst.round_price(b.low + shift),
            close=inst.round_price(b.close + shift),
        )
        for b in bars
    ]


def _bar_seconds(text: str) -> int:
    match = _BAR_SIZE.match(text)
    if not match:
        raise ValueError(f"Invalid bar size {text!r}")
    return int(match.group(1)) * _BAR_UNITS[match.group(2).lower()]


def _duration_seconds(text: str) -> int:
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"Invalid duration {text!r}")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2).upper()]


def _parse_end(text: str, now: float) -> float:
    """endDateTime: empty for now, else ``yyyymmdd hh:mm:ss`` or ``yyyymmdd-hh:mm:ss`` (read as UTC)."""
    if not text.strip():
        return now
    stamp = text.strip().replace("-", " ")[:17]
    try:
        return float(calendar.timegm(_time.strptime(stamp, "%Y%m%d %H:%M:%S")))
    except ValueError as exc:
        raise ValueError(f"Invalid end date/time {text!r}") from exc


def _bar_date(start: int, bar_seconds: int, format_date: int) -> str:
    if bar_seconds >= 86400:
        return _time.strftime("%Y%m%d", _time.gmtime(start))
    if format_date == 2:
        return str(start)
    return outbound.format_time(start)


# orders ----------------------------------------------------------------------------------------


def _place_order(state: GatewayState, session: Session, fields: list[str]) -> None:
    ticket = inbound.place_order(fields, _client(session))
    if ticket.what_if:
        # A what-if order only asks for its margin impact; booking it would trade for real.
        _answer_what_if(state, session, ticket)
        return
    state.orders_received.append(ticket)
    faults = state.faults
    if faults.reject_reason is not None:
        reason, faults.reject_reason = faults.reject_reason, None
        state.book.observe_id(ticket.client_id, ticket.order_id)
        logger.info("rejecting order %s as armed: %s", ticket.order_id, reason)
        session.send(outbound.error(ticket.order_id, 201, f"Order rejected - reason:{reason}"))
        return
    if faults.drop_after_order and ticket.transmit:
        faults.drop_after_order = False
        logger.info("dropping client %s after its order %s as armed", session.client_id, ticket.order_id)
        # Closed before publishing: the order is live but the client never hears it was accepted.
        session.close()
    state.router.publish(state.book.place(ticket))


def _answer_what_if(state: GatewayState, session: Session, ticket: OrderTicket) -> None:
    inst = lookup(ticket.contract)
    account = ticket.account or state.accounts[0]
    if inst is None:
        session.send(outbound.error(ticket.order_id, *NO_SECURITY))
        return
    if account not in state.accounts or ticket.action not in ("BUY", "SELL"):
        text = f"Order rejected - reason:invalid account {account!r} or action {ticket.action!r}"
        session.send(outbound.error(ticket.order_id, 201, text))
        return
    quote = state.market.quote(inst.pair)
    buy = ticket.action == "BUY"
    signed = ticket.quantity if buy else -ticket.quantity
    impact = state.ledger.what_if(account, inst, signed, quote.ask if buy else quote.bid, state.market)
    order = Order(ticket=ticket, instrument=inst, account=account, perm_id=0, status=PRE_SUBMITTED)
    session.send(outbound.open_order(order, impact))


def _cancel_order(state: GatewayState, session: Session, fields: list[str]) -> None:
    order_id = inbound.to_int(inbound.field_at(fields, 2))
    state.router.publish(state.book.cancel(_client(session), order_id))


def _global_cancel(state: GatewayState, session: Session, fields: list[str]) -> None:
    state.router.publish(state.book.cancel_all())


def _open_orders(state: GatewayState, session: Session, fields: list[str]) -> None:
    # clientId 0 is IB's master-like client: it sees every order.
    client = _client(session)
    _send_open_orders(session, state.book.working_orders(None if client == 0 else client))


def _all_open_orders(state: GatewayState, session: Session, fields: list[str]) -> None:
    _send_open_orders(session, state.book.working_orders())


def _send_open_orders(session: Session, orders: list[Order]) -> None:
    for order in orders:
        session.send_all([outbound.open_order(order), outbound.order_status(order)])
    session.send(outbound.open_order_end())


def _completed_orders(state: GatewayState, session: Session, fields: list[str]) -> None:
    for order in state.book.done_orders():
        session.send(outbound.completed_order(order))
    session.send(outbound.completed_orders_end())


def _executions(state: GatewayState, session: Session, fields: list[str]) -> None:
    req_id, wanted = inbound.execution_filter(fields)
    for execution in state.book.executions():
        if _matches(execution, wanted):
            session.send_all([outbound.exec_details(req_id, execution), outbound.commission_report(execution)])
    session.send(outbound.exec_details_end(req_id))


def _matches(ex: Execution, wanted: ExecutionFilter) -> bool:
    side = {"BUY": "BOT", "SELL": "SLD"}.get(wanted.side, wanted.side)
    return (
        wanted.client_id in (0, ex.client_id)
        and wanted.account in ("", ex.account)
        and wanted.symbol in ("", ex.instrument.base)
        and wanted.sec_type in ("", "CASH")
        and side in ("", ex.side)
    )


def _client(session: Session) -> int:
    assert session.client_id is not None, "requests are only dispatched after startApi"
    return session.client_id


HANDLERS: dict[int, Handler] = {
    1: _market_data,
    2: _cancel_market_data,
    3: _place_order,
    4: _cancel_order,
    5: _open_orders,
    6: _account_updates,
    7: _executions,
    8: _req_ids,
    9: _contract_details,
    15: _ignore,  # reqAutoOpenOrders
    16: _all_open_orders,
    17: _managed_accounts,
    20: _historical_data,
    25: _ignore,  # cancelHistoricalData
    49: _current_time,
    58: _global_cancel,
    59: _ignore,  # reqMarketDataType: data is always real-time here
    61: _positions,
    62: _account_summary,
    63: _ignore,  # cancelAccountSummary
    64: _cancel_positions,
    76: _account_updates_multi,
    77: _cancel_account_updates_multi,
    99: _completed_orders,
}
