"""The `seam` command: a parser built from one module per command group, and the map from errors to exit codes.

Commands: init, watch, submit, status, health, heartbeat-check, halt, validate, schema, beads, config, broker,
approvals, approve, resume, runbook, service, data, hunt, demo, mcp.

Every command takes `--seam DIR` (or the environment variable SEAM_ROOT; default: the current
folder). Exit codes: 0 success, 1 the thing asked about is not ok (invalid intent, rejected or
failed response, broken chain), 2 usage or configuration error, 3 timed out.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from seam import __version__
from seam.cli import (
    approvals,
    beads,
    broker,
    config,
    data,
    demo,
    halt,
    health,
    hunt,
    init,
    intents,
    mcp,
    runbook,
    service,
    status,
    watch,
)
from seam.cli.common import EXIT_NOT_OK, EXIT_TIMEOUT, EXIT_USAGE, Subparsers, err
from seam.errors import ConfigError, GuardViolation, ResponseTimeout, SeamError

__all__ = ["build_parser", "main"]

# the order `seam --help` lists them in
COMMANDS: tuple[Callable[[Subparsers, argparse.ArgumentParser], None], ...] = (
    init.add_init,
    watch.add_watch,
    intents.add_submit,
    status.add_status,
    health.add_health,
    health.add_heartbeat_check,
    halt.add_halt,
    intents.add_validate,
    intents.add_schema,
    beads.add_beads,
    config.add_config,
    broker.add_broker,
    approvals.add_approvals,
    approvals.add_approve,
    approvals.add_resume,
    runbook.add_runbook,
    service.add_service,
    data.add_data,
    hunt.add_hunt,
    demo.add_demo,
    mcp.add_mcp,
)

EXAMPLES = """Examples:
  seam init ~/desk
  seam watch --seam ~/desk
  seam submit --seam ~/desk intent.yaml
  seam beads verify --seam ~/desk"""


def build_parser() -> argparse.ArgumentParser:
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
    for add in COMMANDS:
        add(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not hasattr(args, "seam"):
        args.seam = None
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
