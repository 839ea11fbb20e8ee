"""Evidence arithmetic: the weekend rule at its edges, sessions by UTC hour, every level refusal, and sizes
worked out by hand."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from seam.fx import (
    GeometryError,
    MarketState,
    Sizing,
    check_levels,
    fx_session,
    market_open,
    market_state,
    pip_size,
    pips,
    reward_risk,
    size_units,
)

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # hypothesis is not among the test extras; the property tests skip without it
    HAVE_HYPOTHESIS = False
else:
    HAVE_HYPOTHESIS = True

# The week these tests live in: Friday 2026-11-20 to Friday 2026-11-27.
FRI, SAT, SUN, MON = 20, 21, 22, 23


def utc(day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, micro, tzinfo=UTC)


def sized(
    equity: float,
    risk_percent: float,
    entry: float,
    stop: float,
    pair: str = "EURUSD",
    quote_to_usd: float = 1.0,
    *,
    max_units: int = 10_000_000,
    max_total: float = 1_000_000.0,
    open_risk: float = 0.0,
) -> Sizing:
    """size_units with caps roomy enough not to bind unless a test sets them."""
    return size_units(
        equity,
        risk_percent,
        entry,
        stop,
        pair,
        quote_to_usd,
        max_units_per_order=max_units,
        max_total_open_risk_usd=max_total,
        open_risk_usd=open_risk,
    )


# ---- pips ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pair", "size"), [("EURUSD", 0.0001), ("GBPUSD", 0.0001), ("USDCAD", 0.0001), ("USDJPY", 0.01)]
)
def test_a_pip_is_a_hundredth_for_yen_pairs_and_a_ten_thousandth_otherwise(pair: str, size: float) -> None:
    assert pip_size(pair) == size


@pytest.mark.parametrize(
    ("pair", "distance", "expected"),
    [
        pytest.param("EURUSD", 0.0030, 30.0, id="thirty-pips"),
        pytest.param("EURUSD", 1.0850 - 1.0820, 30.0, id="float-noise-of-a-subtraction"),
        pytest.param("EURUSD", 0.00015, 1.5, id="tenth-of-a-pip"),
        pytest.param("EURUSD", 0.000123, 1.2, id="rounded-to-a-tenth"),
        pytest.param("EURUSD", 0.00125 / 10, 1.3, id="half-rounds-up"),
        pytest.param("USDJPY", 0.50, 50.0, id="yen"),
        pytest.param("USDJPY", -0.125, -12.5, id="sign-kept"),
    ],
)
def test_pips_converts_a_price_distance_to_tenths_of_a_pip(pair: str, distance: float, expected: float) -> None:
    assert pips(pair, distance) == expected


def test_pips_refuses_a_distance_that_is_not_a_number() -> None:
    with pytest.raises(ValueError, match="finite"):
        pips("EURUSD", math.nan)


# ---- market hours -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "is_open"),
    [
        pytest.param(utc(19, 12), True, id="thu-noon"),
        pytest.param(utc(FRI, 21, 59, 59), True, id="fri-21:59:59"),
        pytest.param(utc(FRI, 21, 59, 59, 999_999), True, id="fri-last-microsecond"),
        pytest.param(utc(FRI, 22), False, id="fri-22:00:00"),
        pytest.param(utc(FRI, 23, 30), False, id="fri-23:30"),
        pytest.param(utc(SAT, 0), False, id="sat-midnight"),
        pytest.param(utc(SAT, 12), False, id="sat-noon"),
        pytest.param(utc(SUN, 0), False, id="sun-midnight"),
        pytest.param(utc(SUN, 21, 59, 59), False, id="sun-21:59:59"),
        pytest.param(utc(SUN, 22), True, id="sun-22:00:00"),
        pytest.param(utc(MON, 0), True, id="mon-midnight"),
        pytest.param(utc(MON, 9), True, id="mon-09:00"),
    ],
)
def test_the_market_is_closed_from_friday_22_to_sunday_22_utc(now: datetime, is_open: bool) -> None:
    assert market_open(now) is is_open
    assert market_state(now).is_open is is_open


@pytest.mark.parametrize(
    ("now", "is_open"),
    [
        # Saturday 00:30 in UTC+3 is still Friday 21:30 UTC: open.
        pytest.param(datetime(2026, 11, SAT, 0, 30, tzinfo=timezone(timedelta(hours=3))), True, id="sat-local-fri-utc"),
        # Sunday 17:30 at UTC-5 (New York in winter) is Sunday 22:30 UTC: open.
        pytest.param(datetime(2026, 11, SUN, 17, 30, tzinfo=timezone(timedelta(hours=-5))), True, id="sun-ny-evening"),
        # Friday 17:30 at UTC-5 is Friday 22:30 UTC: closed.
        pytest.param(datetime(2026, 11, FRI, 17, 30, tzinfo=timezone(timedelta(hours=-5))), False, id="fri-ny-close"),
    ],
)
def test_a_time_with_another_offset_is_judged_in_utc(now: datetime, is_open: bool) -> None:
    assert market_open(now) is is_open


def test_an_open_market_names_the_coming_friday_close() -> None:
    state = market_state(utc(MON, 9))
    assert state == MarketState(
        is_open=True,
        reason="open: the FX week runs from Sunday 22:00 to Friday 22:00 UTC; closes Fri 2026-11-27 22:00 UTC",
        next_open=utc(29, 22),
        next_close=utc(27, 22),
    )


def test_a_closed_market_names_the_sunday_open() -> None:
    state = market_state(utc(SAT, 12))
    assert state == MarketState(
        is_open=False,
        reason="closed (weekend): FX is shut from Friday 22:00 to Sunday 22:00 UTC; opens Sun 2026-11-22 22:00 UTC",
        next_open=utc(SUN, 22),
        next_close=utc(27, 22),
    )


@pytest.mark.parametrize(
    ("now", "next_open", "next_close"),
    [
        pytest.param(utc(FRI, 21, 59, 59), utc(SUN, 22), utc(FRI, 22), id="a-second-before-the-close"),
        pytest.param(utc(FRI, 22), utc(SUN, 22), utc(27, 22), id="at-the-close"),
        pytest.param(utc(SUN, 21, 59, 59), utc(SUN, 22), utc(27, 22), id="a-second-before-the-open"),
        pytest.param(utc(SUN, 22), utc(29, 22), utc(27, 22), id="at-the-open"),
    ],
)
def test_the_next_open_and_close_are_strictly_after_now(
    now: datetime, next_open: datetime, next_close: datetime
) -> None:
    state = market_state(now)
    assert (state.next_open, state.next_close) == (next_open, next_close)


def test_market_state_times_are_in_utc_whatever_offset_was_given() -> None:
    state = market_state(datetime(2026, 11, MON, 9, tzinfo=timezone(timedelta(hours=9))))
    assert state.next_close.utcoffset() == timedelta(0)
    assert state.next_close == utc(27, 22)


@pytest.mark.parametrize("judge", [market_open, market_state, fx_session])
def test_a_naive_datetime_is_refused(judge: Callable[[datetime], object]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        judge(datetime(2026, 11, MON, 9))


# ---- sessions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "session"),
    [
        pytest.param(utc(SUN, 22), "Asia", id="sun-22:00-the-week-opens-in-asia"),
        pytest.param(utc(SUN, 23, 30), "Asia", id="sun-23:30"),
        pytest.param(utc(MON, 0), "Asia", id="mon-00:00-after-the-midnight-wrap"),
        pytest.param(utc(MON, 3), "Asia", id="mon-03:00"),
        pytest.param(utc(MON, 6, 59, 59), "Asia", id="mon-06:59:59"),
        pytest.param(utc(MON, 7), "London", id="mon-07:00"),
        pytest.param(utc(MON, 11, 59, 59), "London", id="mon-11:59:59"),
        pytest.param(utc(MON, 12), "London + New York", id="mon-12:00"),
        pytest.param(utc(MON, 14), "London + New York", id="mon-14:00"),
        pytest.param(utc(MON, 15, 59, 59), "London + New York", id="mon-15:59:59"),
        pytest.param(utc(MON, 16), "New York", id="mon-16:00"),
        pytest.param(utc(MON, 20, 59, 59), "New York", id="mon-20:59:59"),
        pytest.param(utc(MON, 21), "after New York", id="mon-21:00"),
        pytest.param(utc(MON, 21, 59, 59), "after New York", id="mon-21:59:59"),
        pytest.param(utc(MON, 22), "Asia", id="mon-22:00"),
        pytest.param(utc(FRI, 21, 30), "after New York", id="fri-21:30"),
        pytest.param(utc(FRI, 22), "closed (weekend)", id="fri-22:00"),
        pytest.param(utc(SAT, 12), "closed (weekend)", id="sat-noon"),
        pytest.param(utc(SUN, 21, 59, 59), "closed (weekend)", id="sun-21:59:59"),
    ],
)
def test_the_session_follows_the_utc_hour(now: datetime, session: str) -> None:
    assert fx_session(now) == session


def test_the_session_of_a_time_with_an_offset_is_read_in_utc() -> None:
    # 09:00 in UTC+9 (Tokyo) is 00:00 UTC.
    assert fx_session(datetime(2026, 11, MON, 9, tzinfo=timezone(timedelta(hours=9)))) == "Asia"


# ---- geometry -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "entry", "stop", "target"),
    [
        pytest.param("LONG", 1.0850, 1.0820, 1.0910, id="long"),
        pytest.param("SHORT", 1.0850, 1.0880, 1.0790, id="short"),
        pytest.param("LONG", 151.20, 150.70, 152.45, id="long-yen"),
    ],
)
def test_levels_on_the_right_sides_of_the_entry_pass(direction: str, entry: float, stop: float, target: float) -> None:
    check_levels(direction, entry, stop, target)


@pytest.mark.parametrize(
    ("direction", "entry", "stop", "target", "field", "message"),
    [
        pytest.param(
            "LONG",
            1.0850,
            1.0880,
            1.0910,
            "payload.stop",
            "for a LONG the stop must be below the entry, not above it (stop 1.0880, entry 1.0850)",
            id="long-stop-above",
        ),
        pytest.param(
            "LONG",
            1.0850,
            1.0850,
            1.0910,
            "payload.stop",
            "for a LONG the stop must be below the entry, not on it (stop 1.0850, entry 1.0850)",
            id="long-stop-on-entry",
        ),
        pytest.param(
            "LONG",
            1.0850,
            1.0820,
            1.0800,
            "payload.target",
            "for a LONG the target must be above the entry, not below it (target 1.0800, entry 1.0850)",
            id="long-target-below",
        ),
        pytest.param(
            "LONG",
            1.0850,
            1.0820,
            1.0850,
            "payload.target",
            "for a LONG the target must be above the entry, not on it (target 1.0850, entry 1.0850)",
            id="long-target-on-entry",
        ),
        pytest.param(
            "SHORT",
            1.0850,
            1.0820,
            1.0800,
            "payload.stop",
            "for a SHORT the stop must be above the entry, not below it (stop 1.0820, entry 1.0850)",
            id="short-stop-below",
        ),
        pytest.param(
            "SHORT",
            1.0850,
            1.0850,
            1.0800,
            "payload.stop",
            "for a SHORT the stop must be above the entry, not on it (stop 1.0850, entry 1.0850)",
            id="short-stop-on-entry",
        ),
        pytest.param(
            "SHORT",
            1.0850,
            1.0880,
            1.0900,
            "payload.target",
            "for a SHORT the target must be below the entry, not above it (target 1.0900, entry 1.0850)",
            id="short-target-above",
        ),
        pytest.param(
            "SHORT",
            1.0850,
            1.0880,
            1.0850,
            "payload.target",
            "for a SHORT the target must be below the entry, not on it (target 1.0850, entry 1.0850)",
            id="short-target-on-entry",
        ),
        pytest.param(
            "LONG",
            151.2,
            151.5,
            152.0,
            "payload.stop",
            "for a LONG the stop must be below the entry, not above it (stop 151.50, entry 151.20)",
            id="yen-prices-shown-to-two-decimals",
        ),
        pytest.param(
            "UP",
            1.0850,
            1.0820,
            1.0910,
            "payload.direction",
            "the direction must be LONG or SHORT (got 'UP')",
            id="unknown-direction",
        ),
        pytest.param(
            "LONG",
            0.0,
            1.0820,
            1.0910,
            "payload.entry",
            "the entry must be a positive, finite price (got 0.0)",
            id="zero-entry",
        ),
        pytest.param(
            "LONG",
            1.0850,
            math.nan,
            1.0910,
            "payload.stop",
            "the stop must be a positive, finite price (got nan)",
            id="nan-stop",
        ),
        pytest.param(
            "LONG",
            1.0850,
            1.0820,
            -1.0,
            "payload.target",
            "the target must be a positive, finite price (got -1.0)",
            id="negative-target",
        ),
    ],
)
def test_levels_that_cannot_make_a_trade_are_refused_naming_the_field(
    direction: str, entry: float, stop: float, target: float, field: str, message: str
) -> None:
    with pytest.raises(GeometryError) as caught:
        check_levels(direction, entry, stop, target)
    assert (caught.value.field, caught.value.message) == (field, message)
    assert str(caught.value) == f"{field}: {message}"


def test_a_geometry_error_is_a_value_error() -> None:
    assert issubclass(GeometryError, ValueError)


# ---- reward:risk --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "stop", "target", "expected"),
    [
        pytest.param(1.0850, 1.0820, 1.0910, 2.0, id="long-60-over-30"),
        pytest.param(1.0850, 1.0880, 1.0805, 1.5, id="short-45-over-30"),
        pytest.param(151.20, 150.70, 152.45, 2.5, id="yen-1.25-over-0.50"),
        pytest.param(1.0850, 1.0820, 1.0890, 1.33, id="40-over-30-to-two-decimals"),
        pytest.param(1.0000, 0.9992, 1.0017, 2.13, id="17-over-8-is-2.125-rounded-half-up"),
    ],
)
def test_reward_risk_is_the_target_distance_over_the_stop_distance(
    entry: float, stop: float, target: float, expected: float
) -> None:
    assert reward_risk(entry, stop, target) == expected


@pytest.mark.parametrize(
    ("entry", "stop", "target", "field", "message"),
    [
        pytest.param(
            1.0850,
            1.0850,
            1.0910,
            "payload.stop",
            "the stop must differ from the entry (both 1.0850)",
            id="stop-on-entry",
        ),
        pytest.param(
            1.0850,
            1.0820,
            1.0850,
            "payload.target",
            "the target must differ from the entry (both 1.0850)",
            id="target-on-entry",
        ),
        pytest.param(
            1.0850,
            1.0820,
            1.0830,
            "payload.target",
            "the target must be on the other side of the entry from the stop "
            "(stop 1.0820, entry 1.0850, target 1.0830)",
            id="same-side",
        ),
        pytest.param(
            1.0850,
            1.0820,
            math.inf,
            "payload.target",
            "the target must be a positive, finite price (got inf)",
            id="infinite-target",
        ),
    ],
)
def test_reward_risk_refuses_levels_it_cannot_measure(
    entry: float, stop: float, target: float, field: str, message: str
) -> None:
    with pytest.raises(GeometryError) as caught:
        reward_risk(entry, stop, target)
    assert (caught.value.field, caught.value.message) == (field, message)


# ---- position size ------------------------------------------------------------------------------


def test_a_eurusd_size_risks_the_budget_when_it_falls_on_a_whole_lot() -> None:
    # budget: 25,000 × 1.5 ÷ 100 = 375 USD; stop distance 1.0850 − 1.0820 = 0.0030 USD per unit
    # units: 375 ÷ 0.0030 = 125,000 (a whole number of 1,000-unit lots); risk 125,000 × 0.0030 = 375.00
    assert sized(25_000, 1.5, 1.0850, 1.0820) == Sizing(units=125_000, risk_usd=375.0, budget_usd=375.0, bound_by=())


def test_a_size_is_rounded_down_to_a_whole_thousand_units() -> None:
    # budget: 10,000 × 1 ÷ 100 = 100 USD; units: 100 ÷ 0.0030 = 33,333.33 → 33,000
    # risk: 33,000 × 0.0030 = 99.00 USD
    assert sized(10_000, 1.0, 1.0850, 1.0820) == Sizing(
        units=33_000,
        risk_usd=99.0,
        budget_usd=100.0,
        bound_by=("rounded down to a multiple of 1,000 units (33,333.33 → 33,000)",),
    )


def test_a_usdjpy_size_converts_the_yen_risk_to_usd_at_the_current_price() -> None:
    # budget: 100,000 × 1 ÷ 100 = 1,000 USD; stop distance 151.20 − 150.70 = 0.50 JPY per unit
    # one unit's risk in USD: 0.50 × (1 ÷ 151.2) = 0.0033069 USD
    # units: 1,000 ÷ (0.50 ÷ 151.2) = 1,000 × 151.2 ÷ 0.50 = 302,400 → 302,000
    # risk: 302,000 × 0.50 ÷ 151.2 = 151,000 ÷ 151.2 = 998.677… → 998.68 USD
    assert sized(100_000, 1.0, 151.20, 150.70, "USDJPY", 1 / 151.2) == Sizing(
        units=302_000,
        risk_usd=998.68,
        budget_usd=1000.0,
        bound_by=("rounded down to a multiple of 1,000 units (302,400.00 → 302,000)",),
    )


def test_a_usdjpy_size_that_is_a_whole_lot_is_not_floored_by_binary_noise() -> None:
    # 1 ÷ 150 has no exact binary form; the size must still come out at the exact lot.
    # budget: 90,000 × 1 ÷ 100 = 900 USD; units: 900 × 150 ÷ 0.50 = 270,000; risk 270,000 × 0.50 ÷ 150 = 900.00
    assert sized(90_000, 1.0, 150.00, 149.50, "USDJPY", 1 / 150) == Sizing(
        units=270_000,
        risk_usd=900.0,
        budget_usd=900.0,
        bound_by=(),
    )


def test_a_short_usdcad_size_uses_the_stop_distance_above_the_entry() -> None:
    # budget: 20,000 × 1 ÷ 100 = 200 USD; stop distance 1.3890 − 1.3850 = 0.0040 CAD per unit
    # units: 200 × 1.385 ÷ 0.0040 = 69,250 → 69,000; risk 69,000 × 0.0040 ÷ 1.385 = 276 ÷ 1.385 = 199.278… → 199.28
    assert sized(20_000, 1.0, 1.3850, 1.3890, "USDCAD", 1 / 1.385) == Sizing(
        units=69_000,
        risk_usd=199.28,
        budget_usd=200.0,
        bound_by=("rounded down to a multiple of 1,000 units (69,250.00 → 69,000)",),
    )


def test_the_per_order_cap_binds_a_large_size() -> None:
    # budget: 100,000 × 1 ÷ 100 = 1,000 USD; units 1,000 ÷ 0.0030 = 333,333.33 → 333,000 → capped at 200,000
    # risk: 200,000 × 0.0030 = 600.00 USD
    assert sized(100_000, 1.0, 1.0850, 1.0820, max_units=200_000) == Sizing(
        units=200_000,
        risk_usd=600.0,
        budget_usd=1000.0,
        bound_by=(
            "rounded down to a multiple of 1,000 units (333,333.33 → 333,000)",
            "capped at risk.max_units_per_order 200,000",
        ),
    )


def test_a_per_order_cap_that_is_not_a_whole_lot_caps_at_the_lot_below_it() -> None:
    # units 125,000 (see the first EURUSD test); cap 100,500 → 100 whole lots = 100,000; risk 100,000 × 0.0030 = 300
    result = sized(25_000, 1.5, 1.0850, 1.0820, max_units=100_500)
    assert (result.units, result.risk_usd) == (100_000, 300.0)
    assert result.bound_by == ("capped at risk.max_units_per_order 100,500 (100,000 in whole lots)",)


def test_the_total_open_risk_cap_reduces_the_size_to_fit() -> None:
    # budget: 1,000 USD → 333,000 units; cap 2,000 USD with 1,500 already open leaves 500 USD
    # units: 500 ÷ 0.0030 = 166,666.67 → 166,000; risk 166,000 × 0.0030 = 498.00; total 1,998 ≤ 2,000
    assert sized(100_000, 1.0, 1.0850, 1.0820, max_total=2_000, open_risk=1_500) == Sizing(
        units=166_000,
        risk_usd=498.0,
        budget_usd=1000.0,
        bound_by=(
            "rounded down to a multiple of 1,000 units (333,333.33 → 333,000)",
            "reduced to keep total open risk within 2,000 USD (1,500 USD already open, 500 USD left)",
        ),
    )


def test_both_caps_bind_in_order_per_order_first() -> None:
    # 333,000 → capped at 200,000 (600 USD of risk) → only 500 USD left under the total cap → 166,000
    result = sized(100_000, 1.0, 1.0850, 1.0820, max_units=200_000, max_total=2_000, open_risk=1_500)
    assert (result.units, result.risk_usd) == (166_000, 498.0)
    assert [reason.split(" ")[0] for reason in result.bound_by] == ["rounded", "capped", "reduced"]


@pytest.mark.parametrize(("open_risk", "shown"), [(2_000.0, "2,000"), (2_250.5, "2,250.50")])
def test_the_size_is_zero_when_the_total_open_risk_cap_is_already_used_up(open_risk: float, shown: str) -> None:
    result = sized(100_000, 1.0, 1.0850, 1.0820, max_total=2_000, open_risk=open_risk)
    assert (result.units, result.risk_usd) == (0, 0.0)
    assert result.bound_by[-1] == (
        f"reduced to 0 units: {shown} USD of open risk already reaches the total open risk cap of 2,000 USD"
    )


def test_the_size_is_zero_when_less_than_one_lot_fits_under_the_total_cap() -> None:
    # 2 USD left; one lot risks 1,000 × 0.0030 = 3 USD
    result = sized(100_000, 1.0, 1.0850, 1.0820, max_total=2_000, open_risk=1_998)
    assert result.units == 0
    assert result.bound_by[-1] == (
        "reduced to keep total open risk within 2,000 USD (1,998 USD already open, 2 USD left)"
    )


@pytest.mark.parametrize(("entry", "stop"), [(1.0850, 1.0850), (151.2, 151.2)])
def test_a_zero_stop_distance_cannot_be_sized(entry: float, stop: float) -> None:
    with pytest.raises(GeometryError) as caught:
        sized(100_000, 1.0, entry, stop)
    assert caught.value.field == "payload.stop"
    assert caught.value.message.startswith("the stop must differ from the entry to size a trade")


def test_a_stop_that_is_not_a_price_cannot_be_sized() -> None:
    with pytest.raises(GeometryError) as caught:
        sized(100_000, 1.0, 1.0850, -1.0)
    assert caught.value.field == "payload.stop"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        pytest.param({"equity": 0.0}, "equity", id="zero-equity"),
        pytest.param({"equity": -5_000.0}, "equity", id="negative-equity"),
        pytest.param({"equity": math.nan}, "equity", id="nan-equity"),
        pytest.param({"risk_percent": 0.0}, "risk_percent", id="zero-risk"),
        pytest.param({"risk_percent": 150.0}, "risk_percent", id="risk-over-100"),
        pytest.param({"quote_to_usd": 0.0}, "quote_to_usd", id="zero-conversion"),
        pytest.param({"quote_to_usd": 0.9}, "quote_to_usd must be 1.0 for EURUSD", id="usd-quote-not-one"),
        pytest.param(
            {"pair": "USDJPY", "entry": 151.2, "stop": 150.7, "quote_to_usd": 151.2},
            "quote_to_usd for USDJPY must be about 1 / price",
            id="yen-conversion-inverted",
        ),
        pytest.param(
            {"pair": "USDJPY", "entry": 151.2, "stop": 150.7, "quote_to_usd": 1.0},
            "quote_to_usd for USDJPY must be about 1 / price",
            id="yen-conversion-left-at-one",
        ),
        pytest.param({"pair": "eurusd"}, "pair", id="lowercase-pair"),
        pytest.param({"lot": 0}, "lot", id="zero-lot"),
        pytest.param({"max_units_per_order": -1}, "max_units_per_order", id="negative-order-cap"),
        pytest.param({"max_total_open_risk_usd": 0.0}, "max_total_open_risk_usd", id="zero-total-cap"),
        pytest.param({"open_risk_usd": -1.0}, "open_risk_usd", id="negative-open-risk"),
    ],
)
def test_sizing_refuses_arguments_that_cannot_be_right(changes: dict[str, object], named: str) -> None:
    arguments: dict[str, object] = {
        "equity": 100_000.0,
        "risk_percent": 1.0,
        "entry": 1.0850,
        "stop": 1.0820,
        "pair": "EURUSD",
        "quote_to_usd": 1.0,
        "lot": 1000,
        "max_units_per_order": 200_000,
        "max_total_open_risk_usd": 2_000.0,
        "open_risk_usd": 0.0,
    } | changes
    with pytest.raises(ValueError, match=named) as caught:
        size_units(**arguments)  # type: ignore[arg-type]
    assert not isinstance(caught.value, GeometryError)


def test_a_usdjpy_conversion_near_one_over_the_entry_is_accepted() -> None:
    # The current price may differ a little from the entry (a limit order); 1 / 152.0 against an entry of 151.2
    assert sized(100_000, 1.0, 151.20, 150.70, "USDJPY", 1 / 152.0).units > 0


# ---- properties ---------------------------------------------------------------------------------

if HAVE_HYPOTHESIS:
    _pure = settings(database=None, deadline=None, max_examples=150)  # database=None: write nothing to disk

    _BOOKS = st.sampled_from([("EURUSD", 1.0850, False), ("USDJPY", 151.20, True), ("USDCAD", 1.3850, True)])

    @_pure
    @given(
        book=_BOOKS,
        equity=st.floats(1_000, 5_000_000),
        risk_percent=st.floats(0.5, 2.5),
        stop_pips=st.integers(1, 500),
        stop_below=st.booleans(),
        max_units=st.integers(0, 2_000_000),
        max_total=st.floats(1, 50_000),
        open_risk=st.floats(0, 60_000),
    )
    def test_a_size_is_whole_lots_within_every_cap_and_as_large_as_they_allow(
        book: tuple[str, float, bool],
        equity: float,
        risk_percent: float,
        stop_pips: int,
        stop_below: bool,
        max_units: int,
        max_total: float,
        open_risk: float,
    ) -> None:
        pair, entry, usd_base = book
        distance = stop_pips * pip_size(pair)
        stop = entry - distance if stop_below else entry + distance
        quote_to_usd = 1 / entry if usd_base else 1.0
        result = size_units(
            equity,
            risk_percent,
            entry,
            stop,
            pair,
            quote_to_usd,
            max_units_per_order=max_units,
            max_total_open_risk_usd=max_total,
            open_risk_usd=open_risk,
        )
        assert result.units % 1000 == 0
        assert 0 <= result.units <= max_units
        assert result.risk_usd <= result.budget_usd + 0.01
        assert result.units == 0 or open_risk + result.risk_usd <= max_total + 0.01
        # Rounded down, never further: one more lot would break the budget or a cap.
        more = result.units + 1000
        more_risk = more * distance * quote_to_usd
        room = min(result.budget_usd, max_total - open_risk)
        assert more > max_units or more_risk > room * (1 - 1e-9)

    @_pure
    @given(
        moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
        offset_minutes=st.integers(-12 * 60, 14 * 60),
    )
    def test_market_hours_and_sessions_agree_and_change_exactly_when_announced(
        moment: datetime, offset_minutes: int
    ) -> None:
        now = moment.replace(tzinfo=UTC).astimezone(timezone(timedelta(minutes=offset_minutes)))
        state = market_state(now)
        assert state.is_open is market_open(now) is (fx_session(now) != "closed (weekend)")
        assert state.next_open > now and state.next_close > now
        change = state.next_close if state.is_open else state.next_open
        assert market_open(change - timedelta(microseconds=1)) is state.is_open
        assert market_open(change) is not state.is_open

    @_pure
    @given(st.lists(st.floats(0.01, 10_000), min_size=3, max_size=3, unique=True))
    def test_ordered_levels_pass_for_their_direction_and_fail_for_the_other(levels: list[float]) -> None:
        low, mid, high = sorted(levels)
        check_levels("LONG", mid, low, high)
        check_levels("SHORT", mid, high, low)
        with pytest.raises(GeometryError) as caught:
            check_levels("SHORT", mid, low, high)
        assert caught.value.field == "payload.stop"

else:

    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_property_checks_need_hypothesis() -> None:
        """Stands in for the property tests so their absence shows in the report."""
