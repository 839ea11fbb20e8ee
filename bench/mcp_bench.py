"""The MCP bench: the `status` tool's round trip over stdio, beside a bare SDK server's no-op tool, in one run.

    python bench/mcp_bench.py                 # 300 timed calls each, after 30 warm-up calls
    python bench/mcp_bench.py --calls 100     # fewer
    python bench/mcp_bench.py --json FILE     # also write the figures (and each target met or not) as JSON
    python bench/mcp_bench.py --runs 5        # five runs, one after the other: each one's table, then the ranges

Both servers are child processes started the way Claude Desktop starts one (a command, stdio). `seam mcp` runs on a
fresh seam with no `seam watch`, so it runs the daemon in its own process (the common desktop case). The bare server
is the SDK's MCPServer with one tool that returns a constant: the least an MCP round trip over stdio costs. Timing
starts after start-up and warm-up: each figure is one `tools/call`, from the client's send to its parsed result,
and the calls alternate between the two servers in blocks so that both see the same machine.

Targets: seam's p50 ≤ 5 ms, and ≤ 3 × the bare server's p50. Exit status 0 whenever the bench ran, even when a target
is missed (the table says which); 1 when a call failed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

REPO = Path(__file__).resolve().parent.parent
TARGET_P50_MS = 5.0
TARGET_RATIO = 3.0
BLOCK = 50


def bare_server() -> None:
    """The baseline: the SDK's server with one no-op tool, on stdio."""
    from mcp.server import MCPServer

    server: MCPServer[Any] = MCPServer("bare")

    @server.tool(name="noop", description="Returns a constant.")
    def noop() -> str:
        return "ok"

    server.run("stdio")


def _env() -> dict[str, str]:
    # seam reads every SEAM_* variable as a setting: the bench runs the seam on its defaults
    return {k: v for k, v in os.environ.items() if not k.startswith("SEAM_")}


@asynccontextmanager
async def _client(args: list[str], errlog: Any) -> AsyncIterator[Any]:
    from mcp import Client, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=args, env=_env(), cwd=str(REPO))
    async with Client(stdio_client(params, errlog=errlog)) as client:
        yield client


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def _timed(call: Callable[[], Awaitable[Any]], count: int, into: list[float]) -> None:
    for _ in range(count):
        start = time.perf_counter()
        result = await call()
        into.append((time.perf_counter() - start) * 1000)
        if result.is_error:
            raise SystemExit(f"mcp bench: a call failed: {result.content}")


async def run(calls: int, warmup: int, root: Path) -> dict[str, Any]:
    from seam.paths import SeamPaths

    seam_root = root / "desk"
    SeamPaths.at(seam_root).create_folders()
    seam_ms: list[float] = []
    bare_ms: list[float] = []
    with (root / "seam.log").open("w") as seam_log, (root / "bare.log").open("w") as bare_log:
        started = time.perf_counter()
        async with _client(["-m", "seam", "mcp", "--seam", str(seam_root)], seam_log) as seam:
            seam_start = (time.perf_counter() - started) * 1000
            started = time.perf_counter()
            async with _client([str(Path(__file__).resolve()), "--bare"], bare_log) as bare:
                bare_start = (time.perf_counter() - started) * 1000

                async def status() -> Any:
                    return await seam.call_tool("status", {})

                async def noop() -> Any:
                    return await bare.call_tool("noop", {})

                await _timed(status, warmup, [])
                await _timed(noop, warmup, [])
                done = 0
                while done < calls:
                    block = min(BLOCK, calls - done)
                    await _timed(noop, block, bare_ms)
                    await _timed(status, block, seam_ms)
                    done += block
    figures: dict[str, Any] = {
        "calls": calls,
        "warmup": warmup,
        "seam": _summary(seam_ms, seam_start),
        "bare": _summary(bare_ms, bare_start),
    }
    ratio = figures["seam"]["p50_ms"] / figures["bare"]["p50_ms"]
    figures["ratio_p50"] = round(ratio, 2)
    figures["targets"] = {
        "seam p50 <= 5 ms": figures["seam"]["p50_ms"] <= TARGET_P50_MS,
        "seam p50 <= 3 x bare p50": ratio <= TARGET_RATIO,
    }
    figures["python"] = sys.version.split()[0]
    figures["cpus"] = os.cpu_count()
    return figures


def _summary(values: list[float], start_ms: float) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 2),
        "p99_ms": round(_percentile(values, 99), 2),
        "mean_ms": round(statistics.fmean(values), 2),
        "max_ms": round(max(values), 2),
        "start_ms": round(start_ms, 1),
    }


def _table(figures: dict[str, Any]) -> str:
    seam, bare = figures["seam"], figures["bare"]
    verdict = {True: "pass", False: "miss"}
    targets = figures["targets"]
    lines = [
        f"MCP round trip over stdio, {figures['calls']} timed calls each after {figures['warmup']} warm-up calls "
        f"(Python {figures['python']}, {figures['cpus']} CPUs)",
        "",
        "| figure | seam `status` | bare no-op | ratio | target | verdict |",
        "|---|---|---|---|---|---|",
        f"| p50 | {seam['p50_ms']} ms | {bare['p50_ms']} ms | {figures['ratio_p50']}× | ≤ 5 ms, ≤ 3× bare | "
        f"{verdict[targets['seam p50 <= 5 ms']]}, {verdict[targets['seam p50 <= 3 x bare p50']]} |",
        f"| p99 | {seam['p99_ms']} ms | {bare['p99_ms']} ms | | | |",
        f"| mean / max | {seam['mean_ms']} / {seam['max_ms']} ms | {bare['mean_ms']} / {bare['max_ms']} ms | | | |",
        f"| start-up (to initialized) | {seam['start_ms']} ms | {bare['start_ms']} ms | | | |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--runs", type=int, default=1, help="run the whole comparison this many times (ranges)")
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)  # the baseline server itself
    args = parser.parse_args(argv)
    if args.bare:
        bare_server()
        return 0
    runs: list[dict[str, Any]] = []
    for number in range(1, max(1, args.runs) + 1):
        with tempfile.TemporaryDirectory(prefix="seam-mcp-bench-") as tmp:
            figures = anyio.run(run, args.calls, args.warmup, Path(tmp))
        runs.append(figures)
        if args.runs > 1:
            print(f"run {number} of {args.runs}")
        print(_table(figures), flush=True)
    result: dict[str, Any] = runs[0]
    if len(runs) > 1:
        result = {"runs": runs, "ranges": _ranges(runs)}
        print(_ranges_table(result["ranges"], len(runs)))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


def _ranges(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def span(values: list[float]) -> list[float]:
        return [min(values), max(values)]

    return {
        "seam_p50_ms": span([r["seam"]["p50_ms"] for r in runs]),
        "seam_p99_ms": span([r["seam"]["p99_ms"] for r in runs]),
        "bare_p50_ms": span([r["bare"]["p50_ms"] for r in runs]),
        "ratio_p50": span([r["ratio_p50"] for r in runs]),
        "runs_meeting_both_targets": sum(all(r["targets"].values()) for r in runs),
    }


def _ranges_table(ranges: dict[str, Any], n: int) -> str:
    def text(key: str, unit: str = " ms") -> str:
        low, high = ranges[key]
        return f"{low}–{high}{unit}"

    return "\n".join(
        [
            "",
            f"Ranges over {n} runs",
            "",
            "| figure | range | target |",
            "|---|---|---|",
            f"| seam `status` p50 | {text('seam_p50_ms')} | ≤ 5 ms |",
            f"| bare no-op p50 | {text('bare_p50_ms')} | |",
            f"| ratio of the p50s | {text('ratio_p50', '×')} | ≤ 3× |",
            f"| seam `status` p99 | {text('seam_p99_ms')} | |",
            f"| runs meeting both targets | {ranges['runs_meeting_both_targets']} of {n} | |",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
