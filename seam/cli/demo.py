"""`seam demo`: the guided demo, on the in-process fake broker or the fake IB Gateway."""

from __future__ import annotations

import argparse

from seam.cli.common import Subparsers, out

__all__ = ["add_demo", "cmd_demo"]


def add_demo(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo",
        parents=[common],
        help="the guided demo: signals, a human's approval, fills, exits, a restart, a halt drill",
    )
    p.add_argument(
        "--mode",
        choices=["mock", "paper"],
        default="mock",
        help="mock: the in-process fake broker; paper: the fake IB Gateway through the real IB client",
    )
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from seam.demo import run_demo

    return run_demo(args.seam, out=out, mode=args.mode)
