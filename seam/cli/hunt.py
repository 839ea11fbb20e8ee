"""`seam hunt FILE`: run a hunt intent here, with a progress bar, and print every variant in grid order.

It reads the intent, checks it with the daemon's rules, and computes it on this machine with the configured
engine; nothing is written to the seam (no bead, no response). Dropped into the seam instead, the same
intent is answered by the daemon with the same table, recorded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seam.cli.common import EXIT_NOT_OK, EXIT_OK, Subparsers, clock, err, load, out, print_problems, seam_paths

__all__ = ["add_hunt", "cmd_hunt"]


def add_hunt(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("hunt", parents=[common], help="run a hunt intent here with progress; print every variant")
    p.add_argument("file", help="a hunt intent (YAML)")
    p.add_argument("--workers", type=int, help="worker processes (default: research.workers, else the cores)")
    p.set_defaults(func=cmd_hunt)


def cmd_hunt(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from seam import client
    from seam.errors import IntentError
    from seam.handlers.research import hunt_context
    from seam.intent import HuntPayload, Kind
    from seam.research import data_folder
    from seam.research.bars import pip_size
    from seam.research.engines import engine_for
    from seam.research.hunt import plan_hunt

    paths = seam_paths(args)
    config = load(paths)
    research = config.settings.research
    try:
        intent = client.check_intent(Path(args.file).read_bytes(), config, clock=clock())
        if intent.kind is not Kind.HUNT:
            raise IntentError.single("kind", f"seam hunt runs hunt intents; this one is {intent.kind}")
        payload = intent.payload_as(HuntPayload)
        info = data_folder(paths.root, research.data_folder).info(payload.dataset)
        plan = plan_hunt(payload, info.path)
    except IntentError as exc:
        err.print(f"seam: {escape(args.file)} cannot run")
        print_problems(exc.problems)
        return EXIT_NOT_OK
    engine = engine_for(research.engine, workers=args.workers or research.workers, ray_address=research.ray_address)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(f"{plan.hypothesis.name} × {len(plan.variants)} variants", total=len(plan.variants))
        results = engine.run(
            plan, pip_size(info.name, info.meta), lambda done, _total: progress.update(task, completed=done)
        )
    facts = hunt_context(plan, results)
    table = Table(title=f"{plan.hypothesis.name} on {info.name} (sha256 {info.sha256[:16]}…), in grid order")
    for header in facts["headers"]:
        table.add_column(header, justify="right")
    for row in facts["rows"]:
        table.add_row(*(str(v) for v in row))
    out.print(table)
    out.print(f"{len(results)} variant(s), every one of the grid, in grid order; engine {engine.name}; not recorded")
    return EXIT_OK if results else EXIT_NOT_OK
