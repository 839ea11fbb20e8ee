"""`seam broker status` and `seam broker reconnect`: the link as configured and as the daemon published it."""

from __future__ import annotations

import argparse

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
    paths = seam_paths(args)
    require_seam(paths)
    config = load(paths)
    with console_runtime(paths, config) as runtime:
        published = runtime.store.flags.link()
    table = Table(title=f"broker — {paths.root}", show_header=False)
    _configured_rows(table, config)
    _published_rows(table, published)
    out.print(table)
    return EXIT_OK


def _configured_rows(table: Table, config: LoadedConfig) -> None:
    from seam.broker.guards import default_port
    from seam.broker.types import Mode

    broker = config.settings.broker
    mode = Mode(broker.mode)
    table.add_row("mode (configured)", mode.upper())
    table.add_row(
        "gateway",
        "in-process fake broker"
        if mode is Mode.MOCK
        else f"{broker.host}:{broker.port or default_port(mode)} (client id {broker.client_id})",
    )
    table.add_row(
        "account (configured)",
        "from the gateway" if config.secrets.ib_account is None else "set (SEAM_IB_ACCOUNT, redacted)",
    )
    table.add_row("live allowed", "yes (IBKR_ALLOW_LIVE=true)" if config.secrets.allow_live else "no")


def _published_rows(table: Table, published: PublishedLink | None) -> None:
    if published is None:
        table.add_row("link", "unknown: no daemon has published a link state (is `seam watch` running?)")
        return
    table.add_row("link", f"{published.state} — as the daemon published it at {published.at}")
    table.add_row("account (gateway)", published.account or "-")
    if published.detail:
        table.add_row("detail", published.detail)


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
