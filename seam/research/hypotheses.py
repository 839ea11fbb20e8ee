"""Registered hypotheses: each turns bars and one set of parameters into trades, vectorized with numpy.

A hypothesis only finds entries (bar, direction, entry price, stop, target); `simulate` walks every trade
forward the same way for all of them. The rules every trade follows, said in each hunt's answer:
- a trade enters at its entry price on its entry bar; its exit is looked for from the next bar on (a
  retest entry also checks its stop on the entry bar itself);
- in a bar that touches both the stop and the target, the stop counts; a bar that opens beyond a level (a
  gap) fills at its open;
- a trade that has touched neither after `max_hold` bars exits at that bar's close;
- trades may overlap; no spread, commission or slippage is charged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from seam.research.bars import Bars

__all__ = ["HYPOTHESES", "Entries", "Hypothesis", "Param", "Trades", "simulate"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Param:
    name: str
    default: float
    low: float
    high: float
    integer: bool
    meaning: str


@dataclass(frozen=True)
class Entries:
    index: IntArray  # entry bar
    direction: FloatArray  # +1 long, -1 short
    price: FloatArray
    stop: FloatArray
    target: FloatArray
    stop_on_entry_bar: bool = False


@dataclass(frozen=True)
class Trades:
    index: IntArray
    direction: FloatArray
    pips: FloatArray
    r: FloatArray


@dataclass(frozen=True)
class Hypothesis:
    name: str
    description: str
    params: tuple[Param, ...]
    entries: Callable[[Bars, Mapping[str, float]], Entries]

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def trades(self, bars: Bars, values: Mapping[str, float]) -> Trades:
        return simulate(bars, self.entries(bars, values), int(values["max_hold"]))


_EMPTY_I = np.zeros(0, dtype=np.int64)
_EMPTY_F = np.zeros(0, dtype=np.float64)
_BLOCK = 16  # bars per block of the forward walk


def _first_true(mask: npt.NDArray[np.bool_]) -> IntArray:
    """Per row, the column of the first True, or -1."""
    first = mask.argmax(axis=1)
    return np.where(mask[np.arange(len(mask)), first], first, -1).astype(np.int64)


class _Walk:
    """Finds each trade's first bar that touches its stop or its target, looking at blocks of bars first."""

    def __init__(self, bars: Bars, e: Entries, long: bool) -> None:
        self.bars, self.e, self.long = bars, e, long
        self.block_low, self.block_high = bars.blocks(_BLOCK)

    def _touches(self, rows: IntArray, low: FloatArray, high: FloatArray) -> npt.NDArray[np.bool_]:
        stop, target = self.e.stop[rows, None], self.e.target[rows, None]
        if self.long:
            touched: npt.NDArray[np.bool_] = (low <= stop) | (high >= target)
        else:
            touched = (high >= stop) | (low <= target)
        return touched

    def _scan(self, rows: IntArray, first: IntArray, count: IntArray) -> IntArray:
        """The first touching bar among `count` bars from `first` (count < _BLOCK + 1), or -1."""
        cols = first[:, None] + np.arange(_BLOCK)
        valid = np.arange(_BLOCK) < count[:, None]
        cols = np.minimum(cols, len(self.bars) - 1)
        mask = self._touches(rows, self.bars.low[cols], self.bars.high[cols]) & valid
        at = _first_true(mask)
        return np.where(at >= 0, cols[np.arange(len(rows)), np.maximum(at, 0)], -1)

    def first_touch(self, rows: IntArray, first: IntArray, last: IntArray) -> IntArray:
        """Per trade, the first bar in [first, last] touching its stop or target, or -1."""
        found = np.full(len(rows), -1, dtype=np.int64)
        head_end = np.minimum(last, (first // _BLOCK + 1) * _BLOCK - 1)
        found[:] = self._scan(rows, first, np.maximum(head_end - first + 1, 0))
        # whole blocks between the head and the tail: a block touches iff one of its bars does
        block_first, block_last = head_end // _BLOCK + 1, (last + 1) // _BLOCK - 1
        block_last = np.minimum(block_last, len(self.block_low) - 1)
        todo = np.flatnonzero((found < 0) & (block_last >= block_first))
        if todo.size:
            width = int(np.max(block_last[todo] - block_first[todo])) + 1
            blocks = block_first[todo, None] + np.arange(width)
            valid = blocks <= block_last[todo, None]
            blocks = np.minimum(blocks, len(self.block_low) - 1)
            mask = self._touches(rows[todo], self.block_low[blocks], self.block_high[blocks]) & valid
            at = _first_true(mask)
            hit = at >= 0
            block = blocks[np.arange(len(todo)), np.maximum(at, 0)][hit]
            found[todo[hit]] = self._scan(rows[todo[hit]], block * _BLOCK, np.full(len(block), _BLOCK))
        # the tail: bars after the last whole block
        tail_first = np.maximum(np.maximum(block_last, head_end // _BLOCK) + 1, 0) * _BLOCK
        tail_first = np.maximum(tail_first, head_end + 1)
        todo = np.flatnonzero((found < 0) & (tail_first <= last))
        if todo.size:
            found[todo] = self._scan(rows[todo], tail_first[todo], last[todo] - tail_first[todo] + 1)
        return found


def simulate(bars: Bars, e: Entries, max_hold: int) -> Trades:
    """Walk every trade forward, all at once, to its stop, its target or max_hold bars."""
    n = len(bars)
    count = len(e.index)
    exit_price = np.full(count, np.nan)
    if e.stop_on_entry_bar and count:
        adverse = np.where(e.direction > 0, bars.low[e.index], -bars.high[e.index])
        hit = adverse <= e.direction * e.stop
        exit_price[hit] = e.stop[hit]
    rows = np.flatnonzero(np.isnan(exit_price) & (e.index + 1 < n))
    touch = np.full(len(rows), -1, dtype=np.int64)
    for side in (True, False):  # longs and shorts apart: each compares only its own sides of the bars
        part = np.flatnonzero((e.direction[rows] > 0) == side)
        if part.size:
            which = rows[part]
            last = np.minimum(e.index[which] + max_hold, n - 1)
            touch[part] = _Walk(bars, e, side).first_touch(which, e.index[which] + 1, last)
    took, at = rows[touch >= 0], touch[touch >= 0]
    stop_hit = np.where(e.direction[took] > 0, bars.low[at] <= e.stop[took], bars.high[at] >= e.stop[took])
    level = np.where(stop_hit, e.stop[took], e.target[took])
    # a bar that opens beyond the level (a gap) fills at its open, not at the level
    opened = bars.open[at]
    beyond = np.where(stop_hit, e.direction[took] * (opened - level) < 0, e.direction[took] * (opened - level) > 0)
    exit_price[took] = np.where(beyond, opened, level)
    # neither touched: out at the close max_hold bars on, or at the last bar there is
    left = np.flatnonzero(np.isnan(exit_price))
    exit_price[left] = bars.close[np.minimum(e.index[left] + max_hold, n - 1)]
    pips = e.direction * (exit_price - e.price) / bars.pip
    risk = np.abs(e.price - e.stop) / bars.pip
    r = np.divide(pips, risk, out=np.zeros_like(pips), where=risk > 0)
    return Trades(e.index, e.direction, pips, r)


def _no_entries() -> Entries:
    return Entries(_EMPTY_I, _EMPTY_F, _EMPTY_F, _EMPTY_F, _EMPTY_F)


def _first_cross(
    bars: Bars, start: IntArray, window: int, up: FloatArray, down: FloatArray
) -> tuple[IntArray, FloatArray]:
    """For each start, the first bar within `window` bars whose close is above `up` (+1) or below `down` (-1)."""
    n = len(bars)
    cols = start[:, None] + np.arange(window)
    inside = cols < n
    cols = np.minimum(cols, n - 1)
    closes = bars.close[cols]
    crossed = ((closes > up[:, None]) | (closes < down[:, None])) & inside
    first = _first_true(crossed)
    found = first >= 0
    at = np.where(found, cols[np.arange(len(start)), np.maximum(first, 0)], -1)
    direction = np.where(bars.close[np.maximum(at, 0)] > up, 1.0, -1.0)
    return at, np.where(found, direction, 0.0)


# ---- session-open breakout ----------------------------------------------------------------------


def _session_breakout(bars: Bars, v: Mapping[str, float]) -> Entries:
    open_minute = int(v["open_hour"]) * 60
    range_bars, window = int(v["range_bars"]), int(v["window_bars"])
    minute_of_day = bars.minutes % 1440
    day = bars.minutes // 1440
    at_open = (minute_of_day >= open_minute) & (minute_of_day < open_minute + 60)
    before = np.concatenate(([True], (day[1:] != day[:-1]) | (minute_of_day[:-1] < open_minute)))
    starts = np.flatnonzero(at_open & before)
    starts = starts[starts + range_bars < len(bars)]
    if not starts.size:
        return _no_entries()
    cols = starts[:, None] + np.arange(range_bars)
    top, bottom = bars.high[cols].max(axis=1), bars.low[cols].min(axis=1)
    at, direction = _first_cross(bars, starts + range_bars, window, top, bottom)
    keep = at >= 0
    at, direction, top, bottom = at[keep], direction[keep], top[keep], bottom[keep]
    price = bars.close[at]
    stop = np.where(direction > 0, bottom, top)
    target = price + direction * v["target_r"] * np.abs(price - stop)
    return Entries(at, direction, price, stop, target)


# ---- moving-average cross -----------------------------------------------------------------------


def _window_sums(bars: Bars, length: int, first: int) -> IntArray:
    """For bars first..n-1, the sum of the last `length` closes, in tenths of a pip from the first close."""
    sums = bars.close_sums
    return sums[first + 1 :] - sums[first + 1 - length : len(sums) - length]


def _ma_cross(bars: Bars, v: Mapping[str, float]) -> Entries:
    fast_n, slow_n = int(v["fast"]), int(v["slow"])
    first = max(fast_n, slow_n) - 1  # the first bar with both averages
    if first + 1 >= len(bars):
        return _no_entries()
    # fast mean > slow mean, as integer sums scaled to a common length: exact, no rounding to disagree on
    above = _window_sums(bars, fast_n, first) * slow_n > _window_sums(bars, slow_n, first) * fast_n
    # a cross: the fast average is above the slow one on this bar and not on the one before, or the reverse
    changed = np.flatnonzero(above[1:] != above[:-1]) + 1
    direction = np.where(above[changed], 1.0, -1.0)
    index = (changed + first).astype(np.int64)
    price = bars.close[index]
    risk = v["stop_pips"] * bars.pip
    stop = price - direction * risk
    target = price + direction * v["target_r"] * risk
    return Entries(index, direction, price, stop, target)


# ---- fair-value-gap retest ----------------------------------------------------------------------


def _fvg_retest(bars: Bars, v: Mapping[str, float]) -> Entries:
    if len(bars) < 4:
        return _no_entries()
    min_gap = v["min_gap_pips"] * bars.pip
    lo2, hi2, lo, hi = bars.low[:-2], bars.high[:-2], bars.low[2:], bars.high[2:]
    bull = np.flatnonzero(lo - hi2 >= max(min_gap, 1e-12)) + 2  # gap between bar i-2's high and bar i's low
    bear = np.flatnonzero(lo2 - hi >= max(min_gap, 1e-12)) + 2
    gap_bar = np.concatenate((bull, bear))
    direction = np.concatenate((np.ones(len(bull)), -np.ones(len(bear))))
    # the edge price returns to: the gap's top for a bullish gap, its bottom for a bearish one
    edge = np.where(direction > 0, bars.low[gap_bar], bars.high[gap_bar])
    far = np.where(direction > 0, bars.high[gap_bar - 2], bars.low[gap_bar - 2])
    wait = int(v["max_wait"])
    cols = gap_bar[:, None] + np.arange(1, wait + 1)
    inside = cols < len(bars)
    cols = np.minimum(cols, len(bars) - 1)
    touched = np.where(direction[:, None] > 0, bars.low[cols] <= edge[:, None], bars.high[cols] >= edge[:, None])
    first = _first_true(touched & inside)
    keep = first >= 0
    at = cols[np.arange(len(gap_bar)), np.maximum(first, 0)][keep]
    direction, edge, far = direction[keep], edge[keep], far[keep]
    order = np.lexsort((direction, at))
    at, direction, edge, far = at[order], direction[order], edge[order], far[order]
    stop = far - direction * v["stop_buffer_pips"] * bars.pip
    target = edge + direction * v["target_r"] * np.abs(edge - stop)
    return Entries(at.astype(np.int64), direction, edge, stop, target, stop_on_entry_bar=True)


_TARGET_R = Param("target_r", 2.0, 0.1, 50, False, "target at this multiple of the stop distance")
_MAX_HOLD = Param("max_hold", 240, 1, 10_000, True, "bars a trade may last; then out at the close")

HYPOTHESES: dict[str, Hypothesis] = {
    h.name: h
    for h in (
        Hypothesis(
            "session_breakout",
            "The range of the first range_bars bars from open_hour (UTC); the first close outside it within "
            "window_bars bars enters in its direction, stop at the range's other side.",
            (
                Param("open_hour", 7, 0, 23, True, "UTC hour the session opens (7 London, 12 New York, 0 Tokyo)"),
                Param("range_bars", 30, 1, 1440, True, "bars that make the opening range"),
                Param("window_bars", 240, 1, 1440, True, "bars after the range in which a breakout counts"),
                _TARGET_R,
                _MAX_HOLD,
            ),
            _session_breakout,
        ),
        Hypothesis(
            "ma_cross",
            "A simple moving average of fast bars crossing one of slow bars: up enters long, down short, at the "
            "close; stop stop_pips away.",
            (
                Param("fast", 10, 1, 5000, True, "bars in the fast average"),
                Param("slow", 50, 2, 20_000, True, "bars in the slow average"),
                Param("stop_pips", 10, 0.1, 1000, False, "stop distance in pips"),
                _TARGET_R,
                _MAX_HOLD,
            ),
            _ma_cross,
        ),
        Hypothesis(
            "fvg_retest",
            "A fair-value gap (bar i's low above bar i-2's high, or its high below bar i-2's low, by min_gap_pips "
            "or more); the first return to the gap's edge within max_wait bars enters toward the gap, stop "
            "stop_buffer_pips beyond the gap's far side.",
            (
                Param("min_gap_pips", 3, 0, 1000, False, "smallest gap in pips"),
                Param("max_wait", 120, 1, 10_000, True, "bars after the gap in which a retest counts"),
                Param("stop_buffer_pips", 1, 0, 1000, False, "pips beyond the gap's far side for the stop"),
                _TARGET_R,
                _MAX_HOLD,
            ),
            _fvg_retest,
        ),
    )
}
