"""System handler: `status` (facts about the seam) and `halt` (the emergency stop, priority lane)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seam.haltfile import halt_requested, is_halt_requested, request_halt
from seam.handlers.base import HandlerContext
from seam.intent import HaltPayload
from seam.respond import Outcome, Status
from seam.store import PublishedLink
from seam.store.flags import BrokerLease
from seam.validate import ValidIntent

if TYPE_CHECKING:
    from seam.broker.service import BrokerService

__all__ = [
    "NO_DAEMON",
    "broker_owner",
    "configured_mode",
    "handle_halt",
    "handle_status",
    "mode_difference",
    "running_mode",
    "status_facts",
]


CANCEL_WAIT_SECONDS = 2.0  # how long a halt's answer waits for the broker's cancel-all before saying it runs on


async def handle_halt(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    broker = ctx.broker
    payload = intent.payload_as(HaltPayload)
    # the flag goes on first: from this instant no capital action can pass the order path
    halt, was_halted = await ctx.blocking(
        ctx.store.halt_on,
        payload.reason,
        by=f"halt intent {intent.id}",
        intent_id=intent.id,
        session_id=intent.envelope.session_id,
        facts={"cancelled": "pending", "cancel_orders": payload.cancel_orders},
    )
    if not is_halt_requested(ctx.paths):  # a halt dropped into incoming/ by hand: it is requested on file too
        await ctx.blocking(
            request_halt,
            ctx.paths,
            intent_id=intent.id,
            reason=payload.reason,
            by=f"halt intent {intent.id}",
            at=ctx.clock.now(),
        )
    if broker is not None:
        broker.halt_followed = max(broker.halt_followed, halt.bead)  # this halt's cancel-all is done here
    if not payload.cancel_orders:
        cancelled = "none: cancel_orders was false"
    elif broker is None:
        cancelled = "none: no broker is attached"
    else:
        cancelled = await _cancel_all(ctx, broker, reason=f"halt {intent.id}")
    if not was_halted:
        await ctx.blocking(_alert_halt, ctx, halt.reason, halt.bead, cancelled)
    return Outcome(
        Status.OK,
        "halt",
        {
            "reason": halt.reason,
            "halted_at": halt.at,
            "was_halted": was_halted,
            "cancelled": cancelled,
            "sources": [f"bead {halt.bead}"],
        },
        title="HALT",
    )


def _alert_halt(ctx: HandlerContext, reason: str, bead: int, cancelled: str) -> None:
    from seam.monitor.alerts import Alert, AlertSink

    sink = ctx.broker.alerts if ctx.broker is not None else None
    sink = sink or AlertSink(ctx.store, ctx.paths.responses / "alerts", ctx.clock)
    sink.raise_alert(
        Alert(
            "HALT_ON",
            "The halt flag is on: every capital action is refused until `seam resume` at a terminal.",
            {"reason": reason, "halt bead": bead, "working orders cancelled": cancelled},
        )
    )


async def _cancel_all(ctx: HandlerContext, broker: BrokerService, *, reason: str) -> str:
    """Cancel the working orders on the broker's own loop. A halt on the daemon's halt lane runs on a loop of its
    own: the cancel is handed to the broker's and waited for CANCEL_WAIT_SECONDS at most; it goes on after that."""
    here = asyncio.get_running_loop()
    if broker.loop is None or broker.loop is here:
        return await broker.cancel_all_working_orders(reason=reason, offload=ctx.blocking)
    cancel = broker.cancel_all_working_orders(reason=reason, offload=broker.halt_offload)
    running = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(cancel, broker.loop))
    done, _ = await asyncio.wait({running}, timeout=CANCEL_WAIT_SECONDS)
    if not done:
        return (
            f"still running after {CANCEL_WAIT_SECONDS:g} s: the broker's link is cancelling every working order; "
            "an ORDER bead (event cancel_all) records which"
        )
    return running.result()


NO_BROKER_LINK = "unknown (no daemon has published it)"
NO_DAEMON = "no daemon is running"
_MODES = ("MOCK", "PAPER", "LIVE")


def running_mode(published: PublishedLink | None, daemons: list[str]) -> str:
    """The mode the running daemon runs, as the daemon that owns the broker published it; NO_DAEMON when none
    runs (a link left by a daemon that stopped says nothing about now)."""
    if not daemons:
        return NO_DAEMON
    if published is None or not published.mode:
        return "unknown (a daemon is running but has not published its broker link yet)"
    return published.mode.upper()


def configured_mode(mode: str, source: str) -> str:
    """The mode the configuration names now, labelled as configured: it runs only from the next start."""
    return f"{mode.upper()} (configured: {_where(source)})"


def mode_difference(running: str, mode: str, source: str) -> str:
    """A plain sentence when the configuration names another mode than the running daemon runs, else ""."""
    if running not in _MODES or running == mode.upper():
        return ""
    return f"{_where(source)} now says {mode.upper()}; the running daemon runs {running} until it is restarted"


def _where(source: str) -> str:
    """`LoadedConfig.source_of` in words: "file (seam.yaml)" → "seam.yaml"."""
    if source.startswith("file ("):
        return source.removeprefix("file (").removesuffix(")")
    return {"default": "the default", "flag": "the command line"}.get(source, source)


def status_facts(
    ctx: HandlerContext, broker_facts: dict[str, str] | None = None, *, mode_source: str = "default"
) -> dict[str, Any]:
    """The facts `status` reports. A daemon answering a `status` intent passes its own `broker_facts` (its
    mode, its link); `seam status` passes none and reads the mode and link the running daemon published.
    The configured mode (`ctx.settings`, from `mode_source`) is shown apart, and a difference said plainly.
    The store's facts come from one snapshot of it: the halt, the counts, the last bead and the heartbeat agree."""
    depth = ctx.queue_depth() or _folder_depth(ctx)
    daemons = live_daemons(ctx)
    with ctx.store.snapshot():
        halt = ctx.store.flags.halt()
        counts = ctx.store.ledger.counts()
        last = ctx.store.last_seq()
        published = ctx.store.flags.link()
        lease = ctx.store.flags.lease()
        heartbeat = _heartbeat(ctx)
    facts = broker_facts or {}
    running = facts.get("mode") or running_mode(published, daemons)
    configured = ctx.settings.broker.mode
    return {
        "mode": running,
        "configured_mode": configured_mode(configured, mode_source),
        "mode_difference": mode_difference(running, configured, mode_source),
        "broker_link": facts.get("link") or _published_link(published, daemons),
        "heartbeat": heartbeat,
        "halt": f"ON since {halt.at}: {halt.reason}" if halt else _requested(ctx),
        "queue": depth,
        "daemons": len(daemons),
        "broker_owner": broker_owner(lease, ctx.clock.now()),
        "answered": ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none yet",
        "positions": facts.get("positions", "ask a running daemon (`status` intent)"),
        "orders": facts.get("orders", "ask a running daemon (`status` intent)"),
        "beads": last,
        "sources": [f"bead {last}"] if last else [],
    }


def _requested(ctx: HandlerContext) -> str:
    """With the store's flag off: a halt requested on file and not yet carried out by a daemon, or "off"."""
    request = halt_requested(ctx.paths)
    if request is None:
        return "off"
    return f"REQUESTED ({request.line()}); capital actions are refused, the daemon has not carried it out yet"


def _heartbeat(ctx: HandlerContext) -> str:
    from seam.monitor.health import read_health

    return read_health(ctx.store, ctx.clock).line()


def broker_owner(lease: BrokerLease | None, now: datetime) -> str:
    """Which daemon owns the seam's broker (its lease), in words: only that daemon connects to the broker."""
    if lease is None:
        return "none: no daemon holds the broker lease"
    until = datetime.fromisoformat(lease.expires_at)
    if lease.expired(now):
        return f"none: the lease of daemon {lease.owner} (pid {lease.pid}) ran out at {until:%Y-%m-%d %H:%M:%S} UTC"
    return f"daemon {lease.owner} (pid {lease.pid} on {lease.host}), since {lease.since[:19]}; renewed every second"


def _published_link(published: PublishedLink | None, daemons: list[str]) -> str:
    if published is None:
        return NO_DAEMON if not daemons else NO_BROKER_LINK
    if not daemons:
        return f"{NO_DAEMON} (the last one published {published.mode.upper()} {published.state} at {published.at})"
    return f"{published.state} (as published {published.at})"


def _folder_depth(ctx: HandlerContext) -> dict[str, int]:
    from seam.intake import count_candidates, count_processing

    return {"incoming": count_candidates(ctx.paths.incoming), "processing": count_processing(ctx.paths.processing)}


def live_daemons(ctx: HandlerContext) -> list[str]:
    from seam.intake import live_owners

    return live_owners(ctx.paths.processing, alive=ctx.owner)  # a daemon's own folder: its own lock, held


async def handle_status(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    broker = ctx.broker
    broker_facts = None
    if broker is not None:  # this daemon's own mode and link: the facts of the daemon that answers
        broker_facts = {"mode": broker.mode.upper(), "link": broker.link_state(), **await broker.summaries()}
    facts = await ctx.blocking(status_facts, ctx, broker_facts, mode_source="the settings this daemon started with")
    return Outcome(Status.OK, "status", facts, title="Status")
