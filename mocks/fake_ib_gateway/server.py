"""The fake IB Gateway: an asyncio TCP server that logs clients in and serves their requests.

``FakeGateway`` is also the in-process test control surface: move prices, drop or refuse clients,
arm faults on the next order, and read back what the gateway received and holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from types import TracebackType

from . import outbound
from .book import Execution, Order, OrderTicket
from .handlers import dispatch
from .inbound import RequestFormatError, request_id, to_int
from .instruments import instrument
from .ledger import PositionView
from .market import Quote
from .pacing import IB_MAX_MESSAGES_PER_SECOND, PACING_ERROR_CODE, PacingGate
from .session import Session
from .state import GatewayState
from .wire import ProtocolError, encode_fields, negotiate_version, read_handshake

logger = logging.getLogger(__name__)

START_API = 71
CLIENT_ID_IN_USE = (
    326,
    "Unable to connect as the client id is already in use. Retry with a unique client id.",
)
# What a real gateway announces after login; codes 2100-2199 are informational.
FARM_NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefil"),
)
LOGIN_TIMEOUT = 10.0
SERVER_ERROR = 320


class FakeGateway:
    """A TWS-protocol server with a simulated FX market and broker behind it.

    Time is injectable: ``clock`` stamps executions, bars and pacing; the random walk only moves on
    ``advance`` unless ``tick_interval`` starts a real-time ticker (as the CLI does).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        accounts: Sequence[str] = ("DU123456",),
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        tick_interval: float | None = None,
        spread_pips: float = 1.0,
        volatility_pips: float = 0.5,
        starting_cash: float = 1_000_000.0,
        max_messages_per_second: int = IB_MAX_MESSAGES_PER_SECOND,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self._tick_interval = tick_interval
        self._max_messages = max_messages_per_second
        self.state = GatewayState.create(list(accounts), clock, seed, spread_pips, volatility_pips, starting_cash)
        self._listener: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._sessions: set[Session] = set()
        self.logins: list[int] = []  # the client id of every login, in order (tests count connections)
        self._ticker: asyncio.Task[None] | None = None
        self._reopen: asyncio.Task[None] | None = None

    # lifecycle -------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the gateway has not been started")
        return self._port

    @property
    def accounts(self) -> list[str]:
        return list(self.state.accounts)

    async def start(self) -> None:
        await self._listen(self._requested_port)
        if self._tick_interval:
            self._ticker = asyncio.create_task(self._tick_forever(self._tick_interval))
        logger.info("fake IB gateway listening on %s:%d, accounts %s", self._host, self.port, self.accounts)

    async def stop(self) -> None:
        for task in (self._ticker, self._reopen):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._ticker = self._reopen = None
        self._close_listener()
        self.drop_all_clients()
        await self._wait_for_connections()
        logger.info("fake IB gateway stopped")

    async def __aenter__(self) -> FakeGateway:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _listen(self, port: int) -> None:
        self._listener = await asyncio.start_server(self._on_connection, self._host, port)
        self._port = self._listener.sockets[0].getsockname()[1]

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    async def _wait_for_connections(self) -> None:
        if self._connections:
            await asyncio.wait(self._connections, timeout=LOGIN_TIMEOUT)

    async def _tick_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.advance(1)

    # market controls -------------------------------------------------------------------------

    def quote(self, pair: str) -> Quote:
        return self.state.market.quote(pair)

    def set_price(self, pair: str, price: float) -> Quote:
        """Put ``pair``'s mid at ``price``; stream it and fill the orders it reaches."""
        quote = self.state.market.set_price(pair, price)
        self.state.after_market_move([quote.pair])
        return quote

    def jump_price(self, pair: str, pips: float) -> Quote:
        """Gap ``pair`` by ``pips`` (negative for down); stops fill at the new price, not at their level."""
        quote = self.state.market.jump_price(pair, pips)
        self.state.after_market_move([quote.pair])
        return quote

    def advance(self, steps: int = 1) -> None:
        """Move the random walk ``steps`` steps, as the real-time ticker does once per interval."""
        self.state.after_market_move(self.state.market.step(steps))

    # connection controls ---------------------------------------------------------------------

    def connected_clients(self) -> int:
        """How many client sessions are open now."""
        return len(self._sessions)

    def drop_all_clients(self) -> int:
        """Close every client socket (state is kept); return how many were connected."""
        sessions = list(self._sessions)
        for session in sessions:
            session.close()
        return len(sessions)

    def refuse_connections(self, seconds: float) -> None:
        """Stop listening for ``seconds``: new connections are refused, connected clients stay."""
        if self._port is None:
            raise RuntimeError("the gateway has not been started")
        self._close_listener()
        if self._reopen is not None:
            self._reopen.cancel()
        self._reopen = asyncio.create_task(self._reopen_after(seconds))
        logger.info("refusing connections for %.1f s", seconds)

    async def resume_connections(self) -> None:
        """Listen again now (ends ``refuse_connections`` early); harmless if already listening."""
        if self._reopen is not None and self._reopen is not asyncio.current_task():
            self._reopen.cancel()
            self._reopen = None
        if self._listener is None:
            await self._listen(self.port)

    async def _reopen_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._reopen = None
        try:
            await self.resume_connections()
        except OSError:
            # Another process took the port while it was closed; nothing to retry that would help.
            logger.exception("could not listen on port %d again", self.port)

    async def restart(self) -> None:
        """Drop everyone and listen afresh, keeping orders, fills, positions and prices."""
        self._close_listener()
        self.drop_all_clients()
        await self._wait_for_connections()
        await self.resume_connections()
        logger.info("fake IB gateway restarted")

    # order and account controls --------------------------------------------------------------

    def inject_position(self, account: str, pair: str, qty: float, avg_cost: float) -> PositionView:
        """Give ``account`` a position no client traded (for drift tests); subscribers are told."""
        inst = instrument(pair)
        self.state.ledger.inject_position(account, inst, qty, avg_cost)
        self.state.router.push_account(account, [inst.pair])
        return PositionView(account, inst.pair, qty, avg_cost)

    def reject_next_order(self, reason: str = "Rejected by the fake gateway") -> None:
        """The next placeOrder gets error 201 with ``reason`` and is not booked."""
        self.state.faults.reject_reason = reason

    def drop_after_next_order(self) -> None:
        """Book the next transmitted order (working or filled), then close its client's socket
        before the client hears the order was accepted."""
        self.state.faults.drop_after_order = True

    # accessors -------------------------------------------------------------------------------

    @property
    def orders_received(self) -> list[OrderTicket]:
        """Every placeOrder received, in order: modifications and rejected orders included, what-if
        queries (which never become orders) left out."""
        return list(self.state.orders_received)

    def order_refs(self) -> list[str]:
        return [ticket.order_ref for ticket in self.state.orders_received]

    def positions(self, account: str | None = None) -> list[PositionView]:
        return self.state.ledger.positions(account)

    def open_orders(self) -> list[Order]:
        return self.state.book.working_orders()

    def orders(self) -> list[Order]:
        return self.state.book.orders()

    def executions(self) -> list[Execution]:
        return self.state.book.executions()

    def client_ids(self) -> list[int]:
        """clientIds of the sessions logged in now."""
        return self.state.router.client_ids()

    def account_values(self, account: str) -> dict[str, str]:
        return {
            tag: value
            for tag, value, ccy in self.state.ledger.account_values(account, self.state.market)
            if ccy in ("USD", "")
        }

    # connections -----------------------------------------------------------------------------

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        session = Session(reader, writer, PacingGate(self.state.clock, self._max_messages))
        self._sessions.add(session)
        try:
            if await self._log_in(session):
                await self._serve(session)
        except ProtocolError as exc:
            logger.warning("closing connection from %s: %s", session.peer, exc)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            logger.info("connection from %s ended during login", session.peer)
        finally:
            self.state.router.unregister(session)
            self._sessions.discard(session)
            session.close()
            await session.wait_closed()
            self._connections.discard(task)

    async def _log_in(self, session: Session) -> bool:
        """Handshake and startApi; False (with the socket closing) if the client may not log in."""
        low, high = await asyncio.wait_for(read_handshake(session.reader), LOGIN_TIMEOUT)
        version = negotiate_version(low, high)
        session.send_raw(encode_fields(outbound.server_hello(version, self.state.clock())))
        fields = await asyncio.wait_for(session.receive(), LOGIN_TIMEOUT)
        if fields is None:
            return False
        try:
            if to_int(fields[0]) != START_API or len(fields) < 3:
                raise ProtocolError(f"expected startApi, got {fields[:3]}")
            client_id = to_int(fields[2])
        except RequestFormatError as exc:
            raise ProtocolError(f"bad startApi {fields[:3]}: {exc}") from exc
        if not self.state.router.register(session, client_id):
            logger.warning("refusing second session for clientId %d", client_id)
            session.send(outbound.error(-1, *CLIENT_ID_IN_USE))
            return False
        session.send_all(
            [
                outbound.managed_accounts(self.state.accounts),
                outbound.next_valid_id(self.state.book.next_valid_id(client_id)),
                *[outbound.error(-1, code, text) for code, text in FARM_NOTICES],
            ]
        )
        self.logins.append(client_id)
        logger.info("client %d logged in from %s", client_id, session.peer)
        return True

    async def _serve(self, session: Session) -> None:
        while (fields := await session.receive()) is not None:
            if not fields:
                continue
            if not session.pacing.admit():
                session.send(outbound.error(request_id(fields), PACING_ERROR_CODE, session.pacing.error_text()))
                continue
            self._handle(session, fields)
        if session.client_id is not None:
            dropped = self.state.book.drop_held(session.client_id)
            if dropped:
                logger.info("client %s: %d untransmitted order(s) dropped with its session", session.client_id, dropped)
        logger.info("client %s disconnected", session.client_id)

    def _handle(self, session: Session, fields: list[str]) -> None:
        # The one broad except: a request we cannot serve becomes an error, never a dead session.
        try:
            dispatch(self.state, session, fields)
        except RequestFormatError as exc:
            logger.warning("malformed request %s: %s", fields[:3], exc)
            session.send(outbound.error(request_id(fields), SERVER_ERROR, f"Error reading request: {exc}"))
        except Exception:
            logger.exception("failed to serve request %s", fields[:3])
            session.send(outbound.error(request_id(fields), SERVER_ERROR, "Server error when serving the request"))
