"""Approval handler: `signal` (READY → proposal; FORMING/NONE → recorded), `close` (a proposal), `approve`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seam.handlers.base import HandlerContext
from seam.intent import ApprovePayload, ClosePayload, ReadySignal, WatchSignal
from seam.respond import Outcome, Status
from seam.validate import ValidIntent

if TYPE_CHECKING:
    from seam.approval import Proposal

__all__ = ["handle_approve", "handle_close", "handle_signal", "spend_presented_code"]


async def handle_signal(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    if isinstance(intent.payload, WatchSignal):
        return await _record_signal(ctx, intent, intent.payload)
    payload = intent.payload_as(ReadySignal)
    service = ctx.require_approval()
    proposal = await service.propose_open(intent.id, intent.intent_sha256, payload, intent.envelope.created_at)
    return await _waiting(ctx, "evidence", proposal)


async def _record_signal(ctx: HandlerContext, intent: ValidIntent, payload: WatchSignal) -> Outcome:
    bead = await ctx.blocking(
        ctx.store.append,
        "SIGNAL",
        {
            "signal": payload.signal,
            "pair": str(payload.pair),
            "direction": payload.direction,
            "confidence": payload.confidence,
            "setup": payload.setup_type,
            "source": payload.source,
        },
        intent_id=intent.id,
        session_id=intent.envelope.session_id,
    )
    return Outcome(
        Status.OK, "signal_recorded", {"p": payload.model_dump(mode="json"), "sources": [f"bead {bead.seq}"]}
    )


async def handle_close(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    payload = intent.payload_as(ClosePayload)
    service = ctx.require_approval()
    proposal = await service.propose_close(intent.id, intent.intent_sha256, payload.position_id, payload.reason)
    return await _waiting(ctx, "close_evidence", proposal)


async def _waiting(ctx: HandlerContext, template: str, proposal: Proposal) -> Outcome:
    return Outcome(
        Status.PENDING_APPROVAL,
        template,
        {
            "proposal": proposal.id,
            "e": proposal.evidence,
            "anchor": proposal.anchor_hash[:12],
            "strict": ctx.settings.approval.strict,
            "sources": [f"bead {await ctx.blocking(ctx.store.last_seq)}"],
        },
    )


async def handle_approve(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    payload = intent.payload_as(ApprovePayload)
    service = ctx.require_approval()
    decided = await service.decide(
        payload.proposal, payload.code, payload.decision, via=f"approve intent {intent.id}", intent_id=intent.id
    )
    status = {"ok": Status.OK, "conflict": Status.CONFLICT}.get(decided.status, Status.FAILED)
    orders = [
        {
            "id": o.order_id,
            "type": o.order_type,
            "side": o.side,
            "units": f"{o.quantity:,d}",
            "price": o.limit_price or o.stop_price or "market",
            "state": o.state,
        }
        for o in decided.orders
    ]
    return Outcome(
        status,
        "decision",
        {
            "headline": decided.headline,
            "facts": decided.facts,
            "orders": orders,
            "changes": decided.changes,
            "sources": [f"bead {await ctx.blocking(ctx.store.last_seq)}"],
        },
    )


def spend_presented_code(ctx: HandlerContext, intent: ValidIntent) -> None:
    """An approve that is not carried out (its id belongs to another intent) still spends the code it
    carries: a code written into any intent is spent, whatever the outcome."""
    if ctx.approval is not None:
        payload = intent.payload_as(ApprovePayload)
        ctx.approval.spend_presented(payload.proposal, payload.code, via=f"approve intent {intent.id} (not run)")
