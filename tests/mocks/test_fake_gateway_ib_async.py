"""The fake IB Gateway as an unmodified ib_async client sees it, over real TCP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

ib_async = pytest.importorskip("ib_async")

from ib_async import IB, Contract, Forex, LimitOrder, MarketOrder, StopOrder, Trade  # noqa: E402

from mocks.fake_ib_gateway import FakeGateway  # noqa: E402

from .conftest import ACCOUNT, Eventually  # noqa: E402

HOST = "127.0.0.1"
CLIENT_ID = 1
CONNECT_TIMEOUT = 2.0


@pytest.fixture
def ib(aio: asyncio.Runner, gateway: FakeGateway) -> Iterator[IB]:
    """An ib_async client logged in to the gateway, disconnected after the test."""
    client = IB()
    aio.run(client.connectAsync(HOST, gateway.port, clientId=CLIENT_ID, timeout=CONNECT_TIMEOUT))
    yield client
    client.disconnect()


async def qualified(ib: IB, pair: str = "EURUSD") -> Contract:
    [contract] = await ib.qualifyContractsAsync(Forex(pair))
    assert isinstance(contract, Contract)
    return contract


async def reconnect(ib: IB, gateway: FakeGateway, eventually: Eventually) -> None:
    await eventually(lambda: not ib.isConnected(), what="the client to see the socket close")
    await ib.connectAsync(HOST, gateway.port, clientId=CLIENT_ID, timeout=CONNECT_TIMEOUT)


def status(trade: Trade) -> str:
    return trade.orderStatus.status


# login and accounts ---------------------------------------------------------------------------


async def test_client_logs_in_and_sees_the_managed_account_and_its_values(ib: IB) -> None:
    assert ib.managedAccounts() == [ACCOUNT]
    values = {v.tag: v for v in ib.accountValues() if v.currency == "USD"}
    assert float(values["NetLiquidation"].value) == 1_000_000.0
    assert float(values["BuyingPower"].value) > 1_000_000.0
    assert ib.positions() == []


async def test_account_summary_reports_net_liquidation_and_buying_power(ib: IB) -> None:
    summary = {v.tag: v for v in await ib.accountSummaryAsync()}
    assert summary["NetLiquidation"].value == "1000000.00"
    assert summary["NetLiquidation"].currency == "USD"
    assert float(summary["AvailableFunds"].value) == 1_000_000.0
    assert {"TotalCashValue", "BuyingPower", "ExcessLiquidity", "InitMarginReq"} <= set(summary)


async def test_second_session_with_a_client_id_in_use_gets_error_326_and_is_closed(
    ib: IB, gateway: FakeGateway
) -> None:
    intruder = IB()
    codes: list[int] = []
    intruder.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    # ib_async only gives up at its own timeout once the server has closed the socket.
    with pytest.raises(TimeoutError):
        await intruder.connectAsync(HOST, gateway.port, clientId=CLIENT_ID, timeout=0.5)
    assert 326 in codes
    assert ib.isConnected()
    assert gateway.client_ids() == [CLIENT_ID]


# contracts and market data --------------------------------------------------------------------


async def test_all_six_pairs_qualify_as_idealpro_cash_contracts(ib: IB) -> None:
    pairs = ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCAD", "NZDUSD"]
    results = await ib.qualifyContractsAsync(*[Forex(p) for p in pairs])
    contracts = [c for c in results if isinstance(c, Contract)]
    assert len(contracts) == 6 and all(c.conId > 0 for c in contracts)
    assert {(c.secType, c.exchange) for c in contracts} == {("CASH", "IDEALPRO")}
    assert [c.localSymbol for c in contracts] == [
        "EUR.USD",
        "GBP.USD",
        "USD.JPY",
        "AUD.USD",
        "USD.CAD",
        "NZD.USD",
    ]


async def test_unknown_pair_is_not_qualified_and_gets_error_200(ib: IB) -> None:
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    assert await ib.qualifyContractsAsync(Forex("EURSEK")) == [None]
    assert codes == [200]


async def test_quotes_stream_with_positive_sizes_and_follow_the_random_walk(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    ticker = ib.reqMktData(contract)
    await eventually(lambda: ticker.bid > 0, what="first quote")
    assert ticker.bidSize > 0 and ticker.askSize > 0
    assert ticker.ask > ticker.bid
    first_bid = ticker.bid
    gateway.advance(50)
    expected = gateway.quote("EURUSD")
    assert expected.bid != first_bid
    await eventually(lambda: ticker.bid == expected.bid and ticker.ask == expected.ask, what="streamed quote")


async def test_historical_midpoint_bars_end_at_the_current_mid(ib: IB, gateway: FakeGateway) -> None:
    contract = await qualified(ib, "USDJPY")
    bars = await ib.reqHistoricalDataAsync(contract, "", "1 D", "1 hour", "MIDPOINT", useRTH=False)
    assert len(bars) == 24
    assert bars[-1].close == gateway.quote("USDJPY").mid
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    assert bars[0].date < bars[-1].date


# orders ---------------------------------------------------------------------------------------


async def test_market_buy_fills_at_the_ask_with_a_commission_report_and_a_position(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    ask = gateway.quote("EURUSD").ask
    trade = ib.placeOrder(contract, MarketOrder("BUY", 20_000))
    await eventually(lambda: trade.fills and trade.fills[0].commissionReport.commission > 0, what="commission")
    assert status(trade) == "Filled"
    fill = trade.fills[0]
    assert (fill.execution.side, fill.execution.shares, fill.execution.price) == ("BOT", 20_000, ask)
    assert fill.commissionReport.currency == "USD"
    await eventually(lambda: ib.positions(), what="position update")
    [position] = ib.positions()
    assert (position.contract.conId, position.position, position.avgCost) == (contract.conId, 20_000, ask)
    await eventually(lambda: ib.portfolio(), what="portfolio update")
    assert ib.portfolio()[0].position == 20_000


async def test_limit_order_away_from_the_market_works_until_cancelled(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    trade = ib.placeOrder(contract, LimitOrder("BUY", 10_000, 1.0))
    await eventually(lambda: status(trade) == "Submitted", what="working order")
    assert len(gateway.open_orders()) == 1
    ib.cancelOrder(trade.order)
    await eventually(lambda: status(trade) == "Cancelled", what="cancel")
    assert gateway.open_orders() == []
    assert trade.fills == []


async def test_modifying_a_limit_through_the_market_fills_it(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    order = LimitOrder("SELL", 10_000, 2.0)
    trade = ib.placeOrder(contract, order)
    await eventually(lambda: status(trade) == "Submitted", what="working order")
    order.lmtPrice = 1.0
    ib.placeOrder(contract, order)
    await eventually(lambda: status(trade) == "Filled", what="fill after modify")
    assert trade.fills[0].execution.price == gateway.quote("EURUSD").bid


async def test_stop_fills_at_the_gapped_price_after_jump_price(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    stop_level = round(gateway.quote("EURUSD").bid - 0.0010, 5)
    trade = ib.placeOrder(contract, StopOrder("SELL", 10_000, stop_level))
    await eventually(lambda: status(trade) == "Submitted", what="working stop")
    gateway.jump_price("EURUSD", -30)
    await eventually(lambda: status(trade) == "Filled", what="stop fill")
    assert trade.fills[0].execution.price == gateway.quote("EURUSD").bid < stop_level


async def test_bracket_take_profit_fills_after_set_price_and_the_stop_is_cancelled(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    quote = gateway.quote("EURUSD")
    bracket = ib.bracketOrder("BUY", 10_000, quote.ask, takeProfitPrice=1.0900, stopLossPrice=1.0800)
    parent, take_profit, stop_loss = (ib.placeOrder(contract, o) for o in bracket)
    await eventually(
        lambda: status(parent) == "Filled" and status(take_profit) == "Submitted",
        what="parent fill releasing the children",
    )
    assert status(stop_loss) == "Submitted"
    gateway.set_price("EURUSD", 1.0910)
    await eventually(
        lambda: status(take_profit) == "Filled" and status(stop_loss) == "Cancelled",
        what="take-profit fill and OCA cancel",
    )
    assert take_profit.fills[0].execution.price >= 1.0900
    assert gateway.positions() == []


async def test_global_cancel_cancels_every_working_order(ib: IB, gateway: FakeGateway, eventually: Eventually) -> None:
    contract = await qualified(ib)
    trades = [ib.placeOrder(contract, LimitOrder("BUY", 10_000, price)) for price in (1.0, 1.01)]
    await eventually(lambda: all(status(t) == "Submitted" for t in trades), what="working orders")
    ib.reqGlobalCancel()  # type: ignore[no-untyped-call]  # ib_async leaves it unannotated
    await eventually(lambda: all(status(t) == "Cancelled" for t in trades), what="global cancel")
    assert gateway.open_orders() == []


async def test_armed_rejection_cancels_the_order_with_error_201_and_books_nothing(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    gateway.reject_next_order("Insufficient margin")
    trade = ib.placeOrder(contract, MarketOrder("BUY", 10_000))
    await eventually(lambda: status(trade) == "Cancelled", what="rejection")
    assert trade.log[-1].errorCode == 201
    assert "Insufficient margin" in trade.log[-1].message
    assert gateway.positions() == [] and gateway.executions() == []
    assert len(gateway.orders_received) == 1


async def test_what_if_order_reports_its_margin_impact_and_books_nothing(ib: IB, gateway: FakeGateway) -> None:
    contract = await qualified(ib)
    state = await ib.whatIfOrderAsync(contract, MarketOrder("BUY", 100_000))
    notional_usd = 100_000 * gateway.quote("EURUSD").mid
    assert float(state.initMarginChange) == pytest.approx(notional_usd * 0.03, rel=1e-3)
    assert state.commission > 0 and state.commissionCurrency == "USD"
    assert gateway.orders_received == [] and gateway.positions() == []
    assert ib.trades() == []


async def test_injected_position_shows_up_in_positions(ib: IB, gateway: FakeGateway, eventually: Eventually) -> None:
    gateway.inject_position(ACCOUNT, "GBPUSD", -5_000, 1.2650)
    await eventually(lambda: ib.positions(), what="pushed position")
    [position] = ib.positions()
    assert (position.contract.symbol, position.position, position.avgCost) == ("GBP", -5_000, 1.2650)
    assert ib.trades() == []


# pacing ---------------------------------------------------------------------------------------


async def test_burst_over_fifty_messages_a_second_gets_pacing_error_100_instead_of_service(
    ib: IB, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, c: errors.append((code, text))
    # Switch off ib_async's own throttle (45 a second) so the burst reaches the gateway.
    ib.client.MaxRequests = 0
    results = await asyncio.gather(*[ib.reqContractDetailsAsync(contract) for _ in range(60)])
    served = sum(1 for details in results if details)
    paced = [text for code, text in errors if code == 100]
    assert paced and served < 60
    assert served + len(paced) == 60
    assert paced[0].startswith("Max rate of messages per second has been exceeded")


# connection loss ------------------------------------------------------------------------------


async def test_reconnect_after_the_server_drops_everyone_rebuilds_trades_and_fills(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    filled = ib.placeOrder(contract, MarketOrder("BUY", 20_000, orderRef="fill-1"))
    working = ib.placeOrder(contract, LimitOrder("BUY", 10_000, 1.0, orderRef="work-1"))
    await eventually(lambda: filled.fills and status(working) == "Submitted", what="orders settled")
    disconnected: list[bool] = []
    ib.disconnectedEvent += lambda: disconnected.append(True)

    assert gateway.drop_all_clients() == 1
    await reconnect(ib, gateway, eventually)

    assert disconnected == [True]
    by_ref = {t.order.orderRef: t for t in ib.trades()}
    assert status(by_ref["fill-1"]) == "Filled"
    assert status(by_ref["work-1"]) == "Submitted"
    assert by_ref["work-1"].order.orderId == working.order.orderId
    [fill] = ib.fills()
    assert fill.execution.execId == filled.fills[0].execution.execId
    assert fill.commissionReport.commission == filled.fills[0].commissionReport.commission
    assert by_ref["fill-1"].fills == [fill]


async def test_order_dropped_before_its_acknowledgement_is_found_by_order_ref_after_reconnect(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    gateway.drop_after_next_order()
    ib.placeOrder(contract, MarketOrder("BUY", 10_000, orderRef="intent-42"))
    await reconnect(ib, gateway, eventually)

    matches = [t for t in ib.trades() if t.order.orderRef == "intent-42"]
    assert len(matches) == 1
    assert status(matches[0]) == "Filled" and len(matches[0].fills) == 1
    assert gateway.order_refs() == ["intent-42"]


async def test_restart_keeps_positions_and_accepts_the_client_again(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    trade = ib.placeOrder(contract, MarketOrder("SELL", 30_000))
    await eventually(lambda: status(trade) == "Filled", what="fill")
    await gateway.restart()
    await reconnect(ib, gateway, eventually)
    [position] = ib.positions()
    assert position.position == -30_000


async def test_refused_connections_are_refused_until_the_gateway_listens_again(ib: IB, gateway: FakeGateway) -> None:
    gateway.refuse_connections(30)
    other = IB()
    with pytest.raises(ConnectionRefusedError):
        await other.connectAsync(HOST, gateway.port, clientId=2, timeout=CONNECT_TIMEOUT)
    assert ib.isConnected()
    await gateway.resume_connections()
    await other.connectAsync(HOST, gateway.port, clientId=2, timeout=CONNECT_TIMEOUT)
    assert gateway.client_ids() == [CLIENT_ID, 2]
    other.disconnect()
