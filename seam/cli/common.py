"""What every `seam` command shares: the seam and its configuration, a console runtime, output, exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

from rich.console import Console

from seam.errors import ConfigError, Problem
from seam.paths import SeamPaths

if TYPE_CHECKING:
    from seam.clock import Clock
    from seam.config import LoadedConfig, Secrets
    from seam.runtime import Runtime

__all__ = [
    "EXIT_NOT_OK",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "Subparsers",
    "clock",
    "console_runtime",
    "err",
    "interactive",
    "load",
    "out",
    "print_problems",
    "refuse_without_terminal",
    "require_seam",
    "seam_paths",
    "setup_logging",
]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_NOT_OK, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3

# what `add_subparsers()` returns; each command module adds its parsers to it
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def seam_paths(args: argparse.Namespace) -> SeamPaths:
    """--seam DIR, else $SEAM_ROOT, else the current folder."""
    root = args.seam or os.environ.get("SEAM_ROOT") or os.getcwd()
    return SeamPaths.at(root)


def load(paths: SeamPaths, cli: dict[str, Any] | None = None) -> LoadedConfig:
    from seam.config import load_config  # the settings' models: commands that read no configuration start without

    return load_config(paths, cli=cli)


def require_seam(paths: SeamPaths) -> None:
    if not paths.is_initialised():
        raise ConfigError("seam", f"{paths.root} is not a seam (run `seam init {paths.root}` or pass --seam DIR)")


@contextmanager
def console_runtime(paths: SeamPaths, config: LoadedConfig) -> Iterator[Runtime]:
    """A console's runtime (the store, no broker), closed when the block ends."""
    from seam.runtime import Runtime  # the broker and approval modules load only for commands that need a store

    runtime = Runtime.console(paths, config, clock=clock())  # the daemon's market clock: a code's expiry, beads
    try:
        yield runtime
    finally:
        runtime.close()


def clock() -> Clock:
    """The market clock: the system's, or the simulated one SEAM_CLOCK_START names."""
    from seam.clock import CLOCK_ENV, clock_from_env

    try:
        return clock_from_env()
    except ValueError as exc:
        raise ConfigError(CLOCK_ENV, str(exc)) from None


def setup_logging(level: str, secrets: Secrets | None = None) -> None:
    """Logs to stderr, with every account id and configured secret masked in every record (the IB library's too)."""
    from seam.config import Secrets
    from seam.logmask import SecretMask, install

    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    secrets = secrets or Secrets()
    accounts = [secrets.ib_account] if secrets.ib_account else []
    # INV: account ids and secrets are masked in every output, the IB library's log records included
    install(SecretMask(accounts=[a.get_secret_value() for a in accounts], secrets=secrets.masked()))


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def refuse_without_terminal(what: str, config: LoadedConfig) -> int | None:
    """An exit code when codes may not be shown here (strict mode, or no person at a terminal); else None."""
    # INV: codes are shown only to a person at an interactive terminal, never to a pipe an agent reads
    if config.settings.approval.strict:
        err.print(f"seam: {what} is off in strict mode: approval codes go to Telegram only")
        return EXIT_USAGE
    if not interactive():
        err.print(
            f"seam: {what} shows approval codes and needs a person at an interactive terminal "
            "(scripts: `seam approve PROPOSAL --code CODE`)"
        )
        return EXIT_USAGE
    return None


def print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        out.print(f"  {problem.path or '(file)'}: {problem.message}", markup=False)
