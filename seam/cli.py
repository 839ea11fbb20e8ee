"""The `seam` command: init, watch, submit, status, validate, schema, beads, config, resume, demo.

Every command takes `--seam DIR` (or the environment variable SEAM_ROOT; default: the current
folder). Exit codes: 0 success, 1 the thing asked about is not ok (invalid intent, rejected or
failed response, broken chain), 2 usage or configuration error, 3 timed out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table

from seam import __version__
from seam.clock import CLOCK_ENV, Clock, ShiftedClock, clock_from_env
from seam.config import LoadedConfig, load_config, render_commented_yaml
from seam.errors import ConfigError, GuardViolation, IntentError, SeamError
from seam.paths import SeamPaths, write_atomic
from seam.store import Store

__all__ = ["main"]

logger = logging.getLogger("seam")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_NOT_OK, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3


# ---- helpers ---------------------------------------------------------------------------------------


def _paths(args: argparse.Namespace) -> SeamPaths:
    root = args.seam or os.environ.get("SEAM_ROOT") or os.getcwd()
    return SeamPaths.at(root)


def _config(args: argparse.Namespace, paths: SeamPaths, cli: dict[str, Any] | None = None) -> LoadedConfig:
    return load_config(paths, cli=cli)


def _require_seam(paths: SeamPaths) -> None:
    if not paths.is_initialised():
        raise ConfigError("seam", f"{paths.root} is not a seam (run `seam init {paths.root}` or pass --seam DIR)")


def _setup_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level, logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _store(paths: SeamPaths, config: LoadedConfig) -> Store:
    """The store of a console's runtime (no broker): closing it closes the runtime."""
    from seam.runtime import Runtime

    return Runtime.console(paths, config).store


def _clock() -> Clock:
    try:
        return clock_from_env()
    except ValueError as exc:
        raise ConfigError(CLOCK_ENV, str(exc)) from None


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


# ---- commands ----------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    paths = SeamPaths.at(args.dir or args.seam or os.environ.get("SEAM_ROOT") or os.getcwd())
    existed = paths.is_initialised()
    paths.create_folders()
    if not paths.config_file.exists():
        paths.config_file.write_text(render_commented_yaml(), encoding="utf-8")
    config = load_config(paths)
    _store(paths, config).close()
    out.print(f"{'Seam already present' if existed else 'Created a seam'} at [bold]{paths.root}[/]")
    for folder in paths.folders():
        out.print(f"  {folder.relative_to(paths.root)}/")
    out.print(f"  {paths.config_file.name} (commented defaults)\n  {paths.db.name} (bead store)")
    out.print(f"Next: [bold]seam watch --seam {paths.root}[/] and drop intents into intents/incoming/")
    return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    from seam.daemon import Daemon, install_signal_handlers

    paths = _paths(args)
    _require_seam(paths)
    flags = {"intake.polling": True if args.polling else None, "handlers.concurrency": args.concurrency,
             "intake.rescan_seconds": args.rescan_seconds, "log.level": args.log_level}
    config = _config(args, paths, flags)
    _setup_logging(config.settings.log.level)
    clock = _clock()
    if isinstance(clock, ShiftedClock):
        logger.warning("the market clock is simulated: it started at %s (SEAM_CLOCK_START)", clock.start.isoformat())
    daemon = Daemon(paths, config, clock=clock)

    async def run() -> None:
        if not args.once:
            install_signal_handlers(daemon)
        summary = await daemon.run(once=args.once)
        if args.once:
            err.print(f"answered {summary.answered} intent(s): "
                      + (", ".join(f"{k} {v}" for k, v in sorted(summary.by_status.items())) or "none"))

    asyncio.run(run())
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from seam.pipeline import Pipeline  # noqa: F401  (imports the handlers' semantic checks)
    from seam.validate import CheckContext, validate_file

    paths = _paths(args)
    settings = _config(args, paths).settings
    from datetime import timedelta

    ctx = CheckContext(now=_clock().now(), future_skew=timedelta(seconds=settings.validation.future_skew_seconds),
                       active_pairs=frozenset(str(p) for p in settings.pairs.active))
    bad = 0
    for name in args.files:
        path = Path(name)
        try:
            intent = validate_file(path, ctx, max_bytes=settings.intake.max_bytes,
                                   max_depth=settings.validation.max_depth)
        except OSError as exc:
            bad += 1
            out.print(f"[red]INVALID[/] {escape(str(path))}: cannot read: {escape(str(exc.strerror))}")
        except IntentError as exc:
            bad += 1
            out.print(f"[red]INVALID[/] {escape(str(path))}")
            for problem in exc.problems:
                out.print(f"  {problem.path or '(file)'}: {problem.message}", markup=False)
        else:
            out.print(f"[green]VALID[/]   {escape(str(path))} (id {intent.id}, kind {intent.kind})")
    return EXIT_NOT_OK if bad else EXIT_OK


def cmd_submit(args: argparse.Namespace) -> int:
    paths = _paths(args)
    _require_seam(paths)
    settings = _config(args, paths).settings
    try:
        data = sys.stdin.buffer.read(settings.intake.max_bytes + 1) if args.file == "-" \
            else Path(args.file).read_bytes()
    except OSError as exc:
        err.print(f"seam: cannot read {args.file}: {exc.strerror or exc}; nothing was sent", markup=False)
        return EXIT_USAGE
    return _submit_and_wait(paths, settings, data, timeout=args.timeout, wait=not args.no_wait)


def _submit_and_wait(paths: SeamPaths, settings: Any, data: bytes, *, timeout: float, wait: bool = True) -> int:
    """Check the intent here, write it atomically, wait for the response that matches it, print it."""
    from datetime import timedelta

    from seam.respond import read_front_matter
    from seam.validate import CheckContext, validate_bytes

    ctx = CheckContext(now=_clock().now(), future_skew=timedelta(seconds=settings.validation.future_skew_seconds),
                       active_pairs=frozenset(str(p) for p in settings.pairs.active))
    try:
        intent = validate_bytes(data, ctx, max_bytes=settings.intake.max_bytes, max_depth=settings.validation.max_depth)
    except IntentError as exc:
        out.print("[red]rejected[/] (checked before sending; nothing was written to the seam):")
        for problem in exc.problems:
            out.print(f"  {problem.path or '(file)'}: {problem.message}", markup=False)
        return EXIT_NOT_OK
    name = f"{intent.id}-{os.urandom(3).hex()}.yaml"
    write_atomic(paths.incoming / name, data, tmp_dir=paths.tmp)
    if not wait:
        out.print(f"submitted {intent.id} as intents/incoming/{name}")
        return EXIT_OK
    deadline = time.monotonic() + timeout
    candidates = [paths.responses / f"{intent.id}.md", paths.responses / f"{intent.id}.{intent.intent_sha256[:8]}.md"]
    while time.monotonic() < deadline:
        if not (paths.incoming / name).exists() and not _still_processing(paths, name):
            for candidate in candidates:
                front = read_front_matter(candidate)
                if front and front.get("intent_sha256") == intent.intent_sha256:
                    return _print_response(candidate, str(front.get("status")))
        time.sleep(0.05)
    err.print(f"seam: no response for {intent.id} within {timeout:g} s; the intent is kept in the seam "
              "(is `seam watch` running?)")
    return EXIT_TIMEOUT


def _codes(paths: SeamPaths, config: LoadedConfig) -> dict[str, tuple[str, str]]:
    """proposal id → (code, expires_at) for pending proposals: the operator console's view only."""
    store = _store(paths, config)
    try:
        live = store.codes.live_for_pending()
    finally:
        store.close()
    return {pid: (row.code, row.expires_at.isoformat()) for pid, row in live.items()}


def _refuse_without_terminal(what: str, config: LoadedConfig) -> int | None:
    # INV: codes are shown only to a person at an interactive terminal, never to a pipe an agent reads
    if config.settings.approval.strict:
        err.print(f"seam: {what} is off in strict mode: approval codes go to Telegram only")
        return EXIT_USAGE
    if not _interactive():
        err.print(f"seam: {what} shows approval codes and needs a person at an interactive terminal "
                  "(scripts: `seam approve PROPOSAL --code CODE`)")
        return EXIT_USAGE
    return None


def cmd_approvals(args: argparse.Namespace) -> int:
    paths = _paths(args)
    _require_seam(paths)
    config = _config(args, paths)
    refused = _refuse_without_terminal("`seam approvals`", config)
    if refused is not None:
        return refused
    codes = _codes(paths, config)
    store = _store(paths, config)
    try:
        rows = store.proposals.pending()
    finally:
        store.close()
    if not rows:
        out.print("No proposals are waiting for approval.")
        return EXIT_OK
    table = Table(title="Proposals waiting for a human")
    for column in ("proposal", "kind", "pair", "side", "units", "entry · stop · target", "R:R", "code", "expires"):
        table.add_column(column)
    for row in rows:
        code, expires = codes.get(row.id, ("-", "-"))
        levels = f"{row.entry} · {row.stop} · {row.target}" if row.entry else "market"
        table.add_row(row.id, row.kind, row.pair, row.side, f"{row.units:,}", levels,
                      str(row.evidence.get("reward_risk", "-")), code, expires[11:19] if len(expires) > 19 else expires)
    out.print(table)
    out.print("Approve with `seam approve PROPOSAL`; reject with `seam approve PROPOSAL --reject`.")
    return EXIT_OK


def cmd_approve(args: argparse.Namespace) -> int:
    paths = _paths(args)
    _require_seam(paths)
    config = _config(args, paths)
    decision = "reject" if args.reject else "approve"
    code = args.code
    if code is None:
        refused = _refuse_without_terminal("`seam approve` without --code", config)
        if refused is not None:
            return refused
        response = paths.responses / f"{args.proposal}.md"
        if response.exists():
            out.print(Markdown(response.read_text(encoding="utf-8").split("\n---\n", 1)[-1]))
        found = _codes(paths, config).get(args.proposal)
        if found is None:
            err.print(f"seam: no pending proposal {args.proposal} with a live code")
            return EXIT_NOT_OK
        answer = input(f"{decision.capitalize()} proposal {args.proposal}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            out.print("Nothing was done.")
            return EXIT_NOT_OK
        code = found[0]
    intent_id = f"{decision}-{args.proposal}-{os.urandom(2).hex()}"[:64]
    data = (f"seam: 1\nid: {intent_id}\nkind: approve\nsession_id: console\n"
            f"payload: {{proposal: {args.proposal}, code: '{code}', decision: {decision}}}\n").encode()
    # The same path as an agent's approve intent: stale gate, then the order path with the code check.
    return _submit_and_wait(paths, config.settings, data, timeout=args.timeout)


def _still_processing(paths: SeamPaths, name: str) -> bool:
    suffix = "." + name
    for folder in paths.processing.iterdir() if paths.processing.exists() else []:
        if folder.is_dir() and any(p.name.endswith(suffix) for p in folder.iterdir()):
            return True
    return False


def _print_response(path: Path, status: str) -> int:
    text = path.read_text(encoding="utf-8")
    if out.is_terminal:
        out.print(f"[bold]{path}[/] ({status})")
        out.print(Markdown(text.split("\n---\n", 1)[-1]))
    else:
        sys.stdout.write(text)
    return EXIT_OK if status in ("ok", "pending_approval") else EXIT_NOT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from seam.clock import SystemClock
    from seam.handlers.base import HandlerContext
    from seam.handlers.system import status_facts

    paths = _paths(args)
    _require_seam(paths)
    config = _config(args, paths)
    store = _store(paths, config)
    try:
        facts = status_facts(HandlerContext(config.settings, paths, store, SystemClock()))
    finally:
        store.close()
    if args.json:
        print(json.dumps(facts, indent=2, default=str))
        return EXIT_OK
    table = Table(title=f"seam status — {paths.root}", show_header=False)
    for key in ("mode", "broker_link", "heartbeat", "halt", "daemons", "answered", "positions", "orders", "beads"):
        table.add_row(key.replace("_", " "), str(facts[key]))
    table.add_row("queue", f"incoming {facts['queue']['incoming']}, processing {facts['queue']['processing']}")
    out.print(table)
    return EXIT_OK


def cmd_schema_export(args: argparse.Namespace) -> int:
    from seam.schema import export_schemas

    written = export_schemas(Path(args.dir))
    out.print(f"wrote {len(written)} schemas to {args.dir}")
    return EXIT_OK


def cmd_beads_verify(args: argparse.Namespace) -> int:
    paths = _paths(args)
    _require_seam(paths)
    store = _store(paths, _config(args, paths))
    try:
        result = store.verify()
    finally:
        store.close()
    if result.ok:
        out.print(f"[green]chain intact[/]: {result.count} bead(s) verified")
        return EXIT_OK
    out.print(f"[red]chain broken[/] at bead {result.first_bad}: {result.reason} "
              f"({result.count} bead(s) before it verified)")
    return EXIT_NOT_OK


def cmd_beads_tail(args: argparse.Namespace) -> int:
    paths = _paths(args)
    _require_seam(paths)
    store = _store(paths, _config(args, paths))
    try:
        last = max(0, store.last_seq() - args.lines)
        while True:
            for bead in store.beads(after=last, type_=args.type):
                out.print(f"{bead.seq:>7} {bead.at} {bead.type:<14} {bead.intent_id or '-':<24} "
                          f"{json.dumps(bead.payload, sort_keys=True)}", markup=False)
                last = bead.seq
            if not args.follow:
                return EXIT_OK
            time.sleep(0.5)
            last = max(last, 0)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        store.close()


def cmd_config_show(args: argparse.Namespace) -> int:
    paths = _paths(args)
    config = _config(args, paths)
    table = Table(title=f"configuration — {paths.root}")
    table.add_column("key")
    table.add_column("value")
    if args.sources:
        table.add_column("source")
    for key, value, source in config.rows():
        table.add_row(key, value, source) if args.sources else table.add_row(key, value)
    out.print(table)
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    paths = _paths(args)
    _require_seam(paths)
    if not _interactive():
        err.print("seam: `seam resume` clears the halt and needs a person at an interactive terminal")
        return EXIT_USAGE
    config = _config(args, paths)
    store = _store(paths, config)
    try:
        state = store.flags.halt()
        if state is None:
            out.print("The halt flag is off; nothing to clear.")
            return EXIT_OK
        out.print(f"HALT is on since {state.at}: {state.reason}")
        if input("Clear the halt and allow capital actions again? [y/N] ").strip().lower() not in ("y", "yes"):
            out.print("Halt left on.")
            return EXIT_NOT_OK
        store.halt_off(by="console", note=args.note or "")
        out.print("Halt cleared.")
        return EXIT_OK
    finally:
        store.close()


def cmd_broker_status(args: argparse.Namespace) -> int:
    from seam.broker.guards import default_port
    from seam.broker.types import Mode

    paths = _paths(args)
    _require_seam(paths)
    config = _config(args, paths)
    store = _store(paths, config)
    try:
        published = store.flags.link()
    finally:
        store.close()
    broker = config.settings.broker
    mode = Mode(broker.mode)
    account = config.secrets.ib_account
    table = Table(title=f"broker — {paths.root}", show_header=False)
    table.add_row("mode (configured)", mode.upper())
    table.add_row("gateway", "in-process fake broker" if mode is Mode.MOCK
                  else f"{broker.host}:{broker.port or default_port(mode)} (client id {broker.client_id})")
    table.add_row("account (configured)", "from the gateway" if account is None else "set (SEAM_IB_ACCOUNT, redacted)")
    table.add_row("live allowed", "yes (IBKR_ALLOW_LIVE=true)" if config.secrets.allow_live else "no")
    if published:
        table.add_row("link", f"{published.state} — as the daemon published it at {published.at}")
        table.add_row("account (gateway)", published.account or "-")
        if published.detail:
            table.add_row("detail", published.detail)
    else:
        table.add_row("link", "unknown: no daemon has published a link state (is `seam watch` running?)")
    out.print(table)
    return EXIT_OK


def cmd_broker_reconnect(args: argparse.Namespace) -> int:
    paths = _paths(args)
    _require_seam(paths)
    store = _store(paths, _config(args, paths))
    try:
        with store.transaction() as tx:
            bead = store.append("IBKR_SESSION", {"event": "RECONNECT_REQUESTED", "by": "console"}, conn=tx)
            store.flags.request_reconnect(tx, bead.seq)
    finally:
        store.close()
    out.print("Reconnect requested; the running daemon acts on it within a second (see `seam broker status`).")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from seam.demo import run_demo

    return run_demo(args.seam, out=out, mode=args.mode)


# ---- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seam", metavar="DIR", default=argparse.SUPPRESS,
                        help="the seam folder (default: $SEAM_ROOT, else the current folder)")
    parser = argparse.ArgumentParser(
        prog="seam", parents=[common],
        description="A file seam between an AI agent and a trading desk: YAML intents in, markdown responses out.",
        epilog="Examples:\n  seam init ~/desk\n  seam watch --seam ~/desk\n  seam submit --seam ~/desk intent.yaml\n"
               "  seam beads verify --seam ~/desk",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"seam {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("init", parents=[common], help="create a seam (folders, commented seam.yaml, bead store)")
    p.add_argument("dir", nargs="?", help="where (default: --seam, $SEAM_ROOT or the current folder)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("watch", parents=[common], help="run the daemon")
    p.add_argument("--polling", action="store_true", help="polling observer (network and synced folders)")
    p.add_argument("--once", action="store_true", help="answer what is there now, then exit")
    p.add_argument("--concurrency", type=int, help="intents handled at once")
    p.add_argument("--rescan-seconds", type=float, help="full rescan interval")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("submit", parents=[common], help="write an intent into the seam and wait for its response")
    p.add_argument("file", help="intent file, or - for standard input")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the response (default 30)")
    p.add_argument("--no-wait", action="store_true", help="write it and return at once")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("status", parents=[common], help="print the system status")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("validate", parents=[common], help="check intent files; exit 0 when all are valid")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_validate)

    schema = sub.add_parser("schema", parents=[common], help="JSON Schemas of the intents")
    schema_sub = schema.add_subparsers(dest="schema_command", metavar="ACTION", required=True)
    p = schema_sub.add_parser("export", parents=[common], help="write one JSON Schema per kind into DIR")
    p.add_argument("dir")
    p.set_defaults(func=cmd_schema_export)

    beads = sub.add_parser("beads", parents=[common], help="the audit chain")
    beads_sub = beads.add_subparsers(dest="beads_command", metavar="ACTION", required=True)
    p = beads_sub.add_parser("verify", parents=[common], help="prove the hash chain; exit 1 naming the first bad bead")
    p.set_defaults(func=cmd_beads_verify)
    p = beads_sub.add_parser("tail", parents=[common], help="print the latest beads and follow new ones")
    p.add_argument("-n", "--lines", type=int, default=20)
    p.add_argument("--type", help="only beads of this type (e.g. INTENT, HALT)")
    p.add_argument("--no-follow", dest="follow", action="store_false", help="print and exit")
    p.set_defaults(func=cmd_beads_tail)

    config = sub.add_parser("config", parents=[common], help="configuration")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    p = config_sub.add_parser("show", parents=[common], help="print every setting (secrets redacted)")
    p.add_argument("--sources", action="store_true", help="also where each value came from")
    p.set_defaults(func=cmd_config_show)

    broker = sub.add_parser("broker", parents=[common], help="the broker link")
    broker_sub = broker.add_subparsers(dest="broker_command", metavar="ACTION", required=True)
    p = broker_sub.add_parser("status", parents=[common], help="mode, account, port and link state")
    p.set_defaults(func=cmd_broker_status)
    p = broker_sub.add_parser("reconnect", parents=[common],
                              help="ask the running daemon to reconnect now (after an escalation, RB-001)")
    p.set_defaults(func=cmd_broker_reconnect)

    p = sub.add_parser("approvals", parents=[common],
                       help="list proposals waiting for approval, with their codes (a person at a terminal only)")
    p.set_defaults(func=cmd_approvals)

    p = sub.add_parser("approve", parents=[common],
                       help="approve (or --reject) a proposal: shows the evidence and asks one yes/no question")
    p.add_argument("proposal", help="the proposal id (the signal's or close's intent id)")
    p.add_argument("--code", help="the 6-digit code (for scripts; without it a terminal is required)")
    p.add_argument("--reject", action="store_true", help="reject instead of approve")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the response (default 30)")
    p.set_defaults(func=cmd_approve)

    p = sub.add_parser("resume", parents=[common], help="clear the halt flag (a person at a terminal only)")
    p.add_argument("--note", help="why, recorded in the HALT bead")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("demo", parents=[common],
                       help="the guided demo: signals, a human's approval, fills, exits, a restart, a halt drill")
    p.add_argument("--mode", choices=["mock", "paper"], default="mock",
                   help="mock: the in-process fake broker; paper: the fake IB Gateway through the real IB client")
    p.set_defaults(func=cmd_demo)
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
    except SeamError as exc:
        err.print(f"seam: {exc}", markup=False)
        return EXIT_NOT_OK
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
