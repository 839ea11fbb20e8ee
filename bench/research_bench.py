"""The research bench: a 100-variant hunt and a session/hour group-by query over 1,000,000 one-minute bars, in seam
and the way a researcher would otherwise do them (pandas; polars too for the query), in one run.

    python bench/research_bench.py                # 1,000,000 bars, 2 hunt workers
    python bench/research_bench.py --json FILE    # also write the figures (and each target met or not) as JSON
    python bench/research_bench.py --bars 200000 --workers 4

The bars come from seam's generator (EURUSD, volatile, seed 42), written once as Parquet. Every timing starts from
that file, so each side pays for reading it:
- hunt: `ma_cross` over fast 5..50 (10 values) x slow 60..240 (10 values), stop 10 pips, target 2R, 240 bars at
  most. seam: the local engine (worker processes, started for the hunt). pandas: one process, one variant after
  another, rolling means and shifted comparisons in pandas, the forward walk of the trades vectorized over the
  signal rows one bar offset at a time, with seam's exit rules. How far the two agree is measured and printed.
- query: count, mean range in pips and sum of returns in pips, grouped by session and hour. seam: the `query`
  lens (which also hashes the file and counts its rows, for the answer's provenance). pandas and polars: a
  DataFrame group-by. The median of 3 runs each.

Targets: the hunt >= 20 variants/s on 2 cores and no slower than pandas; the query < 1 s and no slower than pandas.
Needs the `bench` extra (pandas, polars, pyarrow). Exit status 0 whenever the bench ran, even when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from seam.intent import HuntPayload, QueryPayload
from seam.research import DataFolder
from seam.research.engines import LocalEngine
from seam.research.generate import Spec, generate, write_dataset
from seam.research.hunt import plan_hunt
from seam.research.query import run_lens

PIP = 0.0001
FAST = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
SLOW = [60, 80, 100, 120, 140, 160, 180, 200, 220, 240]
STOP_PIPS, TARGET_R, MAX_HOLD = 10.0, 2.0, 240


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


# ---- seam ---------------------------------------------------------------------------------------


def seam_hunt(path: Path, workers: int) -> list[tuple[int, float]]:
    grid = {"fast": FAST, "slow": SLOW, "stop_pips": [STOP_PIPS], "target_r": [TARGET_R], "max_hold": [MAX_HOLD]}
    plan = plan_hunt(HuntPayload(hypothesis="ma_cross", dataset=path.name, grid=grid), path)  # type: ignore[arg-type]
    return [(r.trades, r.total_pips) for r in LocalEngine(workers).run(plan, PIP)]


def seam_query(folder: DataFolder, name: str) -> list[list[Any]]:
    lens = QueryPayload.model_validate(
        {
            "dataset": name,
            "group_by": ["session", "hour"],
            "aggregates": [
                {"fn": "count"},
                {"fn": "mean", "field": "range_pips"},
                {"fn": "sum", "field": "return_pips"},
            ],
        }
    )
    return run_lens(folder, lens).rows


# ---- pandas and polars, the way a researcher would write them -----------------------------------


def pandas_hunt(path: Path) -> list[tuple[int, float]]:
    import pandas as pd

    df = pd.read_parquet(path).sort_values("ts").reset_index(drop=True)
    o, h, lo, c = (df[k].to_numpy() for k in ("open", "high", "low", "close"))
    n = len(df)
    results = []
    for fast in FAST:
        for slow in SLOW:
            f = df["close"].rolling(fast).mean()
            s = df["close"].rolling(slow).mean()
            above = f > s
            valid = f.notna() & s.notna()
            cross = valid & valid.shift(1, fill_value=False) & (above != above.shift(1, fill_value=False))
            idx = np.flatnonzero(cross.to_numpy())
            d = np.where(above.to_numpy()[idx], 1.0, -1.0)
            entry = c[idx]
            stop, target = entry - d * STOP_PIPS * PIP, entry + d * TARGET_R * STOP_PIPS * PIP
            exit_px = np.full(len(idx), np.nan)
            open_ = np.arange(len(idx))
            for k in range(1, MAX_HOLD + 1):
                j = idx[open_] + k
                inside = j < n
                j = np.minimum(j, n - 1)
                dd = d[open_]
                stop_hit = np.where(dd > 0, lo[j] <= stop[open_], h[j] >= stop[open_]) & inside
                target_hit = np.where(dd > 0, h[j] >= target[open_], lo[j] <= target[open_]) & inside & ~stop_hit
                level = np.where(stop_hit, stop[open_], target[open_])
                gapped = np.where(stop_hit, dd * (o[j] - level) < 0, dd * (o[j] - level) > 0)
                done = stop_hit | target_hit
                exit_px[open_[done]] = np.where(gapped, o[j], level)[done]
                open_ = open_[~done]
                if not open_.size:
                    break
            exit_px[open_] = c[np.minimum(idx[open_] + MAX_HOLD, n - 1)]
            pips = d * (exit_px - entry) / PIP
            results.append((len(idx), float(pips.sum())))
    return results


def _sessions(hours: Any) -> Any:
    return np.select([(hours >= 21) | (hours < 7), hours < 12], ["Asia", "London"], "New York")


def pandas_query(path: Path) -> Any:
    import pandas as pd

    df = pd.read_parquet(path)
    hour = df["ts"].dt.hour
    df = df.assign(
        hour=hour,
        session=_sessions(hour.to_numpy()),
        range_pips=(df["high"] - df["low"]) / PIP,
        return_pips=(df["close"] - df["open"]) / PIP,
    )
    return df.groupby(["session", "hour"]).agg(
        count=("close", "size"), mean_range=("range_pips", "mean"), sum_return=("return_pips", "sum")
    )


def polars_query(path: Path) -> Any:
    import polars as pl

    hour = pl.col("ts").dt.hour()
    session = pl.when((hour >= 21) | (hour < 7)).then(pl.lit("Asia")).when(hour < 12).then(pl.lit("London"))
    return (
        pl.read_parquet(path)
        .with_columns(
            hour=hour,
            session=session.otherwise(pl.lit("New York")),
            range_pips=(pl.col("high") - pl.col("low")) / PIP,
            return_pips=(pl.col("close") - pl.col("open")) / PIP,
        )
        .group_by(["session", "hour"])
        .agg(pl.len().alias("count"), pl.col("range_pips").mean(), pl.col("return_pips").sum())
        .sort(["session", "hour"])
    )


# ---- the run ------------------------------------------------------------------------------------


def _agreement(seam: list[tuple[int, float]], pandas: list[tuple[int, float]]) -> tuple[float, float]:
    """The largest relative differences of trade counts and of total pips between the two, variant by variant.
    They are not all zero: pandas compares float rolling means, seam integer sums, and where two averages are
    equal (prices have five decimals, so they often are) float rounding decides whether a cross happened."""
    assert len(seam) == len(pandas)
    trades = max(abs(a[0] - b[0]) / max(1, a[0]) for a, b in zip(seam, pandas, strict=True))
    pips = max(abs(a[1] - b[1]) / max(1.0, abs(a[1])) for a, b in zip(seam, pandas, strict=True))
    return round(trades, 5), round(pips, 5)


def _median_of_3(fn: Callable[[], Any]) -> tuple[float, Any]:
    runs = [_timed(fn) for _ in range(3)]
    return statistics.median(t for t, _ in runs), runs[0][1]


def run(bars: int, workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="seam-research-bench-") as tmp:
        folder = DataFolder(Path(tmp))
        path = Path(tmp) / "eurusd.parquet"
        gen_s, _ = _timed(
            lambda: write_dataset(generate(Spec("EURUSD", "volatile", 42, bars, "1min")), path, "parquet")
        )
        print(f"generated {bars:,} bars in {gen_s:.2f} s", file=sys.stderr)

        hunt_s, seam_rows = _timed(lambda: seam_hunt(path, workers))
        pandas_hunt_s, pandas_rows = _timed(lambda: pandas_hunt(path))
        trades_diff, pips_diff = _agreement(seam_rows, pandas_rows)
        query_s, seam_q = _median_of_3(lambda: seam_query(folder, path.name))
        pandas_query_s, pandas_q = _median_of_3(lambda: pandas_query(path))
        polars_query_s, _ = _median_of_3(lambda: polars_query(path))
        same_query = len(seam_q) == len(pandas_q) == 24 and sum(r[2] for r in seam_q) == int(pandas_q["count"].sum())
    variants = len(FAST) * len(SLOW)
    figures: dict[str, Any] = {
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "bars": bars,
        "workers": workers,
        "variants": variants,
        "hunt_s": round(hunt_s, 3),
        "pandas_hunt_s": round(pandas_hunt_s, 3),
        "hunt_variants_per_s": round(variants / hunt_s, 2),
        "pandas_hunt_variants_per_s": round(variants / pandas_hunt_s, 2),
        "hunt_speedup_vs_pandas": round(pandas_hunt_s / hunt_s, 2),
        "hunt_trades_max_rel_diff": trades_diff,
        "hunt_total_pips_max_rel_diff": pips_diff,
        "query_s": round(query_s, 4),
        "pandas_query_s": round(pandas_query_s, 4),
        "polars_query_s": round(polars_query_s, 4),
        "query_vs_pandas": round(pandas_query_s / query_s, 2),
        "query_vs_polars": round(polars_query_s / query_s, 2),
        "query_groups_agree": same_query,
    }
    figures["targets"] = {
        "hunt >= 20 variants/s": figures["hunt_variants_per_s"] >= 20,
        "hunt no slower than pandas": hunt_s <= pandas_hunt_s,
        "query < 1 s": query_s < 1.0,
        "query no slower than pandas": query_s <= pandas_query_s,
    }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args.bars, args.workers)
    f = figures
    print(f"research bench over {f['bars']:,} one-minute bars, {f['workers']} hunt workers")
    print(
        f"  hunt ({f['variants']} variants): seam {f['hunt_s']:.2f} s = {f['hunt_variants_per_s']:.1f} variants/s;"
        f" pandas {f['pandas_hunt_s']:.2f} s = {f['pandas_hunt_variants_per_s']:.1f} variants/s;"
        f" ratio {f['hunt_speedup_vs_pandas']:.2f}x"
    )
    print(
        f"    agreement: trade counts within {f['hunt_trades_max_rel_diff']:.3%},"
        f" total pips within {f['hunt_total_pips_max_rel_diff']:.3%}"
    )
    print(
        f"  query (session x hour): seam {f['query_s']:.3f} s; pandas {f['pandas_query_s']:.3f} s"
        f" ({f['query_vs_pandas']:.2f}x); polars {f['polars_query_s']:.3f} s ({f['query_vs_polars']:.2f}x)"
    )
    for target, met in figures["targets"].items():
        print(f"  target {target}: {'met' if met else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
