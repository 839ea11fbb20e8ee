"""`seam status`: the status facts of the seam, read without a daemon: the mode and broker link the running daemon
published (or that none is running), the configured mode apart, labelled, and a difference said plainly."""

from __future__ import annotations

import argparse
import json

from rich.markup import escape
from rich.table import Table

from seam.cli.common import EXIT_OK, Subparsers, console_runtime, load, out, require_seam, seam_paths

__all__ = ["add_status", "cmd_status"]

_ROWS = ("broker_link", "heartbeat", "halt", "daemons", "answered", "positions", "orders", "beads")


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
        context = HandlerContext(config.settings, paths, runtime.store, SystemClock())
        facts = status_facts(context, mode_source=config.source_of("broker.mode"))
    if args.json:
        print(json.dumps(facts, indent=2, default=str))
        return EXIT_OK
    table = Table(title=f"seam status — {paths.root}", show_header=False)
    table.add_row("mode (running daemon)", escape(facts["mode"]))
    table.add_row("mode (configured)", escape(facts["configured_mode"]))
    if facts["mode_difference"]:
        table.add_row("[bold red]difference[/]", f"[bold red]{escape(facts['mode_difference'])}[/]")
    table.add_row("broker owner", escape(facts["broker_owner"]))
    for key in _ROWS:
        table.add_row(key.replace("_", " "), escape(str(facts[key])))  # the halt reason is an intent's text
    table.add_row("queue", f"incoming {facts['queue']['incoming']}, processing {facts['queue']['processing']}")
    out.print(table)
    return EXIT_OK
