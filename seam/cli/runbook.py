"""`seam runbook [RB-00N]`: print one operator runbook (package data), or list them."""

from __future__ import annotations

import argparse

from seam.cli.common import EXIT_OK, EXIT_USAGE, Subparsers, err, out

__all__ = ["add_runbook", "cmd_runbook", "runbook_ids", "runbook_text"]


def add_runbook(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("runbook", parents=[common], help="print an operator runbook (RB-001..RB-008), or list them")
    p.add_argument("id", nargs="?", help="the runbook, e.g. RB-004 (default: list them)")
    p.set_defaults(func=cmd_runbook)


def runbook_ids() -> list[str]:
    from seam.mcp.resources import runbooks_folder

    return sorted(e.name.removesuffix(".md") for e in runbooks_folder().iterdir() if e.name.endswith(".md"))


def runbook_text(runbook_id: str) -> str | None:
    """The runbook's markdown, or None when there is no such runbook (ids outside RB-NNN are never looked up)."""
    import re

    from seam.mcp.resources import RUNBOOK_PATTERN, runbooks_folder

    if not re.fullmatch(RUNBOOK_PATTERN, runbook_id.upper()):
        return None
    entry = runbooks_folder().joinpath(f"{runbook_id.upper()}.md")
    return entry.read_text(encoding="utf-8") if entry.is_file() else None


def cmd_runbook(args: argparse.Namespace) -> int:
    if not args.id:
        for runbook_id in runbook_ids():
            title = (runbook_text(runbook_id) or "").splitlines()[0].lstrip("# ")
            out.print(title, markup=False)
        return EXIT_OK
    text = runbook_text(args.id)
    if text is None:
        err.print(f"seam: no runbook {args.id!r}; there are {', '.join(runbook_ids())}", markup=False)
        return EXIT_USAGE
    out.print(text, markup=False, end="")
    return EXIT_OK
