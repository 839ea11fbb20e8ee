"""`seam status`: the status facts of the seam, read without a daemon: the mode and broker link the running daemon
published (or that none is running), the configured mode apart, labelled, and a difference said plainly."""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from rich.markup import escape
from rich.table import Table

from seam.cli.common import EXIT_OK, Subparsers, console_runtime, load, out, require_seam, seam_paths
from seam.store.flags import BrokerLease

__all__ = ["add_status", "broker_owner", "cmd_status"]

_ROWS = ("broker_link", "heartbeat", "halt", "daemons", "answered", "positions", "orders", "beads")


def add_status(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("status", parents=[common], help="print the system status")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)


def broker_owner(lease: BrokerLease | None, now: datetime) -> str:
    """Which daemon owns the seam's broker (its lease), in words: only that daemon connects to the broker."""
    if lease is None:
        return "none: no daemon holds the broker lease"
    until = datetime.fromisoformat(lease.expires_at)
    if lease.expired(now):
        return f"none: the lease of daemon {lease.owner} (pid {lease.pid}) ran out at {until:%Y-%m-%d %H:%M:%S} UTC"
    return f"daemon {lease.owner} (pid {lease.pid} on {lease.host}), since {lease.since[:19]}; renewed every second"


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
        facts["broker_owner"] = broker_owner(runtime.store.flags.lease(), SystemClock().now())
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
