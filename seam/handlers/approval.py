"""Approval handler: `signal` (READY → proposal; FORMING/NONE → recorded), `close` (a proposal), `approve`."""

from __future__ import annotations

from seam.handlers.base import HandlerContext
from seam.respond import Outcome, Status
from seam.validate import ValidIntent

__all__ = ["handle_approve", "handle_close", "handle_signal"]


async def handle_signal(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    payload = intent.payload
    if payload.signal != "READY":
        bead = ctx.store.append("SIGNAL", {"signal": payload.signal, "pair": str(payload.pair),
                                           "direction": payload.direction, "confidence": payload.confidence,
                                           "setup": payload.setup_type, "source": payload.source},
                                intent_id=intent.id, session_id=intent.envelope.session_id)
        return Outcome(Status.OK, "signal_recorded", {"p": payload.model_dump(mode="json"),
                                                      "sources": [f"bead {bead.seq}"]})
    service = ctx.require_approval()
    proposal = await service.propose_open(intent.id, intent.intent_sha256, payload)
    return Outcome(Status.PENDING_APPROVAL, "evidence", {"proposal": proposal.id, "e": proposal.evidence,
                                                         "anchor": proposal.anchor_hash[:12],
                                                         "strict": ctx.settings.approval.strict,
                                                         "sources": [f"bead {ctx.store.last_seq()}"]})


async def handle_close(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    service = ctx.require_approval()
    proposal = await service.propose_close(intent.id, intent.intent_sha256, intent.payload.position_id,
                                           intent.payload.reason)
    return Outcome(Status.PENDING_APPROVAL, "close_evidence", {"proposal": proposal.id, "e": proposal.evidence,
                                                               "anchor": proposal.anchor_hash[:12],
                                                               "strict": ctx.settings.approval.strict,
                                                               "sources": [f"bead {ctx.store.last_seq()}"]})


async def handle_approve(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    service = ctx.require_approval()
    payload = intent.payload
    decided = await service.decide(payload.proposal, payload.code, payload.decision,
                                   via=f"approve intent {intent.id}")
    status = {"ok": Status.OK, "conflict": Status.CONFLICT}.get(decided.status, Status.FAILED)
    orders = [{"id": o.order_id, "type": o.order_type, "side": o.side, "units": f"{o.quantity:,d}",
               "price": o.limit_price or o.stop_price or "market", "state": o.state} for o in decided.orders]
    return Outcome(status, "decision", {"headline": decided.headline, "facts": decided.facts, "orders": orders,
                                        "changes": decided.changes, "sources": [f"bead {ctx.store.last_seq()}"]})
