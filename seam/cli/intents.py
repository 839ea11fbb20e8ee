"""`seam submit`, `seam validate`, `seam schema export`: intents checked by the daemon's rules, sent, answered."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.markup import escape

from seam import client
from seam.cli.common import (
    EXIT_NOT_OK,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    clock,
    err,
    load,
    out,
    print_problems,
    require_seam,
    seam_paths,
)
from seam.config import LoadedConfig
from seam.errors import IntentError
from seam.paths import SeamPaths

__all__ = [
    "add_schema",
    "add_submit",
    "add_validate",
    "cmd_schema_export",
    "cmd_submit",
    "cmd_validate",
    "print_response",
    "submit_and_print",
]


def add_submit(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("submit", parents=[common], help="write an intent into the seam and wait for its response")
    p.add_argument("file", help="intent file, or - for standard input")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the response (default 30)")
    p.add_argument("--no-wait", action="store_true", help="write it and return at once")
    p.set_defaults(func=cmd_submit)


def add_validate(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("validate", parents=[common], help="check intent files; exit 0 when all are valid")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_validate)


def add_schema(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    schema = sub.add_parser("schema", parents=[common], help="JSON Schemas of the intents")
    schema_sub = schema.add_subparsers(dest="schema_command", metavar="ACTION", required=True)
    p = schema_sub.add_parser("export", parents=[common], help="write one JSON Schema per kind into DIR")
    p.add_argument("dir")
    p.set_defaults(func=cmd_schema_export)


def cmd_submit(args: argparse.Namespace) -> int:
    paths = seam_paths(args)
    require_seam(paths)
    config = load(paths)
    try:
        data = (
            sys.stdin.buffer.read(config.settings.intake.max_bytes + 1)
            if args.file == "-"
            else Path(args.file).read_bytes()
        )
    except OSError as exc:
        err.print(f"seam: cannot read {args.file}: {exc.strerror or exc}; nothing was sent", markup=False)
        return EXIT_USAGE
    return submit_and_print(paths, config, data, timeout=args.timeout, wait=not args.no_wait)


def submit_and_print(
    paths: SeamPaths, config: LoadedConfig, intent: bytes | Mapping[str, Any], *, timeout: float, wait: bool = True
) -> int:
    """Check the intent here, write it atomically, wait for the response that matches it, print it."""
    try:
        submitted = client.submit(paths, config, intent, clock=clock())
    except IntentError as exc:
        out.print("[red]rejected[/] (checked before sending; nothing was written to the seam):")
        print_problems(exc.problems)
        return EXIT_NOT_OK
    if not wait:
        out.print(f"submitted {submitted.id} as {submitted.path.relative_to(paths.root)}")
        return EXIT_OK
    return print_response(client.wait_for_response(paths, submitted, timeout=timeout))


def print_response(response: client.Response) -> int:
    """The response for a person at a terminal (rendered), or as it is for a pipe; the exit code its status means."""
    if out.is_terminal:
        out.print(f"[bold]{response.path}[/] ({response.status})")
        from rich.markdown import Markdown  # only at a terminal: it costs a tenth of a second to import

        out.print(Markdown(response.body))
    else:
        sys.stdout.write(response.text)
    return EXIT_OK if response.succeeded else EXIT_NOT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    config = load(seam_paths(args))
    market_clock = clock()
    bad = 0
    for name in args.files:
        path = Path(name)
        try:
            intent = client.check_intent(
                _read_capped(path, config.settings.intake.max_bytes), config, clock=market_clock
            )
        except OSError as exc:
            bad += 1
            out.print(f"[red]INVALID[/] {escape(str(path))}: cannot read: {escape(str(exc.strerror))}")
        except IntentError as exc:
            bad += 1
            out.print(f"[red]INVALID[/] {escape(str(path))}")
            print_problems(exc.problems)
        else:
            out.print(f"[green]VALID[/]   {escape(str(path))} (id {intent.id}, kind {intent.kind})")
    return EXIT_NOT_OK if bad else EXIT_OK


def _read_capped(path: Path, max_bytes: int) -> bytes:
    """At most one byte past the limit: enough for validation to refuse a file that is too big."""
    with path.open("rb") as handle:
        return handle.read(max_bytes + 1)


def cmd_schema_export(args: argparse.Namespace) -> int:
    from seam.schema import export_schemas

    written = export_schemas(Path(args.dir))
    out.print(f"wrote {len(written)} schemas to {args.dir}")
    return EXIT_OK
