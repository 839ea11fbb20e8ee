"""The `hunt`: one registered hypothesis × a parameter grid; every variant computed, returned in grid order.

A variant is one point of the grid: the cartesian product in the grid's key order, then each key's value
order. Nothing here sorts by a result, keeps some variants and drops others, or scores them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seam.errors import IntentError
from seam.intent import HuntPayload
from seam.research.bars import Bars
from seam.research.hypotheses import HYPOTHESES, Hypothesis, Trades

__all__ = [
    "MAX_VARIANTS",
    "HuntPlan",
    "VariantResult",
    "compute_variant",
    "plan_hunt",
    "stats_of",
]

MAX_VARIANTS = 10_000
Progress = Callable[[int, int], None]  # (variants done, variants in all)


@dataclass(frozen=True)
class VariantResult:
    """The same facts for every variant."""

    params: dict[str, float]
    trades: int
    wins: int  # trades that ended above their entry price in pips
    losses: int  # the others (zero pips counts here)
    win_rate: float | None
    avg_r: float | None
    total_pips: float
    max_drawdown_pips: float


@dataclass(frozen=True)
class HuntPlan:
    hypothesis: Hypothesis
    dataset: Path
    keys: list[str]
    variants: list[dict[str, float]]  # full parameter sets (defaults + the grid point), in grid order


def _hypothesis(name: str) -> Hypothesis:
    found = HYPOTHESES.get(name)
    if found is None:
        raise IntentError.single("payload.hypothesis", f"no hypothesis {name!r}; registered: {', '.join(HYPOTHESES)}")
    return found


def _check_values(hypothesis: Hypothesis, key: str, values: list[float | int]) -> list[float]:
    param = hypothesis.param(key)
    if param is None:
        names = ", ".join(p.name for p in hypothesis.params)
        raise IntentError.single(
            f"payload.grid.{key}", f"{hypothesis.name} has no parameter {key!r}; parameters: {names}"
        )
    checked = []
    for i, value in enumerate(values):
        where = f"payload.grid.{key}[{i}]"
        if param.integer and float(value) != int(value):
            raise IntentError.single(where, f"{key} takes whole numbers; {value!r} is not one")
        if not param.low <= value <= param.high:
            raise IntentError.single(where, f"{key} must be between {param.low:g} and {param.high:g}; got {value!r}")
        checked.append(float(value))
    return checked


def plan_hunt(payload: HuntPayload, dataset: Path) -> HuntPlan:
    hypothesis = _hypothesis(payload.hypothesis)
    keys = list(payload.grid)
    axes = [_check_values(hypothesis, key, payload.grid[key]) for key in keys]
    size = int(np.prod([len(a) for a in axes])) if axes else 1
    if size > MAX_VARIANTS:
        raise IntentError.single(
            "payload.grid", f"the grid has {size:,} variants; a hunt computes at most {MAX_VARIANTS:,}"
        )
    defaults = {p.name: float(p.default) for p in hypothesis.params}
    # INV: variants are the grid's cartesian product in key order then value order, never reordered
    variants = [{**defaults, **dict(zip(keys, point, strict=True))} for point in itertools.product(*axes)]
    return HuntPlan(hypothesis, dataset, keys, variants)


def stats_of(params: Mapping[str, float], trades: Trades) -> VariantResult:
    count = len(trades.pips)
    wins = int(np.count_nonzero(trades.pips > 0))
    curve = np.cumsum(trades.pips)
    peaks = np.maximum.accumulate(np.concatenate(([0.0], curve)))[1:]
    drawdown = float(np.max(peaks - curve)) if count else 0.0
    return VariantResult(
        params=dict(params),
        trades=count,
        wins=wins,
        losses=count - wins,
        win_rate=wins / count if count else None,
        avg_r=float(np.mean(trades.r)) if count else None,
        total_pips=float(np.sum(trades.pips)),
        max_drawdown_pips=drawdown,
    )


def compute_variant(bars: Bars, hypothesis_name: str, params: Mapping[str, float]) -> VariantResult:
    """One variant, start to end; the same function under every engine, so every engine gives the same facts."""
    hypothesis = HYPOTHESES[hypothesis_name]
    return stats_of(params, hypothesis.trades(bars, params))
