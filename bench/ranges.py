"""Figures over several runs: seam_bench.py run N times, each figure's range, each target on its worst value.

    python bench/ranges.py --runs 5 [--quick] [--json FILE]

Each run is a child process (`seam_bench.py [--quick] --json <temp file>`), one after the other, its
output shown as it goes. Then a table gives each figure's min-max over the runs, and a second one each
target met or not on the range: met only when the worst run meets it (the largest value for an upper
bound, the smallest for a lower one); a run without the figure (no answer, timed out, crashed) does
not meet it. The targets (figure, comparison, limit) are read from the runs' own JSON, so they are
the ones seam_bench.py defines. --json writes every run's figures, the ranges and the verdicts.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
BENCH = HERE / "seam_bench.py"
NOT_FIGURES = ("machine", "quick", "targets")
CHILD_STOP_GRACE_S = 30.0  # the bench stops its servers and removes its temporary folder on SIGTERM


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through run_once's finally, which stops the child


def run_once(index: int, runs: int, quick: bool, out: Path, console: Console) -> int:
    """One bench run in a child process; its exit status (the child is stopped on every way out)."""
    argv = [sys.executable, str(BENCH), *(["--quick"] if quick else []), "--json", str(out)]
    console.rule(f"run {index}/{runs}")
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    try:
        return child.wait()
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(CHILD_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def figure_range(values: list[Any]) -> dict[str, Any]:
    """min/max over the runs' values; a list-valued figure (one value per trial) is taken whole."""
    flat: list[Any] = []
    for value in values:
        flat.extend(value if isinstance(value, list) else [value])
    numbers = [v for v in flat if is_number(v)]
    entry: dict[str, Any] = {"values": values}
    if all(isinstance(v, bool) for v in values if v is not None) and any(isinstance(v, bool) for v in values):
        entry["true_in"] = sum(1 for v in values if v is True)
    elif numbers:
        entry["min"], entry["max"] = min(numbers), max(numbers)
    entry["missing"] = sum(1 for v in flat if v is None)
    return entry


def target_verdict(spec: dict[str, Any], values: list[Any]) -> dict[str, Any]:
    op, limit = spec["op"], spec["limit"]
    present = [v for v in values if is_number(v)]
    worst = None
    if present and len(present) == len(values):
        worst = min(present) if op == ">=" else max(present)
    met = worst is not None and (worst < limit if op == "<" else worst <= limit if op == "<=" else worst >= limit)
    return {"target": spec["target"], "op": op, "limit": limit, "values": values, "worst": worst, "met": met}


def combine(runs: list[dict[str, Any] | None], codes: list[int], quick: bool) -> dict[str, Any]:
    done = [r for r in runs if r is not None]
    keys: list[str] = []
    for r in done:
        keys.extend(k for k in r if k not in NOT_FIGURES and k not in keys)
    figures = {key: figure_range([r.get(key) if r else None for r in runs]) for key in keys}
    specs: dict[str, dict[str, Any]] = {}
    for r in done:
        for figure, spec in r.get("targets", {}).items():
            specs.setdefault(figure, spec)
    targets = {
        figure: target_verdict(spec, [r.get(figure) if r else None for r in runs]) for figure, spec in specs.items()
    }
    return {
        "runs": len(runs),
        "quick": quick,
        "completed": len(done),
        "exit_codes": codes,
        "figures": figures,
        "targets": targets,
        "machine": done[0]["machine"] if done else None,
        "per_run": runs,
    }


def text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def show(console: Console, combined: dict[str, Any]) -> None:
    n = combined["runs"]
    table = Table(title=f"each figure over {n} run(s){' (--quick)' if combined['quick'] else ''}")
    for column in ("figure", "min", "max", "note"):
        table.add_column(column, justify="left" if column in ("figure", "note") else "right")
    for key, entry in combined["figures"].items():
        note = []
        if "true_in" in entry:
            table.add_row(key, "", "", f"true in {entry['true_in']}/{n} run(s)")
            continue
        if any(isinstance(v, list) for v in entry["values"]):
            note.append("every value of every run")
        if entry["missing"]:
            note.append(f"{entry['missing']} without a value")
        table.add_row(key, text(entry.get("min")), text(entry.get("max")), "; ".join(note))
    console.print(table)

    verdicts = Table(title="targets on the range (met only if the worst run meets it)")
    for column in ("target", "figure", "range", "worst", ""):
        verdicts.add_column(column, justify="left" if column in ("target", "figure") else "right")
    for figure, verdict in combined["targets"].items():
        entry = combined["figures"].get(figure, {})
        span = f"{text(entry.get('min'))} - {text(entry.get('max'))}" if "min" in entry else "-"
        worst = "no value in a run" if verdict["worst"] is None else text(verdict["worst"])
        verdicts.add_row(
            verdict["target"], figure, span, worst, "[green]MET[/]" if verdict["met"] else "[red]NOT MET[/]"
        )
    console.print(verdicts)
    missed = [v["target"] for v in combined["targets"].values() if not v["met"]]
    console.print(f"not met: {', '.join(missed)}" if missed else "all targets met on the range")
    if combined["completed"] < n:
        console.print(
            f"[red]{n - combined['completed']} run(s) wrote no figures (exit codes {combined['exit_codes']})[/]"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run seam_bench.py several times; each figure's range.")
    parser.add_argument("--runs", type=int, default=5, help="how many runs (default 5)")
    parser.add_argument("--quick", action="store_true", help="pass --quick to every run")
    parser.add_argument("--json", metavar="FILE", type=Path, help="write every run's figures, ranges and verdicts")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 110)
    began = time.perf_counter()
    runs: list[dict[str, Any] | None] = []
    codes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="seam-ranges-") as tmp:
        for index in range(1, args.runs + 1):
            out = Path(tmp) / f"run-{index}.json"
            code = run_once(index, args.runs, args.quick, out, console)
            codes.append(code)
            if code == 130:  # the bench was interrupted (Ctrl-C reaches the child too)
                raise KeyboardInterrupt
            try:
                runs.append(json.loads(out.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                runs.append(None)
    combined = combine(runs, codes, args.quick)
    console.rule(f"{args.runs} run(s) in {time.perf_counter() - began:.0f} s")
    show(console, combined)
    if args.json:
        args.json.write_text(json.dumps(combined, indent=2) + "\n", encoding="utf-8")
        console.print(f"combined figures written to {args.json}")
    return 0 if all(code == 0 for code in codes) and combined["completed"] == args.runs else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
