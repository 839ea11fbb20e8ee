"""`seam beads verify` and `seam beads tail`: prove the audit chain, and follow it."""

from __future__ import annotations

import argparse
import json
import time

from seam.cli.common import EXIT_NOT_OK, EXIT_OK, Subparsers, console_runtime, load, out, require_seam, seam_paths
from seam.store import Store

__all__ = ["add_beads", "cmd_beads_tail", "cmd_beads_verify"]


def add_beads(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    beads = sub.add_parser("beads", parents=[common], help="the audit chain")
    beads_sub = beads.add_subparsers(dest="beads_command", metavar="ACTION", required=True)
    p = beads_sub.add_parser("verify", parents=[common], help="prove the hash chain; exit 1 naming the first bad bead")
    p.set_defaults(func=cmd_beads_verify)
    p = beads_sub.add_parser("tail", parents=[common], help="print the latest beads and follow new ones")
    p.add_argument("-n", "--lines", type=int, default=20)
    p.add_argument("--type", help="only beads of this type (e.g. INTENT, HALT)")
    p.add_argument("--no-follow", dest="follow", action="store_false", help="print and exit")
    p.set_defaults(func=cmd_beads_tail)


def cmd_beads_verify(args: argparse.Namespace) -> int:
    paths = seam_paths(args)
    require_seam(paths)
    with console_runtime(paths, load(paths)) as runtime:
        result = runtime.store.verify()
    if result.ok:
        out.print(f"[green]chain intact[/]: {result.count} bead(s) verified")
        return EXIT_OK
    out.print(
        f"[red]chain broken[/] at bead {result.first_bad}: {result.reason} ({result.count} bead(s) before it verified)"
    )
    return EXIT_NOT_OK


def cmd_beads_tail(args: argparse.Namespace) -> int:
    paths = seam_paths(args)
    require_seam(paths)
    with console_runtime(paths, load(paths)) as runtime:
        try:
            _tail(runtime.store, lines=args.lines, type_=args.type, follow=args.follow)
        except KeyboardInterrupt:
            pass
    return EXIT_OK


def _tail(store: Store, *, lines: int, type_: str | None, follow: bool) -> None:
    last = max(0, store.last_seq() - lines)
    while True:
        for bead in store.beads(after=last, type_=type_):
            out.print(
                f"{bead.seq:>7} {bead.at} {bead.type:<14} {bead.intent_id or '-':<24} "
                f"{json.dumps(bead.payload, sort_keys=True)}",
                markup=False,
            )
            last = bead.seq
        if not follow:
            return
        time.sleep(0.5)
