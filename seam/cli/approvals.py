"""`seam approvals`, `seam approve`, `seam resume`: a human's decisions, taken at an interactive terminal.

The store holds no code in readable form: a code is shown once, when it is issued (the `seam watch` terminal,
or `seam approvals --new-code` here, which voids the earlier one). Only this module issues codes for the
console, and nothing in `seam.client`, which agents use, touches them.
"""

from __future__ import annotations

import argparse
import os
from datetime import timedelta

from rich.table import Table

from seam import client
from seam.approval import codes, proposals
from seam.approval.keys import CodeKey
from seam.cli.common import (
    EXIT_NOT_OK,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    console_runtime,
    err,
    interactive,
    load,
    out,
    refuse_without_terminal,
    require_seam,
    seam_paths,
)
from seam.cli.intents import submit_and_print
from seam.config import LoadedConfig
from seam.errors import IntentError
from seam.paths import SeamPaths

__all__ = ["add_approvals", "add_approve", "add_resume", "cmd_approvals", "cmd_approve", "cmd_resume"]

_COLUMNS = ("proposal", "kind", "pair", "side", "units", "entry · stop · target", "R:R", "code expires")


def add_approvals(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "approvals",
        parents=[common],
        help="list proposals waiting for approval; --new-code shows a fresh code (a person at a terminal only)",
    )
    p.add_argument(
        "--new-code", metavar="PROPOSAL", help="issue a fresh code for PROPOSAL and show it (voids the last)"
    )
    p.add_argument("--unlock", action="store_true", help="lift the lock set after too many wrong codes")
    p.add_argument("--note", help="with --unlock: why, recorded in the APPROVAL bead")
    p.set_defaults(func=cmd_approvals)


def add_approve(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "approve",
        parents=[common],
        help="approve (or --reject) a proposal: shows the evidence and asks one yes/no question",
    )
    p.add_argument("proposal", help="the proposal id (the signal's or close's intent id)")
    p.add_argument("--code", help="the 6-digit code (for scripts; without it a terminal is required)")
    p.add_argument("--reject", action="store_true", help="reject instead of approve")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the response (default 30)")
    p.set_defaults(func=cmd_approve)


def add_resume(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("resume", parents=[common], help="clear the halt flag (a person at a terminal only)")
    p.add_argument("--note", help="why, recorded in the HALT bead")
    p.set_defaults(func=cmd_resume)


def _expiries(paths: SeamPaths, config: LoadedConfig) -> dict[str, str]:
    """proposal id → when its live code expires, for pending proposals."""
    with console_runtime(paths, config) as runtime:
        live = runtime.store.codes.live_for_pending()
    return {pid: row.expires_at.isoformat() for pid, row in live.items()}


def _fresh_code(paths: SeamPaths, config: LoadedConfig, proposal_id: str) -> str:
    """A new code for a pending proposal, for the person at this terminal; the earlier code is void."""
    with console_runtime(paths, config) as runtime:
        proposal = proposals.get(runtime.store, proposal_id)
        expires = runtime.clock.now() + timedelta(seconds=config.settings.approval.code_ttl_seconds)
        return codes.reissue(runtime.store, CodeKey.for_seam(paths), proposal, expires)


def cmd_approvals(args: argparse.Namespace) -> int:
    paths = seam_paths(args)
    require_seam(paths)
    config = load(paths)
    if args.unlock:
        return _unlock(paths, config, args.note or "")
    refused = refuse_without_terminal("`seam approvals`", config)
    if refused is not None:
        return refused
    if args.new_code:
        code = _fresh_code(paths, config, args.new_code)
        out.print(
            f"New code for {args.new_code}: [bold]{code}[/] (valid "
            f"{config.settings.approval.code_ttl_seconds // 60} min; the earlier code is void)"
        )
        return EXIT_OK
    expiries = _expiries(paths, config)
    pending = client.pending_proposals(paths, config)
    if not pending:
        out.print("No proposals are waiting for approval.")
        return EXIT_OK
    table = Table(title="Proposals waiting for a human")
    for column in _COLUMNS:
        table.add_column(column)
    for proposal in pending:
        expires = expiries.get(proposal.id, "spent: ask for a new code")
        levels = f"{proposal.entry} · {proposal.stop} · {proposal.target}" if proposal.entry else "market"
        table.add_row(
            proposal.id,
            proposal.kind,
            proposal.pair,
            proposal.side,
            f"{proposal.units:,}",
            levels,
            str(proposal.evidence.get("reward_risk", "-")),
            expires[11:19] if len(expires) > 19 else expires,
        )
    out.print(table)
    out.print(
        "Approve with `seam approve PROPOSAL`; reject with `seam approve PROPOSAL --reject`. Codes are shown "
        "once, when issued; `seam approvals --new-code PROPOSAL` shows a fresh one."
    )
    return EXIT_OK


def _confirmed(question: str) -> bool:
    """One yes/no question to the person at the terminal; anything but yes is no."""
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _unlock(paths: SeamPaths, config: LoadedConfig, note: str) -> int:
    if not interactive():
        err.print("seam: `seam approvals --unlock` needs a person at an interactive terminal")
        return EXIT_USAGE
    with console_runtime(paths, config) as runtime:
        lock = runtime.store.flags.approvals_lock()
        if lock is None:
            out.print("Approvals are not locked; nothing to lift.")
            return EXIT_OK
        out.print(f"Approvals are locked since {lock.at}: {lock.reason}")
        if not _confirmed("Lift the lock and accept approval codes again?"):
            out.print("Lock left on.")
            return EXIT_NOT_OK
        codes.unlock(runtime.store, by="console", note=note)
    out.print("Approvals unlocked.")
    return EXIT_OK


def cmd_approve(args: argparse.Namespace) -> int:
    paths = seam_paths(args)
    require_seam(paths)
    config = load(paths)
    decision = "reject" if args.reject else "approve"
    code = args.code
    if code is None:
        asked = _ask_at_the_terminal(paths, config, args.proposal, decision)
        if isinstance(asked, int):  # refused here, or the person said no: that exit code
            return asked
        code = asked
    intent = {
        "seam": 1,
        "id": f"{decision}-{args.proposal}-{os.urandom(2).hex()}"[:64],
        "kind": "approve",
        "session_id": "console",
        "payload": {"proposal": args.proposal, "code": code, "decision": decision},
    }
    # The same path as an agent's approve intent: stale gate, then the order path with the code check.
    return submit_and_print(paths, config, intent, timeout=args.timeout)


def _ask_at_the_terminal(paths: SeamPaths, config: LoadedConfig, proposal: str, decision: str) -> str | int:
    """A fresh code for the proposal once the person at the terminal has seen the evidence and said yes (it is
    never shown: it goes straight into the approve intent); else an exit code."""
    refused = refuse_without_terminal("`seam approve` without --code", config)
    if refused is not None:
        return refused
    _show_evidence(paths, proposal)
    if not any(pending.id == proposal for pending in client.pending_proposals(paths, config)):
        err.print(f"seam: no pending proposal {proposal}")
        return EXIT_NOT_OK
    if not _confirmed(f"{decision.capitalize()} proposal {proposal}?"):
        out.print("Nothing was done.")
        return EXIT_NOT_OK
    return _fresh_code(paths, config, proposal)


def _show_evidence(paths: SeamPaths, proposal: str) -> None:
    try:
        response = client.read_response(paths, proposal)
    except IntentError:
        return  # not an id, so no proposal: the code lookup says so
    if response is not None:
        from rich.markdown import Markdown  # only at a terminal: it costs a tenth of a second to import

        out.print(Markdown(response.body))


def cmd_resume(args: argparse.Namespace) -> int:
    paths = seam_paths(args)
    require_seam(paths)
    if not interactive():
        err.print("seam: `seam resume` clears the halt and needs a person at an interactive terminal")
        return EXIT_USAGE
    from seam.haltfile import clear_halt, halt_requested

    with console_runtime(paths, load(paths)) as runtime:
        store = runtime.store
        state = store.flags.halt()
        request = halt_requested(paths)
        if state is None and request is None:
            out.print("The halt flag is off; nothing to clear.")
            return EXIT_OK
        if state is not None:
            from seam.monitor.health import halt_cause

            out.print(f"HALT is on since {state.at}: {state.reason}", markup=False)
            for line in halt_cause(store, state):  # what set it: the HALT bead, and a reconciliation's differences
                out.print(line, markup=False)
        if request is not None:
            out.print(f"A halt was {request.line()} (flags/halt).", markup=False)
        if not _confirmed("Clear the halt and allow capital actions again?"):
            out.print("Halt left on.")
            return EXIT_NOT_OK
        clear_halt(paths, store, by="console", note=args.note or "")
    out.print("Halt cleared.")
    return EXIT_OK
