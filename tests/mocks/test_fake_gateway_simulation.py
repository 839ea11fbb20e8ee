"""The fake gateway's simulated market, ledger and order book, without a network."""

from __future__ import annotations

import pytest

from mocks.fake_ib_gateway.book import (
    CANCELLED,
    FILLED,
    PRE_SUBMITTED,
    SUBMITTED,
    Book,
    OrderCancelled,
    OrderError,
    OrderFilled,
    OrderTicket,
)
from mocks.fake_ib_gateway.instruments import FX_PAIRS, ContractSpec, lookup
from mocks.fake_ib_gateway.ledger import Ledger
from mocks.fake_ib_gateway.market import Market
from mocks.fake_ib_gateway.pacing import PacingGate
from mocks.fake_ib_gateway.wire import (
    SERVER_VERSION,
    ProtocolError,
    decode_fields,
    encode_fields,
    negotiate_version,
    parse_version_range,
)

ACCOUNT = "DU123456"
EURUSD = ContractSpec(symbol="EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD")


def fixed_clock() -> float:
    return 1_750_000_000.0


def make_book(seed: int = 3) -> tuple[Book, Market, Ledger]:
    market = Market(seed=seed)
    ledger = Ledger([ACCOUNT], 1_000_000.0)
    return Book(market, ledger, fixed_clock), market, ledger


def ticket(
    order_id: int,
    action: str = "BUY",
    order_type: str = "MKT",
    qty: float = 10_000,
    *,
    lmt: float | None = None,
    aux: float | None = None,
    parent: int = 0,
    transmit: bool = True,
    ref: str = "",
    tif: str = "DAY",
) -> OrderTicket:
    return OrderTicket(1, order_id, EURUSD, action, qty, order_type, lmt, aux, tif, "", "", ref, transmit, parent)


# market ---------------------------------------------------------------------------------------


def test_same_seed_gives_the_same_prices_and_bars() -> None:
    a, b = Market(seed=11), Market(seed=11)
    a.step(100)
    b.step(100)
    assert [a.quote(p) for p in a.pairs] == [b.quote(p) for p in b.pairs]
    assert a.bars("EURUSD", 1_750_000_000, 3600, 24) == b.bars("EURUSD", 1_750_000_000, 3600, 24)


def test_different_seeds_walk_differently() -> None:
    a, b = Market(seed=1), Market(seed=2)
    a.step(100)
    b.step(100)
    assert a.quote("EURUSD") != b.quote("EURUSD")


def test_quotes_sit_half_a_spread_around_the_mid_on_the_tick_grid() -> None:
    market = Market(seed=0, spread_pips=2.0)
    quote = market.set_price("USDJPY", 151.2345)
    assert (quote.bid, quote.ask) == (151.225, 151.245)
    assert quote.bid_size > 0 and quote.ask_size > 0


def test_jump_price_moves_the_mid_by_whole_pips() -> None:
    market = Market(seed=0)
    before = market.mid("GBPUSD")
    market.jump_price("GBPUSD", -25)
    assert market.mid("GBPUSD") == pytest.approx(before - 0.0025)


def test_bars_end_at_the_current_mid_and_are_aligned_to_the_bar_size() -> None:
    market = Market(seed=5)
    bars = market.bars("AUDUSD", 1_750_003_599, 3600, 5)
    assert bars[-1].close == market.mid("AUDUSD")
    # The last bar is the one that holds the end time; the others precede it back to back.
    assert [b.start for b in bars] == [1_750_003_200 - 3600 * k for k in (4, 3, 2, 1, 0)]
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars)


# instruments and wire -------------------------------------------------------------------------


def test_contracts_resolve_by_symbol_local_symbol_or_con_id_and_reject_others() -> None:
    eur = FX_PAIRS["EURUSD"]
    assert lookup(EURUSD) is eur
    assert lookup(ContractSpec(local_symbol="EUR.USD")) is eur
    assert lookup(ContractSpec(con_id=eur.con_id)) is eur
    assert lookup(ContractSpec(con_id=eur.con_id, symbol="GBP")) is None
    assert lookup(ContractSpec(symbol="EUR", currency="SEK")) is None
    assert lookup(ContractSpec(symbol="EUR", currency="USD", sec_type="STK")) is None


def test_frames_round_trip_with_flags_as_digits_and_unset_as_empty() -> None:
    frame = encode_fields([3, "EUR", 1.5, True, None])
    assert decode_fields(frame[4:]) == ["3", "EUR", "1.5", "1", ""]
    assert int.from_bytes(frame[:4], "big") == len(frame) - 4


def test_version_176_is_negotiated_and_older_clients_are_refused() -> None:
    assert parse_version_range("v157..178 +PACEAPI") == (157, 178)
    assert negotiate_version(157, 178) == SERVER_VERSION
    assert negotiate_version(157, 176) == SERVER_VERSION
    with pytest.raises(ProtocolError):
        negotiate_version(100, 151)


# ledger ---------------------------------------------------------------------------------------


def test_closing_a_position_realizes_pnl_and_flipping_resets_the_average_cost() -> None:
    market = Market(seed=0)
    ledger = Ledger([ACCOUNT], 1_000_000.0)
    eur = FX_PAIRS["EURUSD"]
    ledger.apply_fill(ACCOUNT, eur, 10_000, 1.1000, 2.0, market)
    ledger.apply_fill(ACCOUNT, eur, 10_000, 1.1200, 2.0, market)
    assert ledger.holding(ACCOUNT, "EURUSD").avg_cost == pytest.approx(1.1100)
    realized = ledger.apply_fill(ACCOUNT, eur, -30_000, 1.1300, 2.0, market)
    assert realized == pytest.approx(20_000 * 0.0200)
    holding = ledger.holding(ACCOUNT, "EURUSD")
    assert (holding.qty, holding.avg_cost) == (-10_000, 1.1300)


def test_net_liquidation_values_every_cash_balance_in_usd() -> None:
    market = Market(seed=0)
    market.set_price("EURUSD", 1.1000)
    ledger = Ledger([ACCOUNT], 1_000_000.0)
    ledger.apply_fill(ACCOUNT, FX_PAIRS["EURUSD"], 10_000, 1.1000, 2.0, market)
    values = {tag: value for tag, value, ccy in ledger.account_values(ACCOUNT, market) if ccy == "USD"}
    assert float(values["NetLiquidation"]) == pytest.approx(1_000_000.0 - 2.0)
    assert float(values["GrossPositionValue"]) == pytest.approx(11_000.0)
    market.set_price("EURUSD", 1.1100)
    values = {tag: value for tag, value, ccy in ledger.account_values(ACCOUNT, market) if ccy == "USD"}
    assert float(values["NetLiquidation"]) == pytest.approx(1_000_000.0 - 2.0 + 100.0)


# book -----------------------------------------------------------------------------------------


def test_untransmitted_bracket_parts_wait_for_the_transmitted_one() -> None:
    book, market, _ = make_book()
    ask = market.quote("EURUSD").ask
    assert book.place(ticket(1, order_type="LMT", lmt=ask - 0.01, transmit=False)) == []
    assert book.place(ticket(2, "SELL", "LMT", lmt=ask + 0.01, parent=1, transmit=False)) == []
    events = book.place(ticket(3, "SELL", "STP", aux=ask - 0.02, parent=1))
    assert [o.status for o in book.orders()] == [SUBMITTED, PRE_SUBMITTED, PRE_SUBMITTED]
    assert len(events) == 3


def test_a_transmitted_order_releases_only_its_own_group_and_a_closed_session_drops_what_it_held() -> None:
    book, market, _ = make_book()
    ask = market.quote("EURUSD").ask
    book.place(ticket(1, order_type="LMT", lmt=ask - 0.01, transmit=False))  # a bracket whose sender died here
    book.place(ticket(5, order_type="LMT", lmt=ask - 0.02))  # a later, unrelated order from the same client
    assert [o.order_id for o in book.orders()] == [5]
    assert [t.order_id for t in book.held()] == [1]
    assert book.drop_held(1) == 1  # client 1's session ended
    assert book.held() == []
    book.place(ticket(2, "SELL", "LMT", lmt=ask + 0.01, parent=1))  # its child, sent later, finds no parent held
    assert 1 not in [o.order_id for o in book.orders()]


def test_when_one_bracket_child_fills_its_sibling_is_cancelled() -> None:
    book, market, _ = make_book()
    book.place(ticket(1, transmit=False))
    book.place(ticket(2, "SELL", "LMT", lmt=market.mid("EURUSD") + 0.0020, parent=1, transmit=False))
    book.place(ticket(3, "SELL", "STP", aux=market.mid("EURUSD") - 0.0020, parent=1))
    assert [o.status for o in book.orders()] == [FILLED, SUBMITTED, SUBMITTED]
    market.jump_price("EURUSD", -30)
    events = book.match()
    assert [type(e) for e in events] == [OrderFilled, OrderCancelled]
    assert [o.status for o in book.orders()] == [FILLED, CANCELLED, FILLED]


def test_cancelling_a_parent_cancels_its_children() -> None:
    book, market, _ = make_book()
    book.place(ticket(1, order_type="LMT", lmt=1.0, transmit=False))
    book.place(ticket(2, "SELL", "LMT", lmt=2.0, parent=1))
    book.cancel(1, 1)
    assert [o.status for o in book.orders()] == [CANCELLED, CANCELLED]


def test_ioc_limit_that_cannot_fill_is_cancelled_at_once() -> None:
    book, _, _ = make_book()
    events = book.place(ticket(1, order_type="LMT", lmt=1.0, tif="IOC"))
    assert isinstance(events[-1], OrderCancelled)


def test_invalid_orders_are_rejected_with_ib_error_codes() -> None:
    book, _, _ = make_book()
    unknown = OrderTicket(
        1, 1, ContractSpec(symbol="EUR", currency="SEK"), "BUY", 1, "MKT", None, None, "", "", "", "", True, 0
    )
    [error] = book.place(unknown)
    assert isinstance(error, OrderError) and error.code == 200
    [error] = book.place(ticket(2, order_type="TRAIL"))
    assert isinstance(error, OrderError) and error.code == 201
    [error] = book.place(ticket(3, order_type="LMT"))
    assert isinstance(error, OrderError) and "limit price" in error.message


def test_modifying_or_cancelling_a_filled_order_is_refused() -> None:
    book, _, _ = make_book()
    book.place(ticket(1))
    [error] = book.place(ticket(1, qty=5))
    assert isinstance(error, OrderError) and error.code == 104
    [error] = book.cancel(1, 1)
    assert isinstance(error, OrderError) and error.code == 161
    [error] = book.cancel(1, 99)
    assert isinstance(error, OrderError) and error.code == 135


def test_next_valid_id_stays_above_every_id_the_client_used() -> None:
    book, _, _ = make_book()
    book.place(ticket(41, order_type="LMT", lmt=1.0))
    book.observe_id(1, 57)
    assert book.next_valid_id(1) == 58
    assert book.next_valid_id(2) == 1


def test_fills_are_stamped_with_the_injected_clock() -> None:
    book, _, _ = make_book()
    book.place(ticket(1))
    [execution] = book.executions()
    assert execution.time == fixed_clock()


# pacing ---------------------------------------------------------------------------------------


class SteppedClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pacing_admits_fifty_messages_a_second_and_refuses_the_fifty_first() -> None:
    clock = SteppedClock()
    gate = PacingGate(clock)
    assert all(gate.admit() for _ in range(50))
    assert not gate.admit()
    assert gate.error_text().startswith("Max rate of messages per second has been exceeded")
    clock.now += 1.0
    assert gate.admit()
