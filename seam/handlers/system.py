"""System handler: `status` (facts about the seam) and `halt` (the emergency stop, priority lane)."""

from __future__ import annotations

import asyncio
from typing import Any

from seam.handlers.base import HandlerContext
from seam.intent import HaltPayload
from seam.respond import Outcome, Status
from seam.validate import ValidIntent

__all__ = ["handle_halt", "handle_status", "status_facts"]


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
        facts={"cancelled": "pending"},
    )
    if not payload.cancel_orders:
        cancelled = "none: cancel_orders was false"
    elif broker is None:
        cancelled = "none: no broker is attached"
    else:
        cancelled = await broker.cancel_all_working_orders(reason=f"halt {intent.id}", offload=ctx.blocking)
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


NO_BROKER_LINK = "unknown (no daemon has published it)"


def status_facts(ctx: HandlerContext, broker_facts: dict[str, str] | None = None) -> dict[str, Any]:
    """The facts `status` reports; `seam status` prints the same facts without a daemon, reading the
    broker link as the running daemon last published it."""
    halt = ctx.store.flags.halt()
    depth = ctx.queue_depth() or _folder_depth(ctx)
    counts = ctx.store.ledger.counts()
    last = ctx.store.last_seq()
    facts = broker_facts or {}
    published = ctx.store.flags.link()
    as_published = f"{published.state} (as published {published.at})" if published else NO_BROKER_LINK
    link = facts.get("link") or as_published
    return {
        "mode": ctx.settings.broker.mode.upper(),
        "broker_link": link,
        "heartbeat": "not running (monitoring arrives in a later release)",
        "halt": f"ON since {halt.at}: {halt.reason}" if halt else "off",
        "queue": depth,
        "daemons": len(live_daemons(ctx)),
        "answered": ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none yet",
        "positions": facts.get("positions", "ask a running daemon (`status` intent)"),
        "orders": facts.get("orders", "ask a running daemon (`status` intent)"),
        "beads": last,
        "sources": [f"bead {last}"] if last else [],
    }


def _folder_depth(ctx: HandlerContext) -> dict[str, int]:
    from seam.intake import count_candidates, count_processing

    return {"incoming": count_candidates(ctx.paths.incoming), "processing": count_processing(ctx.paths.processing)}


def live_daemons(ctx: HandlerContext) -> list[str]:
    from seam.intake import live_owners

    return live_owners(ctx.paths.processing)


async def handle_status(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    broker = ctx.broker
    broker_facts = None
    if broker is not None:
        broker_facts = {"link": broker.link_state(), **await broker.summaries()}
    facts = await asyncio.to_thread(status_facts, ctx, broker_facts)
    return Outcome(Status.OK, "status", facts, title="Status")
