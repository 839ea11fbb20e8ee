"""The IB adapter against an in-process fake IB Gateway over real TCP, through the real client library.

The library is the one the adapter loaded: ib_async here, ib_insync (its fallback) in CI's ib_insync leg.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

from mocks.fake_ib_gateway import FakeGateway
from seam.broker import translate
from seam.broker.ib import IBBroker, IBError, MessagePacer, PacingViolation
from seam.broker.ib import ib as iblib  # type: ignore[attr-defined]  # the library it loaded: not public API
from seam.broker.types import (
    BracketRequest,
    Fill,
    LinkState,
    Mode,
    Order,
    OrderRequest,
    OrderState,
    OrderType,
    Side,
)
from seam.errors import BrokerError, BrokerUnavailable

HOST = "127.0.0.1"
ACCOUNT = "DU123456"
CLIENT_ID = 1
# A hang fails its test instead of the run; each call of the adapter has its own, shorter bound.
TEST_TIMEOUT = 5.0
CALL_TIMEOUT = 2.0

AsyncTest = Callable[..., Coroutine[Any, Any, None]]


def on_loop(test: AsyncTest) -> Callable[..., None]:
    """Run an ``async def`` test on the loop its fixtures use (``aio``), bounded by TEST_TIMEOUT.

    A conftest hook could do this for the whole folder; a decorator keeps this module self-contained.
    """
    names = list(inspect.signature(test).parameters)

    @functools.wraps(test)
    def run(**fixtures: Any) -> None:
        runner: asyncio.Runner = fixtures["aio"]
        runner.run(asyncio.wait_for(test(**{name: fixtures[name] for name in names}), TEST_TIMEOUT))

    wanted = names if "aio" in names else ["aio", *names]
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    run.__signature__ = inspect.Signature([inspect.Parameter(n, kind) for n in wanted])  # type: ignore[attr-defined]
    return run


async def eventually(check: Callable[[], object], what: str, timeout: float = 2.0) -> None:
    """Wait, letting the loop run, until ``check()`` (awaited if it is a coroutine) is true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


@pytest.fixture
def aio() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture
def gateway(aio: asyncio.Runner) -> Iterator[FakeGateway]:
    gw = FakeGateway(accounts=[ACCOUNT], seed=7)
    aio.run(gw.start())
    yield gw
    aio.run(gw.stop())


@pytest.fixture
def drops() -> list[str]:
    """Reasons the adapter reported through on_disconnect."""
    return []


@pytest.fixture
def broker(aio: asyncio.Runner, gateway: FakeGateway, drops: list[str]) -> Iterator[IBBroker]:
    client = IBBroker(
        Mode.PAPER, HOST, gateway.port, CLIENT_ID, account=ACCOUNT, timeout=CALL_TIMEOUT, on_disconnect=drops.append
    )
    aio.run(client.connect())
    yield client
    aio.run(client.disconnect())


def market(ref: str, side: Side = Side.BUY, quantity: int = 10_000, pair: str = "EURUSD") -> OrderRequest:
    return OrderRequest(ref=ref, pair=pair, side=side, quantity=quantity)


async def drop_and_reconnect(broker: IBBroker, gateway: FakeGateway) -> None:
    assert gateway.drop_all_clients() == 1
    await eventually(lambda: broker.link().state is LinkState.DISCONNECTED, "the adapter to see the drop")
    await broker.connect()


def test_the_adapter_runs_on_the_library_this_environment_expects() -> None:
    """Without this, a leg meant for the fallback would pass just as well on ib_async."""
    assert iblib.__name__ == os.environ.get("SEAM_EXPECT_IB_LIBRARY", "ib_async")


# link and account -----------------------------------------------------------------------------


@on_loop
async def test_connect_reports_the_paper_account_the_gateway_manages(broker: IBBroker, gateway: FakeGateway) -> None:
    link = broker.link()
    assert (link.mode, link.state, link.account, link.port) == (Mode.PAPER, LinkState.CONNECTED, ACCOUNT, gateway.port)
    assert await broker.managed_accounts() == [ACCOUNT]
    # A second connect on a live link is a no-op, not a second session.
    assert (await broker.connect()).state is LinkState.CONNECTED
    assert gateway.client_ids() == [CLIENT_ID]


@on_loop
async def test_account_snapshot_reads_net_liquidation_cash_and_buying_power_in_usd(broker: IBBroker) -> None:
    snapshot = await broker.account()
    assert (snapshot.account, snapshot.currency) == (ACCOUNT, "USD")
    assert snapshot.net_liquidation == 1_000_000.0
    assert snapshot.cash == 1_000_000.0
    assert snapshot.buying_power > 1_000_000.0
    assert snapshot.values["NetLiquidation"] == "1000000.00"


@on_loop
async def test_positions_include_one_injected_at_the_gateway(broker: IBBroker, gateway: FakeGateway) -> None:
    assert await broker.positions() == []
    gateway.inject_position(ACCOUNT, "GBPUSD", -5_000, 1.2650)
    [position] = await broker.positions()
    assert (position.account, position.pair, position.quantity, position.avg_cost) == (ACCOUNT, "GBPUSD", -5_000, 1.265)


@on_loop
async def test_quote_returns_the_gateways_bid_and_ask_and_follows_the_market(
    broker: IBBroker, gateway: FakeGateway
) -> None:
    first = await broker.quote("EURUSD")
    expected = gateway.quote("EURUSD")
    assert (first.pair, first.bid, first.ask) == ("EURUSD", expected.bid, expected.ask)
    assert first.spread_pips > 0 and first.time.tzinfo is not None
    gateway.advance(50)
    moved = gateway.quote("EURUSD")

    async def streamed() -> bool:
        quote = await broker.quote("eur/usd")
        return (quote.bid, quote.ask) == (moved.bid, moved.ask)

    await eventually(streamed, "the streamed quote")


@on_loop
async def test_an_unknown_pair_is_a_broker_error_with_ibs_code(broker: IBBroker) -> None:
    with pytest.raises(IBError, match="EURSEK") as caught:
        await broker.quote("EURSEK")
    assert caught.value.code == 200
    with pytest.raises(BrokerError, match="not an FX pair"):
        await broker.quote("EUR")


# orders ---------------------------------------------------------------------------------------


@on_loop
async def test_market_order_fills_and_a_subscriber_gets_the_fill_with_its_commission(
    broker: IBBroker, gateway: FakeGateway
) -> None:
    heard: list[Order | Fill] = []
    broker.subscribe(heard.append)
    ask = gateway.quote("EURUSD").ask
    order = await broker.place_order(market("m-1", quantity=20_000))
    assert (order.ref, order.pair, order.side, order.quantity, order.order_type) == (
        "m-1",
        "EURUSD",
        Side.BUY,
        20_000,
        OrderType.MARKET,
    )
    await eventually(lambda: any(isinstance(h, Fill) and h.commission is not None for h in heard), "a commission")
    fill = next(h for h in heard if isinstance(h, Fill) and h.commission is not None)
    assert (fill.order_id, fill.ref, fill.side, fill.quantity, fill.price) == (
        order.order_id,
        "m-1",
        Side.BUY,
        20_000,
        ask,
    )
    assert fill.commission is not None and fill.commission > 0 and fill.commission_currency == "USD"
    assert any(isinstance(h, Order) and h.state is OrderState.FILLED for h in heard)
    [done] = await broker.orders_by_ref("m-1")
    assert (done.state, done.filled, done.avg_fill_price) == (OrderState.FILLED, 20_000, ask)
    assert [f.exec_id for f in await broker.fills()] == [fill.exec_id]
    [position] = await broker.positions()
    assert (position.pair, position.quantity) == ("EURUSD", 20_000)


@on_loop
async def test_a_failing_listener_does_not_stop_the_others(broker: IBBroker) -> None:
    def broken(item: Order | Fill) -> None:
        raise RuntimeError("listener bug")

    heard: list[Order | Fill] = []
    broker.subscribe(broken)
    broker.subscribe(heard.append)
    await broker.place_order(market("m-2"))
    await eventually(lambda: any(isinstance(h, Fill) for h in heard), "the fill past the broken listener")


@on_loop
async def test_concurrent_reads_each_get_their_answer(gateway: FakeGateway) -> None:
    # Without the pacer spacing them out, the requests reach the library at the same moment.
    broker = IBBroker(Mode.PAPER, HOST, gateway.port, 3, ACCOUNT, timeout=0.5, messages_per_second=None)
    await broker.connect()
    try:
        gateway.inject_position(ACCOUNT, "USDJPY", 7_000, 151.2)
        first, second, orders, again = await asyncio.gather(
            broker.positions(), broker.positions(), broker.open_orders(), broker.open_orders()
        )
        assert [p.pair for p in first] == [p.pair for p in second] == ["USDJPY"]
        assert orders == again == []
    finally:
        await broker.disconnect()


@on_loop
async def test_limit_order_away_from_the_market_works_until_cancelled(broker: IBBroker, gateway: FakeGateway) -> None:
    request = OrderRequest("l-1", "EURUSD", Side.BUY, 10_000, OrderType.LIMIT, limit_price=1.0)
    order = await broker.place_order(request)
    assert (order.state, order.limit_price, order.filled) == (OrderState.WORKING, 1.0, 0)
    assert [o.order_id for o in await broker.open_orders()] == [order.order_id]
    cancelled = await broker.cancel(order.order_id)
    assert cancelled.state is OrderState.CANCELLED
    assert await broker.open_orders() == [] and gateway.open_orders() == []
    # Cancelling what is already done answers with its state and sends nothing.
    assert (await broker.cancel(order.order_id)).state is OrderState.CANCELLED
    with pytest.raises(BrokerError, match="no order"):
        await broker.cancel("999")


@on_loop
async def test_bracket_target_fill_cancels_the_stop(broker: IBBroker, gateway: FakeGateway) -> None:
    mid = gateway.quote("EURUSD").mid
    request = BracketRequest(
        "b-1", "EURUSD", Side.BUY, 10_000, stop=round(mid - 0.005, 5), target=round(mid + 0.005, 5)
    )
    entry, target, stop = await broker.place_bracket(request)
    assert entry.state is OrderState.FILLED
    assert (target.order_type, target.side, target.parent_id) == (OrderType.LIMIT, Side.SELL, entry.order_id)
    assert (stop.order_type, stop.stop_price, stop.parent_id) == (OrderType.STOP, request.stop, entry.order_id)
    await eventually(lambda: len(gateway.open_orders()) == 2, "both children working")

    gateway.set_price("EURUSD", round(mid + 0.006, 5))

    expected = {
        entry.order_id: OrderState.FILLED,
        target.order_id: OrderState.FILLED,
        stop.order_id: OrderState.CANCELLED,
    }

    async def settled() -> bool:
        return {o.order_id: o.state for o in await broker.orders_by_ref("b-1")} == expected

    await eventually(settled, "the target fill and the OCA cancel of the stop")
    assert gateway.positions() == [] and gateway.open_orders() == []


@on_loop
async def test_rejected_order_raises_a_broker_error_naming_ibs_reason(broker: IBBroker, gateway: FakeGateway) -> None:
    gateway.reject_next_order("Insufficient margin")
    with pytest.raises(IBError, match="Insufficient margin") as caught:
        await broker.place_order(market("r-1"))
    assert caught.value.code == 201
    [order] = await broker.orders_by_ref("r-1")
    assert order.state is OrderState.REJECTED and "Insufficient margin" in order.reason
    assert gateway.positions() == []


# connection loss ------------------------------------------------------------------------------


@on_loop
async def test_orders_are_found_by_ref_again_after_the_gateway_drops_and_the_adapter_reconnects(
    broker: IBBroker, gateway: FakeGateway, drops: list[str]
) -> None:
    filled = await broker.place_order(market("f-1"))
    working = await broker.place_order(
        OrderRequest("w-1", "EURUSD", Side.BUY, 10_000, OrderType.LIMIT, limit_price=1.0)
    )
    mid = gateway.quote("EURUSD").mid
    bracket = await broker.place_bracket(
        BracketRequest("b-2", "EURUSD", Side.BUY, 10_000, stop=round(mid - 0.01, 5), target=round(mid + 0.01, 5))
    )

    await drop_and_reconnect(broker, gateway)

    assert drops == ["IB Gateway closed the connection"]
    assert broker.link().state is LinkState.CONNECTED
    [again_filled] = await broker.orders_by_ref("f-1")
    [again_working] = await broker.orders_by_ref("w-1")
    assert (again_filled.order_id, again_filled.state, again_filled.filled) == (
        filled.order_id,
        OrderState.FILLED,
        10_000,
    )
    assert (again_working.order_id, again_working.state) == (working.order_id, OrderState.WORKING)
    assert sorted(f.order_id for f in await broker.fills()) == sorted([filled.order_id, bracket[0].order_id])
    # The filled entry comes back without its per-session id; its working children still name it.
    rebuilt = {o.order_id: o for o in await broker.orders_by_ref("b-2")}
    assert [(rebuilt[o.order_id].state, rebuilt[o.order_id].parent_id) for o in bracket] == [
        (OrderState.FILLED, None),
        (OrderState.WORKING, bracket[0].order_id),
        (OrderState.WORKING, bracket[0].order_id),
    ]
    # The rebuilt order can still be cancelled: the session after the drop owns it.
    assert (await broker.cancel(working.order_id)).state is OrderState.CANCELLED


@on_loop
async def test_an_order_dropped_before_its_acknowledgement_is_found_by_ref_and_never_sent_twice(
    broker: IBBroker, gateway: FakeGateway, drops: list[str]
) -> None:
    gateway.drop_after_next_order()
    with pytest.raises(BrokerUnavailable, match=r"dropped.*orders_by_ref\('intent-42'\)"):
        await broker.place_order(market("intent-42"))
    assert broker.link().state is LinkState.DISCONNECTED and len(drops) == 1

    await broker.connect()

    [order] = await broker.orders_by_ref("intent-42")
    assert (order.state, order.filled) == (OrderState.FILLED, 10_000)
    # A retry looks first, finds the order, and sends nothing: the gateway saw exactly one.
    assert gateway.order_refs().count("intent-42") == 1


@on_loop
async def test_every_call_while_disconnected_raises_broker_unavailable(broker: IBBroker, gateway: FakeGateway) -> None:
    gateway.drop_all_clients()
    await eventually(lambda: broker.link().state is LinkState.DISCONNECTED, "the adapter to see the drop")
    bracket = BracketRequest("b-x", "EURUSD", Side.BUY, 10_000, stop=1.0, target=1.2)
    calls = [
        broker.managed_accounts(),
        broker.account(),
        broker.positions(),
        broker.open_orders(),
        broker.fills(),
        broker.quote("EURUSD"),
        broker.place_order(market("x-1")),
        broker.place_bracket(bracket),
        broker.orders_by_ref("x-1"),
        broker.cancel("1"),
    ]
    for call in calls:
        with pytest.raises(BrokerUnavailable, match="not connected"):
            await call
    assert "x-1" not in gateway.order_refs()


@on_loop
async def test_a_refused_connection_is_broker_unavailable(gateway: FakeGateway) -> None:
    gateway.refuse_connections(30)
    broker = IBBroker(Mode.PAPER, HOST, gateway.port, client_id=2, timeout=CALL_TIMEOUT)
    with pytest.raises(BrokerUnavailable, match=f"{HOST}:{gateway.port}"):
        await broker.connect()
    assert broker.link().state is LinkState.DISCONNECTED


@on_loop
async def test_a_silent_gateway_times_out_while_the_loop_keeps_running() -> None:
    """The adapter waits on the loop, never on a blocking call: a heartbeat keeps beating meanwhile."""
    closed = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers the handshake
        writer.close()
        await writer.wait_closed()
        closed.set()

    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            await asyncio.sleep(0.01)
            beats += 1

    server = await asyncio.start_server(silent, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    broker = IBBroker(Mode.PAPER, HOST, port, timeout=0.3, messages_per_second=None)
    beating = asyncio.create_task(heartbeat())
    started = time.monotonic()
    try:
        with pytest.raises(BrokerUnavailable, match="no answer"):
            await broker.connect()
    finally:
        beating.cancel()
        server.close()
    elapsed = time.monotonic() - started
    await asyncio.wait_for(closed.wait(), 1.0)
    await server.wait_closed()
    assert 0.3 <= elapsed < 1.5  # the adapter's bound, with room for a loaded machine
    assert beats >= 10


# pacing ---------------------------------------------------------------------------------------


@on_loop
async def test_ibs_pacing_error_100_becomes_a_pacing_violation() -> None:
    async with FakeGateway(accounts=[ACCOUNT], max_messages_per_second=8) as gateway:
        # The adapter's own pacer is off, so the burst reaches the gateway's limit.
        broker = IBBroker(Mode.PAPER, HOST, gateway.port, timeout=CALL_TIMEOUT, messages_per_second=None)
        await broker.connect()
        try:
            with pytest.raises(PacingViolation, match="Max rate of messages") as caught:
                for pair in ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCAD", "NZDUSD"]:
                    await broker.quote(pair)
            assert caught.value.code == 100
        finally:
            await broker.disconnect()


def test_message_pacer_delays_a_burst_instead_of_exceeding_its_rate() -> None:
    now = 0.0

    async def sleep(seconds: float) -> None:
        nonlocal now
        now += seconds

    pacer = MessagePacer(rate=10, burst=2, clock=lambda: now, sleep=sleep)
    sent: list[float] = []

    async def burst() -> None:
        for _ in range(32):
            await pacer.acquire()
            sent.append(now)

    asyncio.run(burst())
    busiest = max(sum(1 for t in sent if start <= t < start + 1.0 - 1e-9) for start in sent)
    assert busiest <= 12  # burst + rate
    assert sent[-1] == pytest.approx(3.0) and pacer.waited == pytest.approx(3.0)


def test_pacing_settings_beyond_ibs_limit_and_a_mock_mode_are_refused() -> None:
    with pytest.raises(ValueError, match="50"):
        IBBroker(Mode.PAPER, messages_per_second=48, message_burst=5)
    with pytest.raises(ValueError, match="PAPER and LIVE"):
        IBBroker(Mode.MOCK)


# translation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_code", "state"),
    [
        ("PendingSubmit", None, OrderState.PENDING),
        ("ApiPending", None, OrderState.PENDING),
        ("PreSubmitted", None, OrderState.HELD),
        ("Submitted", None, OrderState.WORKING),
        ("PendingCancel", None, OrderState.WORKING),
        ("Filled", None, OrderState.FILLED),
        ("Cancelled", None, OrderState.CANCELLED),
        ("Cancelled", 202, OrderState.CANCELLED),
        ("ApiCancelled", None, OrderState.CANCELLED),
        ("Cancelled", 201, OrderState.REJECTED),
        ("Inactive", None, OrderState.REJECTED),
        ("SomethingNew", None, OrderState.PENDING),
    ],
)
def test_ib_status_strings_map_to_our_order_states(status: str, error_code: int | None, state: OrderState) -> None:
    assert translate.order_state(status, error_code) is state


def test_a_bracket_is_entry_target_and_stop_sharing_the_ref_with_only_the_stop_transmitting() -> None:
    request = BracketRequest("b-7", "EURUSD", Side.BUY, 10_000, stop=1.08, target=1.09)
    entry, target, stop = translate.bracket_orders(iblib, request, ACCOUNT, (11, 12, 13))
    assert [o.orderType for o in (entry, target, stop)] == ["MKT", "LMT", "STP"]
    assert [o.action for o in (entry, target, stop)] == ["BUY", "SELL", "SELL"]
    assert [o.orderId for o in (entry, target, stop)] == [11, 12, 13]
    assert [o.parentId for o in (entry, target, stop)] == [0, 11, 11]
    assert [o.transmit for o in (entry, target, stop)] == [False, False, True]
    assert {o.orderRef for o in (entry, target, stop)} == {"b-7"}
    assert {o.account for o in (entry, target, stop)} == {ACCOUNT}
    assert target.ocaGroup == stop.ocaGroup != "" and entry.ocaGroup == ""
    assert (target.lmtPrice, stop.auxPrice) == (1.09, 1.08)
    limit_entry = translate.bracket_orders(
        iblib, BracketRequest("b-8", "EURUSD", Side.SELL, 5, 1.1, 1.0, 1.05), "", (1, 2, 3)
    )
    assert (limit_entry[0].orderType, limit_entry[0].lmtPrice, limit_entry[2].action) == ("LMT", 1.05, "BUY")


def test_fx_contracts_are_idealpro_cash_in_units() -> None:
    contract = translate.fx_contract(iblib, "usd/jpy")
    assert (contract.secType, contract.exchange, contract.symbol, contract.currency) == (
        "CASH",
        "IDEALPRO",
        "USD",
        "JPY",
    )
    order = translate.single_order(
        iblib, OrderRequest("s-1", "USDJPY", Side.SELL, 25_000, OrderType.STOP, stop_price=150.0), ACCOUNT
    )
    assert (order.orderType, order.totalQuantity, order.auxPrice, order.orderRef) == ("STP", 25_000, 150.0, "s-1")
    with pytest.raises(ValueError, match="limit_price"):
        translate.single_order(iblib, OrderRequest("s-2", "USDJPY", Side.SELL, 1, OrderType.LIMIT), ACCOUNT)
