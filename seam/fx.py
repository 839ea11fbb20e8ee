"""Evidence arithmetic for a proposal: pips, market hours, sessions, level geometry, reward:risk and size.

Facts only, and pure: no I/O, no clock (the caller passes `now`, which must be timezone-aware), no
recommendation. The approval step puts these results in the evidence bundle a human reads before
approving. A refusal of the levels is a `GeometryError` naming the intent field at fault
(`payload.stop`, ...), so the author of the intent knows what to fix.

Prices are turned into `Decimal` through their shortest repr, so 1.0850 - 1.0820 is exactly 0.0030 here
and a size that should come out at a whole lot is not floored one lot short by binary noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from seam.broker.types import pip_size

__all__ = [
    "GeometryError",
    "MarketState",
    "Sizing",
    "check_direction",
    "check_levels",
    "check_price",
    "check_stop_side",
    "check_target_side",
    "fx_session",
    "market_open",
    "market_state",
    "pip_size",
    "pips",
    "reward_risk",
    "size_units",
]

ENTRY = "payload.entry"
STOP = "payload.stop"
TARGET = "payload.target"
DIRECTION = "payload.direction"

_FRIDAY, _SATURDAY, _SUNDAY = 4, 5, 6
_ROLLOVER = time(22, 0)  # the FX week closes Friday and opens Sunday at this UTC time
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # not strftime("%a"): that follows the locale

# (name, first UTC hour, UTC hour it ends at); start inclusive, end exclusive; Asia wraps midnight.
_SESSIONS: tuple[tuple[str, int, int], ...] = (
    ("Asia", 22, 7),
    ("London", 7, 16),
    ("New York", 12, 21),
)
WEEKEND = "closed (weekend)"
AFTER_NEW_YORK = "after New York"

_MICRO = Decimal("0.000001")
_CENT = Decimal("0.01")
# A USD-based conversion further than this from 1/entry is taken for a mistake (inverted, or 1.0 left in).
_CONVERSION_TOLERANCE = Decimal("0.10")


# ---- pips ---------------------------------------------------------------------------------------


def pips(pair: str, distance: float) -> float:
    """A price distance in pips, to 0.1 pip (half up); the sign is kept, so pass abs() for a size."""
    if not math.isfinite(distance):
        raise ValueError(f"distance must be a finite number (got {distance!r})")
    return float((_dec(distance) / _dec(pip_size(pair))).quantize(Decimal("0.1"), ROUND_HALF_UP))


# ---- market hours -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketState:
    """Open or closed at one instant under the weekend rule, and when it next opens and closes (UTC).

    Both times are always set and strictly after the instant asked about: while open, `next_close` comes
    first; while closed, `next_open` does.
    """

    is_open: bool
    reason: str
    next_open: datetime
    next_close: datetime


def market_open(now: datetime) -> bool:
    """Whether the FX market is open at `now`: closed from Friday 22:00 UTC to Sunday 22:00 UTC, else open.

    Only the weekend rule: holidays and thin liquidity around them are not modelled.
    """
    return not _in_weekend(_utc(now))


def market_state(now: datetime) -> MarketState:
    """`market_open` with its reason and the next opening and closing times."""
    t = _utc(now)
    next_open = _next_rollover(t, _SUNDAY)
    next_close = _next_rollover(t, _FRIDAY)
    if _in_weekend(t):
        reason = f"closed (weekend): FX is shut from Friday 22:00 to Sunday 22:00 UTC; opens {_when(next_open)}"
        return MarketState(is_open=False, reason=reason, next_open=next_open, next_close=next_close)
    reason = f"open: the FX week runs from Sunday 22:00 to Friday 22:00 UTC; closes {_when(next_close)}"
    return MarketState(is_open=True, reason=reason, next_open=next_open, next_close=next_close)


def fx_session(now: datetime) -> str:
    """The trading sessions active at `now`, by fixed UTC hours.

    ===============  ======================================
    UTC time         fx_session
    ===============  ======================================
    22:00 - 07:00    Asia (wraps midnight)
    07:00 - 12:00    London
    12:00 - 16:00    London + New York
    16:00 - 21:00    New York
    21:00 - 22:00    after New York
    weekend          closed (weekend)  (Fri 22:00 - Sun 22:00)
    ===============  ======================================

    Each range includes its start and excludes its end (07:00:00 is London, 06:59:59 is Asia). These
    hours are conventional approximations: they do not move with daylight saving time (London and
    New York open an hour earlier in UTC in their summers), and Sydney and Tokyo are folded into "Asia".
    """
    t = _utc(now)
    if _in_weekend(t):
        return WEEKEND
    active = [name for name, start, end in _SESSIONS if _covers(start, end, t.hour)]
    # With the hours above, the only hour no session covers is 21:00-22:00.
    return " + ".join(active) if active else AFTER_NEW_YORK


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, e.g. with tzinfo=UTC (got naive {now.isoformat()})")
    return now.astimezone(UTC)


def _in_weekend(t: datetime) -> bool:
    day, clock = t.weekday(), t.time()
    return (day == _FRIDAY and clock >= _ROLLOVER) or day == _SATURDAY or (day == _SUNDAY and clock < _ROLLOVER)


def _next_rollover(t: datetime, weekday: int) -> datetime:
    """The first 22:00 UTC on `weekday` strictly after `t`."""
    day = t.date() + timedelta(days=(weekday - t.weekday()) % 7)
    candidate = datetime.combine(day, _ROLLOVER, tzinfo=UTC)
    return candidate if candidate > t else candidate + timedelta(days=7)


def _covers(start: int, end: int, hour: int) -> bool:
    return start <= hour < end if start < end else hour >= start or hour < end


def _when(t: datetime) -> str:
    return f"{_DAY_NAMES[t.weekday()]} {t:%Y-%m-%d %H:%M} UTC"


# ---- geometry -----------------------------------------------------------------------------------


class GeometryError(ValueError):
    """Levels that cannot make a trade. `field` is the intent path at fault, `message` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_levels(direction: str, entry: float, stop: float, target: float) -> None:
    """LONG needs stop < entry < target, SHORT needs target < entry < stop; raises on the first fault."""
    check_stop_side(direction, entry, stop)
    check_target_side(direction, entry, target)


def check_direction(direction: str) -> None:
    """The direction is LONG or SHORT."""
    if direction not in ("LONG", "SHORT"):
        raise GeometryError(DIRECTION, f"the direction must be LONG or SHORT (got {direction!r})")


def check_price(field: str, price: float) -> None:
    """A level is a positive, finite price; `field` names it in the refusal."""
    if not (math.isfinite(price) and price > 0):
        name = field.rpartition(".")[2]
        raise GeometryError(field, f"the {name} must be a positive, finite price (got {price!r})")


def check_stop_side(direction: str, entry: float, stop: float) -> None:
    """A LONG's stop sits below the entry, a SHORT's above it, never on it."""
    _check_side(STOP, direction, entry, stop, below=direction == "LONG")


def check_target_side(direction: str, entry: float, target: float) -> None:
    """A LONG's target sits above the entry, a SHORT's below it, never on it."""
    _check_side(TARGET, direction, entry, target, below=direction == "SHORT")


def _check_side(field: str, direction: str, entry: float, level: float, *, below: bool) -> None:
    check_direction(direction)
    check_price(ENTRY, entry)
    check_price(field, level)
    name = field.rpartition(".")[2]
    want, wrong = ("below", "above") if below else ("above", "below")
    where = f"{name} {_price(level)}, entry {_price(entry)}"
    if level == entry:
        raise GeometryError(field, f"for a {direction} the {name} must be {want} the entry, not on it ({where})")
    if (level < entry) != below:
        raise GeometryError(field, f"for a {direction} the {name} must be {want} the entry, not {wrong} it ({where})")


def _price(value: float) -> str:
    """A price as written, padded to 4 decimals under 10 and 2 above (1.082 → 1.0820, 151.2 → 151.20)."""
    text = format(_dec(value), "f")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(4 if value < 10 else 2, '0')}"


# ---- reward:risk --------------------------------------------------------------------------------


def reward_risk(entry: float, stop: float, target: float) -> float:
    """The target's distance from the entry ÷ the stop's, to 2 decimals (half up).

    Stop and target must differ from the entry and lie on opposite sides of it.
    """
    check_price(ENTRY, entry)
    check_price(STOP, stop)
    check_price(TARGET, target)
    risk = _dec(entry) - _dec(stop)
    reward = _dec(target) - _dec(entry)
    if risk == 0:
        raise GeometryError(STOP, f"the stop must differ from the entry (both {_price(entry)})")
    if reward == 0:
        raise GeometryError(TARGET, f"the target must differ from the entry (both {_price(entry)})")
    if (risk > 0) != (reward > 0):
        where = f"stop {_price(stop)}, entry {_price(entry)}, target {_price(target)}"
        raise GeometryError(TARGET, f"the target must be on the other side of the entry from the stop ({where})")
    return float((reward / risk).quantize(_CENT, ROUND_HALF_UP))


# ---- position size ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizing:
    """A position size and what it risks.

    `units` is a whole number of lots; `risk_usd` is the loss at the stop at that size (to the cent);
    `budget_usd` is equity × risk% ÷ 100; `bound_by` lists, in plain words and in the order applied,
    each step that cut the size below what the budget alone allows (empty when none did).
    """

    units: int
    risk_usd: float
    budget_usd: float
    bound_by: tuple[str, ...]


def size_units(
    equity: float,
    risk_percent: float,
    entry: float,
    stop: float,
    pair: str,
    quote_to_usd: float,
    *,
    lot: int = 1000,
    max_units_per_order: int,
    max_total_open_risk_usd: float,
    open_risk_usd: float,
) -> Sizing:
    """Units so that a stop-out loses equity × risk% ÷ 100 USD, rounded down to whole lots, then capped.

    One unit moving by the stop distance loses that distance in the quote currency; `quote_to_usd` turns
    it into USD: 1.0 for USD-quoted pairs, 1 / price for USD-based pairs (1 / 151.2 for USDJPY at 151.2).
    Nothing is looked up. The caps, in order: `max_units_per_order`, then the total open risk after
    this trade (`open_risk_usd` plus this trade's) must stay within `max_total_open_risk_usd`, which can
    bring the size to 0.
    """
    _check_sizing_inputs(
        equity, risk_percent, pair, quote_to_usd, lot, max_units_per_order, max_total_open_risk_usd, open_risk_usd
    )
    check_price(ENTRY, entry)
    check_price(STOP, stop)
    distance = abs(_dec(entry) - _dec(stop))
    if distance == 0:
        raise GeometryError(STOP, f"the stop must differ from the entry to size a trade (both {_price(entry)})")
    _check_conversion(pair, quote_to_usd, entry)

    unit_risk = distance * _dec(quote_to_usd)  # USD lost per unit at the stop
    budget = _dec(equity) * _dec(risk_percent) / 100
    wanted = budget / unit_risk
    units = _whole_lots(wanted, lot)
    bound_by: list[str] = []
    if units < wanted.quantize(_MICRO):
        bound_by.append(f"rounded down to a multiple of {lot:,} units ({wanted:,.2f} → {units:,})")

    order_cap = _whole_lots(Decimal(max_units_per_order), lot)
    if units > order_cap:
        units = order_cap
        in_lots = f" ({order_cap:,} in whole lots)" if order_cap != max_units_per_order else ""
        bound_by.append(f"capped at risk.max_units_per_order {max_units_per_order:,}{in_lots}")

    # INV: the total open risk after this trade stays within the cap, or the size is 0.
    cap, already = _dec(max_total_open_risk_usd), _dec(open_risk_usd)
    headroom = cap - already
    if units * unit_risk > headroom:
        units = _whole_lots(headroom / unit_risk, lot) if headroom > 0 else 0
        if headroom > 0:
            bound_by.append(
                f"reduced to keep total open risk within {_usd(cap)} USD "
                f"({_usd(already)} USD already open, {_usd(headroom)} USD left)"
            )
        else:
            bound_by.append(
                f"reduced to 0 units: {_usd(already)} USD of open risk already reaches "
                f"the total open risk cap of {_usd(cap)} USD"
            )

    return Sizing(
        units=units,
        risk_usd=float((units * unit_risk).quantize(_CENT, ROUND_HALF_UP)),
        budget_usd=float(budget.quantize(_CENT, ROUND_HALF_UP)),
        bound_by=tuple(bound_by),
    )


def _check_sizing_inputs(
    equity: float,
    risk_percent: float,
    pair: str,
    quote_to_usd: float,
    lot: int,
    max_units_per_order: int,
    max_total_open_risk_usd: float,
    open_risk_usd: float,
) -> None:
    if not (len(pair) == 6 and pair.isascii() and pair.isalpha() and pair.isupper()):
        raise ValueError(f"pair must be six capital letters such as EURUSD (got {pair!r})")
    for name, value in (
        ("equity", equity),
        ("quote_to_usd", quote_to_usd),
        ("max_total_open_risk_usd", max_total_open_risk_usd),
    ):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive, finite number (got {value!r})")
    if not (math.isfinite(risk_percent) and 0 < risk_percent <= 100):
        raise ValueError(f"risk_percent must be above 0 and at most 100 (got {risk_percent!r})")
    if not (math.isfinite(open_risk_usd) and open_risk_usd >= 0):
        raise ValueError(f"open_risk_usd must be 0 or more (got {open_risk_usd!r})")
    if lot < 1:
        raise ValueError(f"lot must be at least 1 unit (got {lot!r})")
    if max_units_per_order < 0:
        raise ValueError(f"max_units_per_order must be 0 or more (got {max_units_per_order!r})")


def _check_conversion(pair: str, quote_to_usd: float, entry: float) -> None:
    """Refuse a conversion that cannot be right for the pair: sizes would be off by the price itself."""
    if pair.endswith("USD") and quote_to_usd != 1.0:
        raise ValueError(f"quote_to_usd must be 1.0 for {pair}: its P&L is already in USD (got {quote_to_usd!r})")
    if pair.startswith("USD"):
        # One unit of USD is worth `entry` units of the quote currency, so quote_to_usd ≈ 1 / entry.
        implied = _dec(quote_to_usd) * _dec(entry)
        if abs(implied - 1) > _CONVERSION_TOLERANCE:
            raise ValueError(
                f"quote_to_usd for {pair} must be about 1 / price (1 / {_price(entry)}); "
                f"got {quote_to_usd!r}, which implies a price of {1 / quote_to_usd:,.4f}"
            )


def _whole_lots(units: Decimal, lot: int) -> int:
    # The micro-unit quantize absorbs binary noise in quote_to_usd (1 / 150 is not exact), so an exact
    # 300,000 is not floored to 299,000; it moves the risk by far less than a cent.
    lots = (units.quantize(_MICRO) / lot).to_integral_value(rounding=ROUND_FLOOR)
    return int(lots) * lot


def _usd(amount: Decimal) -> str:
    text = f"{amount.quantize(_CENT, ROUND_HALF_UP):,.2f}"
    return text.removesuffix(".00")


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))
