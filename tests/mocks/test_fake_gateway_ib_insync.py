"""The fake IB Gateway as an unmodified ib_insync 0.9.86 client sees it, over real TCP.

ib_insync and ib_async cannot share a virtualenv (both install a module named ``eventkit``), so this
module is skipped in the main environment and runs in its own through ``.ci/ib_insync_leg.sh``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

ib_insync = pytest.importorskip("ib_insync")

# ib_insync is absent where mypy runs (the main venv) and ships no stubs.
from ib_insync import IB, Forex, LimitOrder, MarketOrder, Trade  # type: ignore[import-not-found]  # noqa: E402

from mocks.fake_ib_gateway import FakeGateway  # noqa: E402

from .conftest import ACCOUNT, Eventually  # noqa: E402

HOST = "127.0.0.1"
CLIENT_ID = 1
CONNECT_TIMEOUT = 2.0


@pytest.fixture
def ib(aio: asyncio.Runner, gateway: FakeGateway) -> Iterator[IB]:
    """An ib_insync client logged in to the gateway, disconnected after the test."""
    client = IB()
    aio.run(client.connectAsync(HOST, gateway.port, clientId=CLIENT_ID, timeout=CONNECT_TIMEOUT))
    yield client
    client.disconnect()


async def qualified(ib: IB, pair: str = "EURUSD") -> Forex:
    [contract] = await ib.qualifyContractsAsync(Forex(pair))
    return contract


def status(trade: Trade) -> str:
    return str(trade.orderStatus.status)


async def test_client_logs_in_and_reads_account_values_and_summary(ib: IB) -> None:
    assert ib.managedAccounts() == [ACCOUNT]
    values = {v.tag: v.value for v in ib.accountValues() if v.currency == "USD"}
    assert float(values["NetLiquidation"]) == 1_000_000.0
    summary = {v.tag: v.value for v in await ib.accountSummaryAsync()}
    assert float(summary["BuyingPower"]) > 1_000_000.0


async def test_known_pairs_qualify_and_an_unknown_one_does_not(ib: IB) -> None:
    contracts = await ib.qualifyContractsAsync(Forex("USDJPY"), Forex("EURSEK"), Forex("NZDUSD"))
    # ib_insync drops the contracts it could not qualify.
    assert [c.localSymbol for c in contracts] == ["USD.JPY", "NZD.USD"]
    assert all(c.conId > 0 for c in contracts)


async def test_market_buy_fills_with_a_commission_report_and_a_position(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    ask = gateway.quote("EURUSD").ask
    trade = ib.placeOrder(contract, MarketOrder("BUY", 20_000))
    await eventually(lambda: trade.fills and trade.fills[0].commissionReport.commission > 0, what="commission")
    assert status(trade) == "Filled"
    assert trade.fills[0].execution.price == ask
    await eventually(lambda: ib.positions(), what="position update")
    assert ib.positions()[0].position == 20_000


async def test_limit_order_away_from_the_market_works_until_cancelled(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    trade = ib.placeOrder(contract, LimitOrder("BUY", 10_000, 1.0))
    await eventually(lambda: status(trade) == "Submitted", what="working order")
    ib.cancelOrder(trade.order)
    await eventually(lambda: status(trade) == "Cancelled", what="cancel")
    assert gateway.open_orders() == []


async def test_bracket_take_profit_fills_after_set_price_and_the_stop_is_cancelled(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    bracket = ib.bracketOrder("BUY", 10_000, gateway.quote("EURUSD").ask, 1.0900, 1.0800)
    parent, take_profit, stop_loss = (ib.placeOrder(contract, o) for o in bracket)
    await eventually(lambda: status(parent) == "Filled" and status(stop_loss) == "Submitted", what="children")
    gateway.set_price("EURUSD", 1.0910)
    await eventually(lambda: status(take_profit) == "Filled" and status(stop_loss) == "Cancelled", what="OCA")
    assert gateway.positions() == []


async def test_quotes_stream_and_bars_arrive(ib: IB, gateway: FakeGateway, eventually: Eventually) -> None:
    contract = await qualified(ib, "GBPUSD")
    ticker = ib.reqMktData(contract)
    await eventually(lambda: ticker.bid > 0 and ticker.bidSize > 0, what="first quote")
    gateway.advance(50)
    expected = gateway.quote("GBPUSD")
    await eventually(lambda: ticker.bid == expected.bid, what="streamed quote")
    bars = await ib.reqHistoricalDataAsync(contract, "", "2 D", "1 day", "MIDPOINT", useRTH=False)
    assert len(bars) == 2 and bars[-1].close == expected.mid


async def test_reconnect_after_the_server_drops_everyone_rebuilds_trades_and_fills(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    filled = ib.placeOrder(contract, MarketOrder("BUY", 20_000, orderRef="fill-1"))
    working = ib.placeOrder(contract, LimitOrder("BUY", 10_000, 1.0, orderRef="work-1"))
    await eventually(lambda: filled.fills and status(working) == "Submitted", what="orders settled")
    gateway.drop_all_clients()
    await eventually(lambda: not ib.isConnected(), what="socket close")
    await ib.connectAsync(HOST, gateway.port, clientId=CLIENT_ID, timeout=CONNECT_TIMEOUT)
    by_ref = {t.order.orderRef: t for t in ib.trades()}
    assert status(by_ref["fill-1"]) == "Filled" and status(by_ref["work-1"]) == "Submitted"
    assert [f.execution.execId for f in ib.fills()] == [filled.fills[0].execution.execId]


async def test_order_dropped_before_its_acknowledgement_is_found_by_order_ref_after_reconnect(
    ib: IB, gateway: FakeGateway, eventually: Eventually
) -> None:
    contract = await qualified(ib)
    gateway.drop_after_next_order()
    ib.placeOrder(contract, LimitOrder("SELL", 10_000, 2.0, orderRef="intent-7"))
    await eventually(lambda: not ib.isConnected(), what="socket close")
    await ib.connectAsync(HOST, gateway.port, clientId=CLIENT_ID, timeout=CONNECT_TIMEOUT)
    [trade] = [t for t in ib.trades() if t.order.orderRef == "intent-7"]
    assert status(trade) == "Submitted"
    assert gateway.order_refs() == ["intent-7"]


async def test_second_session_with_a_client_id_in_use_gets_error_326(ib: IB, gateway: FakeGateway) -> None:
    intruder = IB()
    codes: list[int] = []
    intruder.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    with pytest.raises((TimeoutError, ConnectionError)):
        await intruder.connectAsync(HOST, gateway.port, clientId=CLIENT_ID, timeout=0.5)
    assert 326 in codes
    assert ib.isConnected()
