"""`seam broker status` and `seam broker reconnect`: the link the running daemon runs, and the configured one apart.

The running daemon's mode, gateway port, account (masked) and link state are what the daemon that owns the
broker published; the configuration (this shell's seam.yaml, .env and environment) applies from the next
start only, so a difference is said plainly.
"""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from seam.cli.common import EXIT_OK, Subparsers, console_runtime, load, out, require_seam, seam_paths
from seam.config import LoadedConfig
from seam.store import PublishedLink

__all__ = ["add_broker", "cmd_broker_reconnect", "cmd_broker_status"]


def add_broker(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    broker = sub.add_parser("broker", parents=[common], help="the broker link")
    broker_sub = broker.add_subparsers(dest="broker_command", metavar="ACTION", required=True)
    p = broker_sub.add_parser("status", parents=[common], help="mode, account, port and link state")
    p.set_defaults(func=cmd_broker_status)
    p = broker_sub.add_parser(
        "reconnect", parents=[common], help="ask the running daemon to reconnect now (after an escalation, RB-001)"
    )
    p.set_defaults(func=cmd_broker_reconnect)


def cmd_broker_status(args: argparse.Namespace) -> int:
    from seam.handlers.system import mode_difference, running_mode
    from seam.intake import live_owners

    paths = seam_paths(args)
    require_seam(paths)
    config = load(paths)
    with console_runtime(paths, config) as runtime:
        published = runtime.store.flags.link()
    daemons = live_owners(paths.processing)
    running = running_mode(published, daemons)
    table = Table(title=f"broker — {paths.root}", show_header=False)
    _running_rows(table, running, published if daemons else None)
    _configured_rows(table, config)
    difference = mode_difference(running, config.settings.broker.mode, config.source_of("broker.mode"))
    if difference:
        table.add_row("[bold red]difference[/]", f"[bold red]{escape(difference)}[/]")
    out.print(table)
    return EXIT_OK


def _running_rows(table: Table, running: str, published: PublishedLink | None) -> None:
    """What the running daemon runs, as it published it; a stopped daemon's last link is not shown as now."""
    table.add_row("mode (running daemon)", escape(running))
    if published is None:
        if running.startswith("unknown"):
            table.add_row("link", "unknown: the running daemon has not published its link yet")
        return
    table.add_row(
        "gateway (running daemon)", "in-process fake broker" if published.mode == "mock" else f"port {published.port}"
    )
    table.add_row("account (gateway)", escape(published.account or "-"))
    table.add_row("link", escape(f"{published.state} — as the daemon published it at {published.at}"))
    if published.detail:
        table.add_row("detail", escape(published.detail))


def _configured_rows(table: Table, config: LoadedConfig) -> None:
    from seam.broker.guards import default_port
    from seam.broker.types import Mode
    from seam.handlers.system import configured_mode

    broker = config.settings.broker
    mode = Mode(broker.mode)
    table.add_row("mode (configured)", escape(configured_mode(mode, config.source_of("broker.mode"))))
    table.add_row(
        "gateway (configured)",
        "in-process fake broker"
        if mode is Mode.MOCK
        else f"{broker.host}:{broker.port or default_port(mode)} (client id {broker.client_id})",
    )
    table.add_row(
        "account (configured)",
        "from the gateway" if config.secrets.ib_account is None else "set (SEAM_IB_ACCOUNT, redacted)",
    )
    table.add_row("live allowed (this environment)", _live_allowed(config))


def _live_allowed(config: LoadedConfig) -> str:
    """IBKR_ALLOW_LIVE as a start from this shell would see it: only the process environment counts."""
    if config.secrets.allow_live:
        return "yes (IBKR_ALLOW_LIVE=true in this environment)"
    if config.secrets.allow_live_in_dotenv:
        return "no (IBKR_ALLOW_LIVE=true is only in .env, which does not count: it must be in the environment)"
    return "no"


def cmd_broker_reconnect(args: argparse.Namespace) -> int:
    paths = seam_paths(args)
    require_seam(paths)
    with console_runtime(paths, load(paths)) as runtime:
        store = runtime.store
        with store.transaction() as tx:
            bead = store.append("IBKR_SESSION", {"event": "RECONNECT_REQUESTED", "by": "console"}, conn=tx)
            store.flags.request_reconnect(tx, bead.seq)
    out.print("Reconnect requested; the running daemon acts on it within a second (see `seam broker status`).")
    return EXIT_OK
