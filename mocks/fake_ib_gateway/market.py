"""Simulated FX market: a seeded random walk per pair, a fixed spread, and deterministic bar history.

Given the same seed and the same sequence of calls, every quote and bar is the same: the walk only
moves when ``step`` is called (by a test, or by the gateway's real-time ticker).
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass

from .instruments import FX_PAIRS, Instrument, instrument

logger = logging.getLogger(__name__)

# Quote sizes must be positive: ib_async turns a bid or ask of size 0 into NaN.
DEFAULT_QUOTE_SIZE = 1_000_000.0
# One walk step is about as long as the CLI ticker's default interval.
STEP_SECONDS = 1.0


@dataclass(frozen=True)
class Quote:
    """Top of book for one pair."""

    pair: str
    bid: float
    ask: float
    bid_size: float
    ask_size: float
    mid: float


@dataclass(frozen=True)
class Bar:
    """One OHLC bar; ``start`` is its opening time in epoch seconds."""

    start: int
    open: float
    high: float
    low: float
    close: float


class Market:
    """Mid prices per pair that walk randomly; bid and ask sit half a spread either side."""

    def __init__(
        self,
        seed: int = 0,
        spread_pips: float = 1.0,
        volatility_pips: float = 0.5,
        quote_size: float = DEFAULT_QUOTE_SIZE,
    ) -> None:
        if spread_pips <= 0 or volatility_pips < 0 or quote_size <= 0:
            raise ValueError("spread and quote size must be positive, volatility not negative")
        self._seed = seed
        self._rng = random.Random(seed)
        self._spread_pips = spread_pips
        self._volatility_pips = volatility_pips
        self._quote_size = quote_size
        self._mids = {pair: inst.start_price for pair, inst in FX_PAIRS.items()}

    @property
    def pairs(self) -> list[str]:
        return list(self._mids)

    def mid(self, pair: str) -> float:
        return self._mids[instrument(pair).pair]

    def quote(self, pair: str) -> Quote:
        inst = instrument(pair)
        mid = self._mids[inst.pair]
        half = self._spread_pips * inst.pip / 2
        return Quote(
            pair=inst.pair,
            bid=inst.round_price(mid - half),
            ask=inst.round_price(mid + half),
            bid_size=self._quote_size,
            ask_size=self._quote_size,
            mid=mid,
        )

    def step(self, steps: int = 1) -> list[str]:
        """Advance every pair's walk ``steps`` times; return the pairs whose price changed."""
        if steps < 0:
            raise ValueError("steps must not be negative")
        before = dict(self._mids)
        for _ in range(steps):
            for inst in FX_PAIRS.values():
                move = self._rng.gauss(0.0, self._volatility_pips * inst.pip)
                self._mids[inst.pair] = self._bounded(inst, self._mids[inst.pair] + move)
        return [pair for pair, mid in self._mids.items() if mid != before[pair]]

    def set_price(self, pair: str, price: float) -> Quote:
        """Put a pair's mid at ``price`` (snapped to the tick grid)."""
        if price <= 0:
            raise ValueError("price must be positive")
        inst = instrument(pair)
        self._mids[inst.pair] = self._bounded(inst, price)
        return self.quote(inst.pair)

    def jump_price(self, pair: str, pips: float) -> Quote:
        """Move a pair's mid by ``pips`` at once, as a gap would."""
        inst = instrument(pair)
        return self.set_price(inst.pair, self._mids[inst.pair] + pips * inst.pip)

    def usd_per_unit(self, currency: str) -> float:
        """How many USD one unit of ``currency`` is worth at current mids."""
        if currency == "USD":
            return 1.0
        for inst in FX_PAIRS.values():
            if inst.base == currency and inst.quote == "USD":
                return self._mids[inst.pair]
            if inst.quote == currency and inst.base == "USD":
                return 1.0 / self._mids[inst.pair]
        raise KeyError(f"no USD rate for {currency}")

    def bars(self, pair: str, end: float, bar_seconds: int, count: int) -> list[Bar]:
        """``count`` midpoint bars of ``bar_seconds`` ending with the bar that holds ``end``.

        The history is walked backwards from the current mid so the last close is today's price; it
        is seeded by the request, so asking twice gives the same bars.
        """
        inst = instrument(pair)
        rng = random.Random(f"{self._seed}:{inst.pair}:{int(end)}:{bar_seconds}:{count}")
        sigma = self._bar_sigma(inst, bar_seconds)
        closes = [self._mids[inst.pair]]
        for _ in range(count):
            closes.append(self._bounded(inst, closes[-1] - rng.gauss(0.0, sigma)))
        closes.reverse()  # closes[0] is the open of the first bar
        last_start = int(end // bar_seconds) * bar_seconds
        first_start = last_start - (count - 1) * bar_seconds
        return [
            self._bar(inst, rng, sigma, first_start + i * bar_seconds, closes[i], closes[i + 1]) for i in range(count)
        ]

    def _bar_sigma(self, inst: Instrument, bar_seconds: int) -> float:
        # Random-walk scaling: spread of a bar grows with the square root of its length.
        steps = max(bar_seconds / STEP_SECONDS, 1.0)
        return max(self._volatility_pips, 0.1) * inst.pip * math.sqrt(steps)

    def _bar(self, inst: Instrument, rng: random.Random, sigma: float, start: int, open_: float, close: float) -> Bar:
        wick_up = abs(rng.gauss(0.0, sigma / 2))
        wick_down = abs(rng.gauss(0.0, sigma / 2))
        return Bar(
            start=start,
            open=inst.round_price(open_),
            high=inst.round_price(max(open_, close) + wick_up),
            low=self._bounded(inst, min(open_, close) - wick_down),
            close=inst.round_price(close),
        )

    @staticmethod
    def _bounded(inst: Instrument, price: float) -> float:
        # A walk must never reach zero or below: keep at least a hundred ticks.
        return inst.round_price(max(price, 100 * inst.min_tick))
