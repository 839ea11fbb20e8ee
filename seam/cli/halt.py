"""`seam halt [--reason TEXT]`: the emergency stop, written into intents/priority/ so it goes ahead of any backlog."""

from __future__ import annotations

import argparse
import getpass
import os

from seam.cli.common import Subparsers, load, require_seam, seam_paths
from seam.cli.intents import submit_and_print

__all__ = ["add_halt", "cmd_halt"]


def add_halt(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "halt",
        parents=[common],
        help="halt: the halt flag on, working orders cancelled, every capital action blocked",
    )
    p.add_argument(
        "--reason", default="", help="why (recorded in the HALT bead; default: who called it and from where)"
    )
    p.add_argument("--keep-orders", action="store_true", help="leave working orders at the broker")
    p.add_argument("--id", dest="intent_id", help="the intent id (default: halt-<random>)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the response (default 30)")
    p.add_argument("--no-wait", action="store_true", help="write it and return at once")
    p.set_defaults(func=cmd_halt)


def cmd_halt(args: argparse.Namespace) -> int:
    paths = seam_paths(args)
    require_seam(paths)
    config = load(paths)
    intent = {
        "seam": 1,
        "id": args.intent_id or f"halt-{os.urandom(4).hex()}",
        "kind": "halt",
        "payload": {"reason": args.reason or _default_reason(), "cancel_orders": not args.keep_orders},
    }
    return submit_and_print(paths, config, intent, timeout=args.timeout, wait=not args.no_wait)


def _default_reason() -> str:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "someone"
    return f"seam halt by {who} at the command line"
