"""Synthetic FX bars: reproducible from a seed (same arguments, same bytes, same sha256), shaped like a market.

The shape: bars only while the FX market is open (Sunday 22:00 to Friday 22:00 UTC), so each weekend is a gap
in time and the Sunday open jumps from Friday's close; volatility follows the sessions (Asia quiet, London
and New York livelier, their overlap the liveliest). The modes:

    calm      base volatility, small weekend jumps, no spikes, no intraday gaps
    volatile  three times the volatility and weekend jumps of calm, no spikes
    spike     calm, plus spikes (one bar moving 25-80 pips, half of it retraced within the bar)
              about every 2,000 bars and intraday gap events (the open 10-30 pips away from the previous close)
              about every 5,000 bars

Prices are additive random walks in pips from the pair's base price, rounded to a tenth of a pip.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from seam.paths import write_atomic
from seam.research.datasets import file_sha256, sidecar_path
from seam.research.modes import MODES, TIMEFRAMES, Mode

__all__ = ["MODES", "TIMEFRAMES", "GeneratedBars", "Spec", "generate", "write_dataset"]

BASE_PRICE = {
    "EURUSD": 1.0850,
    "GBPUSD": 1.2650,
    "USDJPY": 149.50,
    "AUDUSD": 0.6550,
    "USDCAD": 1.3550,
    "NZDUSD": 0.6050,
}
# a Sunday 22:00 UTC: the FX week opens
DEFAULT_START = datetime(2026, 1, 4, 22, 0, tzinfo=UTC)
WEEK_OPEN_MINUTES = 5 * 24 * 60  # Sunday 22:00 to Friday 22:00

# pips per one-minute bar, by UTC hour: Asia quiet, London opens at 07, New York at 12, overlap 12-16
_HOURLY_SIGMA = np.array(
    [0.30] * 7 + [0.55] * 5 + [0.70] * 4 + [0.55] * 5 + [0.30] * 3,
    dtype=np.float64,
)
_VOL_SCALE = {"calm": 1.0, "volatile": 3.0, "spike": 1.0}
_WEEKEND_JUMP_PIPS = {"calm": 4.0, "volatile": 12.0, "spike": 4.0}
SPIKE_EVERY = 2_000
GAP_EVERY = 5_000


@dataclass(frozen=True)
class Spec:
    pair: str
    mode: Mode
    seed: int
    bars: int
    timeframe: str
    start: str = DEFAULT_START.isoformat()


@dataclass(frozen=True)
class GeneratedBars:
    spec: Spec
    minutes: npt.NDArray[np.int64]  # minutes since the epoch, UTC
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.int64]
    weekend_gaps: int
    spikes: int
    gap_events: int


def _timestamps(start: datetime, bars: int, step: int) -> npt.NDArray[np.int64]:
    """Bar times while the market is open: each week's 7,200 open minutes, then the weekend skipped."""
    per_week = WEEK_OPEN_MINUTES // step
    k = np.arange(bars, dtype=np.int64)
    week, within = np.divmod(k, per_week)
    start_min = int(start.timestamp()) // 60
    stamps: npt.NDArray[np.int64] = start_min + week * 7 * 24 * 60 + within * step
    return stamps


def generate(spec: Spec) -> GeneratedBars:
    step = TIMEFRAMES[spec.timeframe]
    pip = 0.01 if spec.pair.endswith("JPY") else 0.0001
    rng = np.random.Generator(np.random.PCG64(spec.seed))
    minutes = _timestamps(datetime.fromisoformat(spec.start), spec.bars, step)
    hours = (minutes // 60) % 24
    sigma = _HOURLY_SIGMA[hours] * _VOL_SCALE[spec.mode] * np.sqrt(step)

    move = rng.standard_normal(spec.bars) * sigma
    gap = np.zeros(spec.bars)
    week_starts = np.flatnonzero(np.diff(minutes, prepend=minutes[0]) > step)
    gap[week_starts] = rng.standard_normal(len(week_starts)) * _WEEKEND_JUMP_PIPS[spec.mode]
    spikes = gap_events = np.zeros(0, dtype=np.int64)
    spike_size = np.zeros(spec.bars)
    if spec.mode == "spike":
        spikes = np.flatnonzero(rng.random(spec.bars) < 1 / SPIKE_EVERY)
        spike_size[spikes] = rng.uniform(25, 80, len(spikes)) * rng.choice([-1.0, 1.0], len(spikes))
        gap_events = np.flatnonzero(rng.random(spec.bars) < 1 / GAP_EVERY)
        gap[gap_events] += rng.uniform(10, 30, len(gap_events)) * rng.choice([-1.0, 1.0], len(gap_events))
    wick = np.abs(rng.standard_normal((2, spec.bars))) * sigma * 0.6

    # open = previous close + gap; close = open + move (+ half of a spike, the other half retraced in the bar)
    steps = gap + move + spike_size / 2
    close_pips = np.cumsum(steps)
    open_pips = close_pips - move - spike_size / 2
    top = np.maximum(open_pips, close_pips) + wick[0] + np.where(spike_size > 0, spike_size / 2, 0)
    bottom = np.minimum(open_pips, close_pips) - wick[1] + np.where(spike_size < 0, spike_size / 2, 0)
    base = BASE_PRICE[spec.pair]
    decimals = 3 if spec.pair.endswith("JPY") else 5
    volume = rng.poisson(40 * sigma / sigma.mean()).astype(np.int64) + 1
    return GeneratedBars(
        spec=spec,
        minutes=minutes,
        open=np.round(base + open_pips * pip, decimals),
        high=np.round(base + top * pip, decimals),
        low=np.round(base + bottom * pip, decimals),
        close=np.round(base + close_pips * pip, decimals),
        volume=volume,
        weekend_gaps=len(week_starts),
        spikes=len(spikes),
        gap_events=len(gap_events),
    )


def write_dataset(bars: GeneratedBars, target: Path, fmt: Literal["csv", "parquet"] = "csv") -> dict[str, object]:
    """Write the bars (by DuckDB, on one thread, so the bytes repeat exactly) and a sidecar; returns the sidecar."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # like the seam's other folders: the owner's
    _write(bars, target, fmt)
    meta: dict[str, object] = {
        **asdict(bars.spec),
        "format": fmt,
        "rows": len(bars.close),
        "weekend_gaps": bars.weekend_gaps,
        "spikes": bars.spikes,
        "gap_events": bars.gap_events,
        "first_ts": _iso(int(bars.minutes[0])) if len(bars.minutes) else None,
        "last_ts": _iso(int(bars.minutes[-1])) if len(bars.minutes) else None,
        "sha256": file_sha256(target),
    }
    side = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    write_atomic(sidecar_path(target), side.encode(), tmp_dir=target.parent, durable=True)
    return meta


def _iso(minute: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)).isoformat()


def _write(bars: GeneratedBars, target: Path, fmt: Literal["csv", "parquet"]) -> None:
    from seam.research.bars import write_columns  # DuckDB loads when a dataset is written

    out = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    columns = {
        "ts": (bars.minutes * 60_000_000).astype("datetime64[us]"),
        "open": bars.open,
        "high": bars.high,
        "low": bars.low,
        "close": bars.close,
        "volume": bars.volume,
    }
    write_columns(columns, out, fmt)
    os.chmod(out, 0o600)
    with out.open("rb+") as fh:
        os.fsync(fh.fileno())
    out.replace(target)
