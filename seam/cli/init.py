"""`seam init`: create a seam (its folders, a commented seam.yaml, the bead store), or say it is there."""

from __future__ import annotations

import argparse
import os

from seam.cli.common import EXIT_OK, Subparsers, console_runtime, out
from seam.config import load_config, render_commented_yaml
from seam.paths import SeamPaths

__all__ = ["add_init", "cmd_init"]


def add_init(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("init", parents=[common], help="create a seam (folders, commented seam.yaml, bead store)")
    p.add_argument("dir", nargs="?", help="where (default: --seam, $SEAM_ROOT or the current folder)")
    p.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    paths = SeamPaths.at(args.dir or args.seam or os.environ.get("SEAM_ROOT") or os.getcwd())
    existed = paths.is_initialised()
    paths.create_folders()
    if not paths.config_file.exists():
        paths.config_file.write_text(render_commented_yaml(), encoding="utf-8")
    with console_runtime(paths, load_config(paths)):
        pass  # opening the store creates it (or brings an older one's schema up to date)
    out.print(f"{'Seam already present' if existed else 'Created a seam'} at [bold]{paths.root}[/]")
    for folder in paths.folders():
        out.print(f"  {folder.relative_to(paths.root)}/")
    out.print(f"  {paths.config_file.name} (commented defaults)\n  {paths.db.name} (bead store)")
    out.print(f"Next: [bold]seam watch --seam {paths.root}[/] and drop intents into intents/incoming/")
    return EXIT_OK
