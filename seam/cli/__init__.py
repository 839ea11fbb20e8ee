"""The `seam` command: a parser built from one module per command group, and the map from errors to exit codes.

Commands: init, watch, submit, status, health, heartbeat-check, halt, validate, schema, beads, config, broker,
approvals, approve, resume, runbook, service, data, hunt, demo, mcp.

Every command takes `--seam DIR` (or the environment variable SEAM_ROOT; default: the current
folder). Exit codes: 0 success, 1 the thing asked about is not ok (invalid intent, rejected or
failed response, broken chain), 2 usage or configuration error, 3 timed out.

A run imports the module of the command it names and nothing else (each module imports what its command
needs when the command runs), so `seam --version` and every short command start quickly; `seam --help`
builds every command's parser to list them all.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from seam import __version__

if TYPE_CHECKING:
    from seam.cli.common import Subparsers

__all__ = ["build_parser", "main"]

# command → (its module in seam.cli, the function that adds its parser), in the order `seam --help` lists them
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "add_init"),
    "watch": ("watch", "add_watch"),
    "submit": ("intents", "add_submit"),
    "status": ("status", "add_status"),
    "health": ("health", "add_health"),
    "heartbeat-check": ("health", "add_heartbeat_check"),
    "halt": ("halt", "add_halt"),
    "validate": ("intents", "add_validate"),
    "schema": ("intents", "add_schema"),
    "beads": ("beads", "add_beads"),
    "config": ("config", "add_config"),
    "broker": ("broker", "add_broker"),
    "approvals": ("approvals", "add_approvals"),
    "approve": ("approvals", "add_approve"),
    "resume": ("approvals", "add_resume"),
    "runbook": ("runbook", "add_runbook"),
    "service": ("service", "add_service"),
    "data": ("data", "add_data"),
    "hunt": ("hunt", "add_hunt"),
    "demo": ("demo", "add_demo"),
    "mcp": ("mcp", "add_mcp"),
}

EXAMPLES = """Examples:
  seam init ~/desk
  seam watch --seam ~/desk
  seam submit --seam ~/desk intent.yaml
  seam beads verify --seam ~/desk"""


def _adder(command: str) -> Callable[[Subparsers, argparse.ArgumentParser], None]:
    module, name = COMMANDS[command]
    add: Callable[[Subparsers, argparse.ArgumentParser], None] = getattr(
        importlib.import_module(f"seam.cli.{module}"), name
    )
    return add


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or only with `commands` (their modules are the only ones imported)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--seam",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="the seam folder (default: $SEAM_ROOT, else the current folder)",
    )
    parser = argparse.ArgumentParser(
        prog="seam",
        parents=[common],
        description="A file seam between an AI agent and a trading desk: YAML intents in, markdown responses out.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"seam {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS if commands is None else commands:
        _adder(command)(sub, common)
    return parser


def _commands_for(argv: Sequence[str]) -> Sequence[str] | None:
    """The commands whose parsers parsing `argv` needs: all (None) for help, or for a word that names no command
    (argparse lists them); else the one it names; none for --version or a missing command (the top level answers)."""
    top = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    top.add_argument("--seam")
    top.add_argument("-h", "--help", action="store_true")
    top.add_argument("command", nargs="?")
    try:
        known, _ = top.parse_known_args(argv)
    except argparse.ArgumentError:
        return None  # the whole parser says what is wrong
    if known.help or (known.command is not None and known.command not in COMMANDS):
        return None
    return [known.command] if known.command else []


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_commands_for(argv)).parse_args(argv)
    if not hasattr(args, "seam"):
        args.seam = None
    from seam.cli.common import EXIT_NOT_OK, EXIT_TIMEOUT, EXIT_USAGE, err
    from seam.errors import ConfigError, GuardViolation, ResponseTimeout, SeamError

    try:
        code: int = args.func(args)
        return code
    except ConfigError as exc:
        err.print(f"seam: configuration error: {exc}", markup=False)
        return EXIT_USAGE
    except GuardViolation as exc:  # a safety rule refused to start or act: the operator must change something
        err.print(f"seam: refused by the {exc.guard} guard: {exc.message}", markup=False)
        return EXIT_USAGE
    except ResponseTimeout as exc:  # the intent stays in the seam; a daemon answers it later
        err.print(f"seam: {exc}", markup=False)
        return EXIT_TIMEOUT
    except SeamError as exc:
        err.print(f"seam: {exc}", markup=False)
        return EXIT_NOT_OK
    except KeyboardInterrupt:
        return 130
