"""`seam status`: the status facts of the seam, read without a daemon (the broker link as one last published it)."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from seam.cli.common import EXIT_OK, Subparsers, console_runtime, load, out, require_seam, seam_paths

__all__ = ["add_status", "cmd_status"]

_ROWS = ("mode", "broker_link", "heartbeat", "halt", "daemons", "answered", "positions", "orders", "beads")


def add_status(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("status", parents=[common], help="print the system status")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    from seam.clock import SystemClock
    from seam.handlers.base import HandlerContext
    from seam.handlers.system import status_facts

    paths = seam_paths(args)
    require_seam(paths)
    config = load(paths)
    with console_runtime(paths, config) as runtime:
        facts = status_facts(HandlerContext(config.settings, paths, runtime.store, SystemClock()))
    if args.json:
        print(json.dumps(facts, indent=2, default=str))
        return EXIT_OK
    table = Table(title=f"seam status — {paths.root}", show_header=False)
    for key in _ROWS:
        table.add_row(key.replace("_", " "), str(facts[key]))
    table.add_row("queue", f"incoming {facts['queue']['incoming']}, processing {facts['queue']['processing']}")
    out.print(table)
    return EXIT_OK
