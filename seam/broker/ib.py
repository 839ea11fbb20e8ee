"""The IB adapter (PAPER and LIVE): BrokerClient on the IB client library, on the daemon's one event loop.

Guarantees: only this module touches the library; every call is bounded by ``timeout`` and never blocks
the loop (the library's ``*Async`` API only); library failures leave here as our errors:

    BrokerError
    ├── BrokerUnavailable      not connected, the socket dropped, or no answer in time: retry later
    └── IBError                IB answered with an error code (``code``, ``ib_message``): it refused
        └── PacingViolation    code 100, more than 50 messages a second

The adapter reports a dropped link (``link()`` and the ``on_disconnect`` callback) but never reconnects
by itself: the supervisor decides when, and calls ``connect()`` again, which rebuilds orders and fills
from what the gateway resends.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

try:
    import ib_async as ib
except ImportError:  # pragma: no cover - ib_async is the maintained fork; ib_insync has the same API
    import ib_insync as ib  # type: ignore[no-redef,import-not-found,unused-ignore]

from seam.broker import translate
from seam.broker.client import OrderListener
from seam.broker.guards import mask_account, mask_accounts_in
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
    Position,
    Quote,
)
from seam.errors import BrokerError, BrokerUnavailable

__all__ = [
    "IB_MAX_MESSAGES_PER_SECOND",
    "IBBroker",
    "IBError",
    "MessagePacer",
    "PacingViolation",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Told the reason when the gateway drops the link (the supervisor's connection_lost).
DisconnectCallback = Callable[[str], None]

IB_MAX_MESSAGES_PER_SECOND = 50
PACING_ERROR_CODE = 100
DEFAULT_TIMEOUT = 5.0
DEFAULT_MESSAGES_PER_SECOND = 45.0
DEFAULT_MESSAGE_BURST = 5
# What connectAsync sends at once after login: positions, open orders, completed orders, account
# updates, account updates multi, executions. Counted so later requests leave room for them.
STARTUP_MESSAGES = 6
# IB's 1100 says the gateway lost IB's servers (orders will not reach the market); 1101/1102 say it is back.
_UPSTREAM_LOST = 1100
_UPSTREAM_BACK = frozenset({1101, 1102})
# ib_async can fail a connect whose startup sync timed out; ib_insync 0.9.86 only logs it (no such argument).
_SYNC_ERRORS_FAIL: dict[str, Any] = (
    {"raiseSyncErrors": True} if "raiseSyncErrors" in inspect.signature(ib.IB.connectAsync).parameters else {}
)
_RETRY_HINT = "; the order may have been booked: call orders_by_ref({ref!r}) after reconnecting, before any retry"


def _is_warning(code: int) -> bool:
    # 2100-2199 are farm-status notices; 10167 is "displaying delayed data". Neither refuses anything.
    return 2100 <= code < 2200 or code == 10167


class IBError(BrokerError):
    """IB refused the request with an error code; sending it again unchanged will be refused again."""

    what_to_do = "Read IB's reason and fix the request or the account before sending it again."

    def __init__(self, code: int, ib_message: str, doing: str) -> None:
        super().__init__(f"{doing}: IB error {code}: {ib_message}")
        self.code = code
        self.ib_message = ib_message


class PacingViolation(IBError):
    """IB's error 100: the message rate went over IB's limit. Nothing was served; repeats can cost the session."""

    what_to_do = "Retry with the same id after a second (runbook RB-008)."


def _ib_error(code: int, message: str, doing: str) -> IBError:
    if code == PACING_ERROR_CODE:
        return PacingViolation(code, message, doing)
    return IBError(code, message, doing)


class MessagePacer:
    """A token bucket for messages to IB: at most ``burst + rate × t`` messages leave in any ``t`` seconds.

    With ``rate + burst <= 50`` no one-second window can exceed IB's limit: a burst waits for tokens
    instead of earning error 100. ``clock`` and ``sleep`` are injectable so tests need no real time.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("the message rate must be positive and the burst at least 1")
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock = asyncio.Lock()
        self.waited = 0.0  # seconds senders spent waiting: a sign the desk runs close to the limit

    async def acquire(self, messages: int = 1) -> None:
        # The lock keeps senders in arrival order, so a bracket's three legs are not interleaved.
        async with self._lock:
            for _ in range(messages):
                await self._take_one()

    async def _take_one(self) -> None:
        while True:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            # The tolerance stops float rounding (0.999999...) from asking for a sleep too short to
            # move the clock, which would spin forever.
            if self._tokens >= 1.0 - 1e-9:
                self._tokens = max(0.0, self._tokens - 1.0)
                return
            delay = (1.0 - self._tokens) / self._rate
            self.waited += delay
            await self._sleep(delay)


class IBBroker:
    """BrokerClient for PAPER and LIVE on ib_async (or ib_insync).

    One instance lives as long as the daemon: after a drop the supervisor calls ``connect()`` on it
    again, and what it learnt (qualified contracts, parent links) carries over.
    """

    def __init__(
        self,
        mode: Mode,
        host: str = "127.0.0.1",
        port: int = 4002,
        client_id: int = 1,
        account: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        on_disconnect: DisconnectCallback | None = None,
        messages_per_second: float | None = DEFAULT_MESSAGES_PER_SECOND,
        message_burst: int = DEFAULT_MESSAGE_BURST,
    ) -> None:
        if mode not in (Mode.PAPER, Mode.LIVE):
            raise ValueError(f"IBBroker serves PAPER and LIVE, not {mode}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if messages_per_second is not None and messages_per_second + message_burst > IB_MAX_MESSAGES_PER_SECOND:
            raise ValueError(
                f"messages_per_second + message_burst must stay within IB's {IB_MAX_MESSAGES_PER_SECOND} a second"
            )
        self.mode: Mode = mode
        self._host = host
        self._port = port
        self._client_id = client_id
        self._expected_account = account
        self._timeout = timeout
        self._on_disconnect = on_disconnect
        self._bucket = MessagePacer(messages_per_second, message_burst) if messages_per_second else None

        self._state = LinkState.DISCONNECTED
        self._detail = "not connected yet"
        self._account: str | None = None
        self._closing = False
        self._connect_lock = asyncio.Lock()
        # The library files some answers under a fixed name ("positions", "openOrders"): two such
        # requests at once would orphan the first. One at a time per name; quotes subscribe once per pair.
        self._positions_lock = asyncio.Lock()
        self._open_orders_lock = asyncio.Lock()
        self._quote_lock = asyncio.Lock()
        # Set whenever the library processed incoming data or the link dropped: waiters re-check then.
        self._activity = asyncio.Event()
        self._listeners: list[OrderListener] = []
        self._contracts: dict[str, ib.Contract] = {}  # qualified once; conIds do not change
        self._tickers: dict[str, ib.Ticker] = {}  # streaming quotes of this session
        self._market_errors: dict[int, tuple[int, str]] = {}  # conId -> IB error on its market data
        # (clientId, orderId) -> permId, kept across reconnects: children name their parent by orderId,
        # and a parent completed before a reconnect comes back without one.
        self._perm_ids: dict[tuple[int, int], int] = {}

        self._ib = ib.IB()
        # Failed requests raise (with IB's code) instead of quietly returning an empty answer.
        self._ib.RaiseRequestErrors = True
        self._ib.disconnectedEvent += self._on_disconnected
        self._ib.updateEvent += self._activity.set
        self._ib.errorEvent += self._on_error
        self._ib.orderStatusEvent += self._on_order_status
        self._ib.execDetailsEvent += self._on_exec_details
        self._ib.commissionReportEvent += self._on_commission_report

    # link -------------------------------------------------------------------------------------

    async def connect(self) -> LinkInfo:
        """Log in and sync orders, fills, positions and account values; callable again after a drop.

        Bounded by twice ``timeout``: the socket and handshake, then the startup sync, each get one.
        """
        async with self._connect_lock:
            if self._connected():
                return self.link()
            self._closing = False
            await self._pace(STARTUP_MESSAGES)
            where = f"connecting to IB Gateway at {self._host}:{self._port} as client {self._client_id}"
            try:
                # raiseSyncErrors: a session whose startup sync timed out would answer orders_by_ref
                # from a partial picture, which is how a retry sends an order twice.
                await asyncio.wait_for(
                    self._ib.connectAsync(
                        self._host, self._port, clientId=self._client_id, timeout=self._timeout, **_SYNC_ERRORS_FAIL
                    ),
                    self._timeout * 2,
                )
            except TimeoutError as exc:
                self._detail = f"{where}: no answer within {self._timeout:g} s"
                raise BrokerUnavailable(self._detail) from exc
            except (OSError, ib.RequestError) as exc:
                self._detail = f"{where}: {exc}"
                raise BrokerUnavailable(self._detail) from exc
            self._account = self._pick_account(self._ib.managedAccounts())
            self._state = LinkState.CONNECTED
            logger.info(
                "connected to IB Gateway %s:%d, account %s", self._host, self._port, mask_account(self._account)
            )
            return self.link()

    def _pick_account(self, managed: Sequence[str]) -> str | None:
        expected = self._expected_account
        if expected is None or expected in managed:
            self._detail = ""
            return expected or (managed[0] if managed else None)
        # Reported, not refused: the guards compare the account and stop orders; the link itself is fine.
        # masked here, not only in the log: the detail is published with the link and shown in `status`
        self._detail = mask_accounts_in(
            f"expected account {expected} is not managed by this gateway (managed: {', '.join(managed)})", [expected]
        )
        logger.warning("%s", self._detail)
        return managed[0] if managed else None

    async def disconnect(self) -> None:
        self._closing = True
        self._ib.disconnect()
        self._state = LinkState.DISCONNECTED
        self._detail = "disconnected by seam"
        self._tickers.clear()

    def link(self) -> LinkInfo:
        state = LinkState.CONNECTED if self._connected() else LinkState.DISCONNECTED
        return LinkInfo(
            mode=self.mode,
            state=state,
            account=self._account,
            host=self._host,
            port=self._port,
            detail=self._detail,
        )

    def _connected(self) -> bool:
        return self._state is LinkState.CONNECTED and self._ib.isConnected()

    def _require_connected(self, doing: str) -> None:
        if not self._connected():
            raise BrokerUnavailable(f"not connected to IB Gateway at {self._host}:{self._port} ({doing})")

    # reads ------------------------------------------------------------------------------------

    async def managed_accounts(self) -> list[str]:
        self._require_connected("listing managed accounts")
        return list(self._ib.managedAccounts())

    async def account(self) -> AccountSnapshot:
        doing = "reading the account"
        self._require_connected(doing)
        account = self._account_in_use(doing)
        # Account values stream from the subscription made at connect; the summary is loaded once (IB
        # allows only two summary subscriptions) when the stream lacks a figure. Streamed rows win.
        values = list(self._ib.accountValues(account))
        if not _has_money(values, account):
            summary = await self._request(doing, lambda: self._ib.accountSummaryAsync(account))
            values = [*summary, *values]
        try:
            return translate.account_snapshot(account, values)
        except ValueError as exc:
            raise BrokerError(f"{doing}: {exc}") from exc

    async def positions(self) -> list[Position]:
        # Asked afresh each time: reconciliation compares against what IB holds now, not what was streamed.
        async with self._positions_lock:
            await self._request("reading positions", self._ib.reqPositionsAsync)
        account = self._account_in_use("reading positions")
        return [translate.position_from_ib(p) for p in self._ib.positions(account) if p.position]

    async def open_orders(self) -> list[Order]:
        """Working orders of every client on the account (a hand-placed TWS order is drift too)."""
        async with self._open_orders_lock:
            trades = await self._request("reading open orders", self._ib.reqAllOpenOrdersAsync)
        account = self._account_in_use("reading open orders")
        orders: dict[str, Order] = {}
        for trade in trades:
            if translate.account_of(trade) in ("", account):
                order = self._order(trade)
                if not order.state.done:
                    orders[order.order_id] = order
        return list(orders.values())

    async def fills(self) -> list[Fill]:
        await self._request("reading executions", self._ib.reqExecutionsAsync)
        account = self._account_in_use("reading executions")
        return [translate.fill_from_ib(f) for f in self._ib.fills() if translate.account_of(f) in ("", account)]

    async def quote(self, pair: str) -> Quote:
        doing = f"quoting {pair}"
        key = _pair(pair, doing)
        ticker = await self._ticker(key, doing)
        con_id = translate.con_id(ticker.contract)
        await self._until(
            lambda: con_id in self._market_errors or _quote(key, ticker) is not None,
            doing,
        )
        error = self._market_errors.pop(con_id, None)
        if error is not None:
            self._drop_ticker(key)
            raise _ib_error(*error, doing)
        quote = _quote(key, ticker)
        assert quote is not None  # _until returned, and no error was recorded
        return quote

    async def _ticker(self, pair: str, doing: str) -> ib.Ticker:
        async with self._quote_lock:
            ticker = self._tickers.get(pair)
            if ticker is not None:
                return ticker
            contract = await self._contract(pair, doing)
            self._require_connected(doing)
            await self._pace(1)
            self._market_errors.pop(translate.con_id(contract), None)
            try:
                # Streaming, not a snapshot: later quotes of the pair are answered at once.
                ticker = self._ib.reqMktData(contract)
            except ConnectionError as exc:
                raise BrokerUnavailable(f"{doing}: {exc}") from exc
            self._tickers[pair] = ticker
            return ticker

    def _drop_ticker(self, pair: str) -> None:
        ticker = self._tickers.pop(pair, None)
        if ticker is not None and ticker.contract is not None and self._ib.isConnected():
            self._ib.cancelMktData(ticker.contract)

    # orders -----------------------------------------------------------------------------------

    async def place_order(self, request: OrderRequest) -> Order:
        doing = f"placing {request.side} {request.quantity} {request.pair} {request.order_type} ref={request.ref}"
        contract = await self._contract(_pair(request.pair, doing), doing)
        account = self._account_in_use(doing)
        try:
            order = translate.single_order(ib, request, self._expected_account or account)
        except ValueError as exc:
            raise BrokerError(f"{doing}: {exc}") from exc
        [trade] = await self._send(doing, request.ref, contract, [order])
        return self._order(trade)

    async def place_bracket(self, request: BracketRequest) -> list[Order]:
        entry = "MKT" if request.entry_limit is None else f"LMT {request.entry_limit}"
        doing = (
            f"placing bracket {request.side} {request.quantity} {request.pair} {entry} "
            f"stop {request.stop} target {request.target} ref={request.ref}"
        )
        contract = await self._contract(_pair(request.pair, doing), doing)
        account = self._account_in_use(doing)
        try:
            # Ids chosen here so the children can name their parent before anything is sent.
            ids = (self._ib.client.getReqId(), self._ib.client.getReqId(), self._ib.client.getReqId())
        except ConnectionError as exc:
            raise BrokerUnavailable(f"{doing}: {exc}") from exc
        legs = translate.bracket_orders(ib, request, self._expected_account or account, ids)
        trades = await self._send(doing, request.ref, contract, legs)
        return [self._order(t) for t in trades]

    async def orders_by_ref(self, ref: str) -> list[Order]:
        # Refused while down: the library forgets every trade on a drop, so an empty answer then would
        # wrongly say "nothing was sent".
        self._require_connected(f"finding orders with ref {ref!r}")
        found: dict[str, Order] = {}
        for trade in self._ib.trades():
            if translate.ref_of(trade) == ref:
                order = self._order(trade)
                found[order.order_id] = order
        return list(found.values())

    async def cancel(self, order_id: str) -> Order:
        doing = f"cancelling order {order_id}"
        self._require_connected(doing)
        trade = self._find_trade(order_id)
        if trade is None:
            raise BrokerError(f"{doing}: no order with that id in this session")
        if trade.isDone():
            return self._order(trade)
        await self._pace(1)
        try:
            self._ib.cancelOrder(trade.order)
        except ConnectionError as exc:
            raise BrokerUnavailable(f"{doing}: {exc}") from exc
        await self._until(trade.isDone, doing)
        refusal = translate.cancel_refusal(trade)
        if refusal is not None:
            # The library marks the order Cancelled on any error; IB only said it would not cancel.
            raise _ib_error(*refusal, f"{doing} (its state is unknown: read open_orders and fills)")
        return self._order(trade)

    def subscribe(self, listener: OrderListener) -> None:
        self._listeners.append(listener)

    async def _send(self, doing: str, ref: str, contract: ib.Contract, orders: list[ib.Order]) -> list[ib.Trade]:
        """Send ``orders`` in sequence and wait until IB acknowledged each; raise if IB refused any."""
        self._require_connected(doing)
        await self._pace(len(orders))
        hint = _RETRY_HINT.format(ref=ref)
        trades: list[ib.Trade] = []
        try:
            for order in orders:
                trades.append(self._ib.placeOrder(contract, order))
        except ConnectionError as exc:
            raise BrokerUnavailable(f"{doing}: {exc}{hint}") from exc
        await self._until(lambda: all(translate.acknowledged(t) for t in trades), doing, hint)
        refused = [(t, ours) for t in trades if (ours := translate.order_from_trade(t)).state is OrderState.REJECTED]
        if refused:
            # A bracket must not leave an entry working without its protection.
            for trade in trades:
                if not trade.isDone():
                    with contextlib.suppress(ConnectionError):
                        self._ib.cancelOrder(trade.order)
            first, ours = refused[0]
            code, _ = translate.order_error(first) or (0, "")
            raise _ib_error(code, ours.reason, doing)
        return trades

    # helpers ----------------------------------------------------------------------------------

    async def _request(self, doing: str, call: Callable[[], Awaitable[T]]) -> T:
        """One request/answer with the library, bounded and with its failures translated."""
        self._require_connected(doing)
        await self._pace(1)
        try:
            return await asyncio.wait_for(call(), self._timeout)
        except ib.RequestError as exc:
            raise _ib_error(exc.code, exc.message, doing) from exc
        except TimeoutError as exc:  # before OSError: TimeoutError is one
            raise BrokerUnavailable(f"{doing}: no answer from IB Gateway within {self._timeout:g} s") from exc
        except OSError as exc:  # ConnectionError("Socket disconnect") and friends
            raise BrokerUnavailable(f"{doing}: {exc}") from exc

    async def _until(self, done: Callable[[], bool], doing: str, hint: str = "") -> None:
        """Wait, without blocking the loop, until ``done()``; BrokerUnavailable on a drop or timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while not done():
            if not self._ib.isConnected():
                raise BrokerUnavailable(f"{doing}: the link to IB Gateway dropped{hint}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise BrokerUnavailable(f"{doing}: no answer from IB Gateway within {self._timeout:g} s{hint}")
            # No await between the check above and this clear, so no update can slip past unseen.
            self._activity.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._activity.wait(), remaining)

    async def _pace(self, messages: int) -> None:
        if self._bucket is not None:
            await self._bucket.acquire(messages)

    async def _contract(self, pair: str, doing: str) -> ib.Contract:
        cached = self._contracts.get(pair)
        if cached is not None:
            return cached
        results = await self._request(
            f"{doing}: qualifying {pair}", lambda: self._ib.qualifyContractsAsync(translate.fx_contract(ib, pair))
        )
        # ib_async answers [None] for a contract it could not qualify, ib_insync a shorter list.
        contract = next((c for c in results if isinstance(c, ib.Contract) and translate.con_id(c)), None)
        if contract is None:
            raise BrokerError(f"{doing}: IB does not know the pair {pair}")
        self._contracts[pair] = contract
        return contract

    def _account_in_use(self, doing: str) -> str:
        account = self._expected_account or self._account
        if account is None:
            raise BrokerError(f"{doing}: IB Gateway reported no managed account")
        return account

    def _order(self, trade: ib.Trade) -> Order:
        self._remember_perm_id(trade)
        return translate.order_from_trade(trade, self._parent_id(trade))

    def _remember_perm_id(self, trade: ib.Trade) -> None:
        # Remembered while the orderId is known: after a reconnect a completed parent comes back without one.
        key, perm_id = translate.order_key(trade), translate.perm_id_of(trade)
        if key is not None and perm_id:
            self._perm_ids[key] = perm_id

    def _parent_id(self, trade: ib.Trade) -> str | None:
        link = translate.parent_link(trade)
        if link is None or isinstance(link, int):
            return None if link is None else str(link)
        if link not in self._perm_ids:
            for other in self._ib.trades():
                self._remember_perm_id(other)
        perm_id = self._perm_ids.get(link)
        return str(perm_id) if perm_id else translate.local_order_id(link)

    def _find_trade(self, order_id: str) -> ib.Trade | None:
        for trade in self._ib.trades():
            if translate.order_id_of(trade) == order_id:
                return trade
        return None

    # library events ---------------------------------------------------------------------------

    def _on_disconnected(self) -> None:
        self._activity.set()
        self._tickers.clear()
        self._market_errors.clear()
        was_connected = self._state is LinkState.CONNECTED
        self._state = LinkState.DISCONNECTED
        if self._closing or not was_connected:
            return
        self._detail = "IB Gateway closed the connection"
        logger.warning("IB Gateway %s:%d closed the connection", self._host, self._port)
        if self._on_disconnect is not None:
            try:
                self._on_disconnect(self._detail)
            except Exception:
                # Runs inside the library's socket callback: a failing supervisor hook must not stop the
                # library from finishing its own clean-up of the dropped session.
                logger.exception("on_disconnect callback failed")

    def _on_error(self, req_id: int, code: int, text: str, contract: ib.Contract | None) -> None:
        if code == PACING_ERROR_CODE:
            logger.warning("IB pacing violation on request %s: %s", req_id, text)
        elif code == _UPSTREAM_LOST:
            self._detail = f"IB Gateway lost IB's servers: {text}"
        elif code in _UPSTREAM_BACK:
            self._detail = ""
        if translate.con_id(contract) and not _is_warning(code):
            self._market_errors[translate.con_id(contract)] = (code, text)
        self._activity.set()

    def _on_order_status(self, trade: ib.Trade) -> None:
        self._publish(lambda: self._order(trade))

    def _on_exec_details(self, trade: ib.Trade, fill: ib.Fill) -> None:
        self._publish(lambda: translate.fill_from_ib(fill))

    def _on_commission_report(self, trade: ib.Trade, fill: ib.Fill, report: ib.CommissionReport) -> None:
        # The same execution again, now with its commission: listeners key fills by exec_id.
        self._publish(lambda: translate.fill_from_ib(fill))

    def _publish(self, make: Callable[[], Order | Fill]) -> None:
        if not self._listeners:
            return
        try:
            item = make()
        except (KeyError, ValueError):
            logger.exception("could not translate an IB order event")
            return
        for listener in list(self._listeners):
            try:
                listener(item)
            except Exception:
                # Listeners run inside the library's message handling; one failing listener must not
                # stop the others or the decoding of the rest of IB's messages.
                logger.exception("order listener %r failed on %s", listener, item)


def _pair(pair: str, doing: str) -> str:
    try:
        return translate.normalize_pair(pair)
    except ValueError as exc:
        raise BrokerError(f"{doing}: {exc}") from exc


def _quote(pair: str, ticker: ib.Ticker) -> Quote | None:
    return translate.quote_from_ticker(pair, ticker, datetime.now(UTC))


def _has_money(values: Sequence[ib.AccountValue], account: str) -> bool:
    tags = {v.tag for v in values if v.account == account and v.currency == translate.BASE_CURRENCY}
    return {"NetLiquidation", "TotalCashValue", "BuyingPower"} <= tags
