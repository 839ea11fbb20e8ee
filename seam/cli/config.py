"""`seam config show`: every setting in force (secrets redacted), and with --sources where each came from."""

from __future__ import annotations

import argparse

from rich.table import Table

from seam.cli.common import EXIT_OK, Subparsers, load, out, seam_paths

__all__ = ["add_config", "cmd_config_show"]


def add_config(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    config = sub.add_parser("config", parents=[common], help="configuration")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    p = config_sub.add_parser("show", parents=[common], help="print every setting (secrets redacted)")
    p.add_argument("--sources", action="store_true", help="also where each value came from")
    p.set_defaults(func=cmd_config_show)


def cmd_config_show(args: argparse.Namespace) -> int:
    paths = seam_paths(args)
    config = load(paths)
    table = Table(title=f"configuration — {paths.root}")
    table.add_column("key")
    table.add_column("value")
    if args.sources:
        table.add_column("source")
    for key, value, source in config.rows():
        if args.sources:
            table.add_row(key, value, source)
        else:
            table.add_row(key, value)
    out.print(table)
    return EXIT_OK
