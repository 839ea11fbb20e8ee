"""Narrator handlers: `narrate` (briefing, health, weekly_review, status) and `memory` (questions over beads).

Both only read: beads, the store's flags, positions and proposals, and the broker facts the status handler
gathers. Every answer lists its facts with the bead ids they came from and says nothing beyond them.
"""

from __future__ import annotations

from typing import Any

from seam.broker.lifecycle import TERMINAL
from seam.errors import IntentError
from seam.handlers.base import HandlerContext
from seam.handlers.system import handle_status, status_facts
from seam.intent import MemoryPayload, NarratePayload
from seam.narrator import facts as f
from seam.respond import Outcome, Status
from seam.store import Bead
from seam.validate import ValidIntent

__all__ = ["handle_memory", "handle_narrate"]

NO_HEARTBEAT = "no heartbeat recorded"


async def handle_narrate(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    payload = intent.payload_as(NarratePayload)
    if payload.template == "status":
        return await handle_status(ctx, intent)
    if payload.since is not None and payload.until is not None and payload.since > payload.until:
        raise IntentError.single("payload.since", f"is after until ({payload.since} > {payload.until})")
    broker_facts = await _broker_facts(ctx)
    now = ctx.clock.now()
    if payload.template == "health":
        context = await ctx.blocking(health_facts, ctx, broker_facts)
        return Outcome(Status.OK, "health", context, title="Health")
    if payload.template == "briefing":
        if payload.since is None and payload.until is None:
            window = f.last_window("24h", now)
        else:
            window = f.day_window(payload.since, payload.until, default_days=1, now=now)
        context = await ctx.blocking(briefing_facts, ctx, window, broker_facts)
        return Outcome(Status.OK, "briefing", context, title="Briefing")
    window = f.day_window(payload.since, payload.until, default_days=7, now=now)
    context = await ctx.blocking(weekly_facts, ctx, window)
    return Outcome(Status.OK, "weekly_review", context, title="Weekly review")


async def handle_memory(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    payload = intent.payload_as(MemoryPayload)
    window = f.last_window(payload.window, ctx.clock.now())
    context = await ctx.blocking(memory_facts, ctx, payload, window)
    return Outcome(Status.OK, "memory", context, title="Memory")


async def _broker_facts(ctx: HandlerContext) -> dict[str, str] | None:
    """This daemon's own mode and link, as `status` reports them; None in a process without a broker."""
    broker = ctx.broker
    if broker is None:
        return None
    return {"mode": broker.mode.upper(), "link": broker.link_state(), **await broker.summaries()}


# -- facts, read on the lane's pool ------------------------------------------------------------------


def _typed(ctx: HandlerContext, type_: str, window: f.Window | None = None) -> list[Bead]:
    beads = ctx.store.beads(type_=type_)
    return beads if window is None else f.in_window(beads, window)


def _heartbeat(beat: Bead | None) -> dict[str, Any] | None:
    if beat is None:
        return None
    checks = beat.payload.get("checks")
    rows = []
    if isinstance(checks, dict):
        for name, check in sorted(checks.items()):
            check = check if isinstance(check, dict) else {"state": check}
            rows.append({"name": name, "state": check.get("state", "-"), "detail": check.get("detail", "")})
    return {"state": beat.payload.get("state", "-"), "at": beat.at, "bead": beat.seq, "checks": rows}


def health_facts(ctx: HandlerContext, broker_facts: dict[str, str] | None) -> dict[str, Any]:
    beat = f.latest(_typed(ctx, "HEARTBEAT"))
    status = status_facts(ctx, broker_facts, mode_source="the settings this daemon started with")
    sources = [f"bead {beat.seq}"] if beat else []
    return {
        "heartbeat": _heartbeat(beat),
        "no_heartbeat": NO_HEARTBEAT,
        "link": {k: status[k] for k in ("mode", "broker_link", "broker_owner", "halt", "daemons")},
        "sources": sources + status["sources"],
    }


def _seqs(*groups: list[Bead]) -> list[str]:
    return [f"bead {seq}" for seq in sorted({b.seq for group in groups for b in group})]


def _alerts(beads: list[Bead]) -> list[dict[str, Any]]:
    return [
        {
            "bead": b.seq,
            "at": b.at,
            "type": b.payload.get("alert", "-"),
            "severity": b.payload.get("severity", "-"),
            "runbook": b.payload.get("runbook", "-"),
        }
        for b in beads
    ]


def _halts(beads: list[Bead]) -> list[dict[str, Any]]:
    return [
        {
            "bead": b.seq,
            "at": b.at,
            "event": b.payload.get("event", "-"),
            "by": b.payload.get("by", "-"),
            "reason": b.payload.get("reason") or b.payload.get("note") or "-",
        }
        for b in beads
    ]


def _trade_rows(trades: list[f.Trade]) -> dict[str, Any]:
    usd = [t.usd for t in trades if t.usd is not None]
    return {
        "trades": [{**t.a, "bead": t.bead.seq, "usd": t.usd} for t in trades],
        "total_pips": round(sum(t.pips for t in trades), 1),
        "total_usd": round(sum(usd), 2) if usd else None,
        "usd_missing": sum(1 for t in trades if t.usd is None),
    }


def briefing_facts(ctx: HandlerContext, window: f.Window, broker_facts: dict[str, str] | None) -> dict[str, Any]:
    proposals = _typed(ctx, "PROPOSAL", window)
    approvals = _typed(ctx, "APPROVAL", window)
    autopsies = _typed(ctx, "AUTOPSY", window)
    alerts = _typed(ctx, "ALERT", window)
    halts = _typed(ctx, "HALT", window)
    beat = f.latest(_typed(ctx, "HEARTBEAT"))
    halt = ctx.store.flags.halt()
    open_positions = [r for r in ctx.store.positions.all() if r.state not in TERMINAL]
    decided = [b for b in approvals if b.payload.get("event") in ("approved", "rejected", "state_conflict")]
    return {
        "window": window.describe(),
        "halt": f"ON since {halt.at}" if halt else "off",
        "halt_reason": halt.reason if halt else "",
        "mode": (broker_facts or {}).get("mode", "no broker in this process"),
        "link": (broker_facts or {}).get("link", "no broker in this process"),
        "heartbeat": _heartbeat(beat),
        "no_heartbeat": NO_HEARTBEAT,
        "positions": [
            {"id": r.id, "pair": r.pair, "side": r.side, "units": r.units, "state": r.state} for r in open_positions
        ],
        "pending": [
            {"id": p.id, "pair": p.pair, "side": p.side, "units": p.units} for p in ctx.store.proposals.pending()
        ],
        "proposals": [{"bead": b.seq, **b.payload} for b in proposals],
        "decisions": [
            {"bead": b.seq, "proposal": b.payload.get("proposal", "-"), "event": b.payload["event"]} for b in decided
        ],
        **_trade_rows(f.trades(autopsies)),
        "alerts": _alerts(alerts),
        "halts": _halts(halts),
        "sources": _seqs(proposals, approvals, autopsies, alerts, halts, [beat] if beat else []),
    }


def _gates(ctx: HandlerContext, window: f.Window) -> tuple[list[dict[str, Any]], list[Bead]]:
    """Counts of the approval path's gates in the window, each with the beads counted."""
    proposals = _typed(ctx, "PROPOSAL", window)
    approvals = _typed(ctx, "APPROVAL", window)
    guards = _typed(ctx, "GUARD", window)
    orders = _typed(ctx, "ORDER", window)

    def event(beads: list[Bead], name: str) -> list[Bead]:
        return [b for b in beads if b.payload.get("event") == name]

    rows = [
        ("evidence bundle built (signal or close became a proposal)", proposals),
        ("human code accepted (approved)", event(approvals, "approved")),
        ("rejected by a human", event(approvals, "rejected")),
        ("wrong codes", event(approvals, "wrong_code")),
        ("state conflicts (stale gate refused)", event(approvals, "state_conflict")),
        ("safety guard refusals (GUARD beads)", guards),
        ("orders submitted", event(orders, "submitted")),
    ]
    table = [{"gate": name, "count": len(beads), "beads": [b.seq for b in beads]} for name, beads in rows]
    return table, [*proposals, *approvals, *guards, *orders]


def weekly_facts(ctx: HandlerContext, window: f.Window) -> dict[str, Any]:
    autopsies = _typed(ctx, "AUTOPSY", window)
    alerts = _typed(ctx, "ALERT", window)
    halts = _typed(ctx, "HALT", window)
    gates, gate_beads = _gates(ctx, window)
    return {
        "window": window.describe(),
        **_trade_rows(f.trades(autopsies)),
        "gates": gates,
        "alerts": _alerts(alerts),
        "halts": _halts(halts),
        "sources": _seqs(autopsies, alerts, halts, gate_beads),
    }


def memory_facts(ctx: HandlerContext, payload: MemoryPayload, window: f.Window) -> dict[str, Any]:
    now = ctx.clock.now()
    context: dict[str, Any] = {"question": payload.question, "window": window.describe(), "gaps": [], "stories": []}
    if payload.question == "heartbeat_gaps":
        beats = _typed(ctx, "HEARTBEAT", window)
        gaps = f.heartbeat_gaps(beats, payload.over_seconds)
        context |= {"over_seconds": payload.over_seconds, "beats": len(beats)}
        context["gaps"] = [_gap(g.before, g.after, g.seconds) for g in gaps]
        context["sources"] = _seqs([b for g in gaps for b in (g.before, g.after)])
    elif payload.question == "connection_gaps":
        sessions = _typed(ctx, "IBKR_SESSION", window)
        links = f.connection_gaps(sessions, now)
        context["gaps"] = [_gap(g.disconnect, g.connect, g.seconds) for g in links]
        context["sources"] = _seqs([b for g in links for b in (g.disconnect, g.connect) if b is not None])
    elif payload.question == "approvals":
        stories = f.approvals(_typed(ctx, "APPROVAL", window), _typed(ctx, "ORDER", window))
        context["stories"] = [
            {
                "proposal": s.proposal,
                "events": ", ".join(f"{b.payload.get('event')} (bead {b.seq})" for b in s.events),
                "decision": s.decision,
                "orders": s.order_events,
            }
            for s in stories
        ]
        context["sources"] = [f"bead {seq}" for seq in sorted({q for s in stories for q in s.sources})]
    else:
        beads = f.in_window(ctx.store.beads(type_=payload.bead_type), window)
        context["counts"] = f.bead_counts(beads, payload.bead_type)
        context["bead_type"] = payload.bead_type
        context["sources"] = [f"beads {beads[0].seq}-{beads[-1].seq}"] if beads else []
    return context


def _gap(before: Bead, after: Bead | None, seconds: float | None) -> dict[str, Any]:
    return {
        "from_bead": before.seq,
        "from_at": before.at,
        "to_bead": after.seq if after else None,
        "to_at": after.at if after else None,
        "seconds": seconds,
        "detail": before.payload.get("reason", ""),
    }
