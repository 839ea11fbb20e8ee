"""Approval service: proposals wait for a human; only a fresh proposal with a verified code reaches the broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from seam.approval import codes, evidence, proposals, stale
from seam.approval.codes import CodeChannel
from seam.approval.follow import Follower
from seam.approval.keys import CodeKey
from seam.approval.proposals import Proposal
from seam.blocking import Offload, in_default_pool
from seam.broker.lifecycle import PositionState
from seam.broker.service import BrokerService
from seam.broker.types import BracketRequest, Order, OrderRequest, OrderType, Side
from seam.clock import Clock
from seam.config import Settings
from seam.errors import GuardViolation, IntentError
from seam.intent import ReadySignal
from seam.paths import SeamPaths
from seam.store import ProposalStatus, Store

__all__ = ["ApprovalService", "Decided"]

S = PositionState
# the refusals of the code step: the decision's outcome, not a failure of the order path
_CODE_GUARDS = ("code", "code_expired", "locked", "approvals_locked")


@dataclass(frozen=True)
class Decided:
    """The outcome of a decision, in facts: `status` is ok, failed or conflict for the response."""

    status: str
    headline: str
    facts: dict[str, Any] = field(default_factory=dict)
    orders: list[Order] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


class ApprovalService:
    def __init__(
        self,
        store: Store,
        broker: BrokerService,
        settings: Settings,
        clock: Clock,
        paths: SeamPaths,
        key: CodeKey,
        channels: list[CodeChannel] | None = None,
    ) -> None:
        self.store = store
        self.broker = broker
        self.settings = settings
        self.clock = clock
        self.paths = paths
        self.channels = list(channels or [])
        # where blocking store work runs, never the loop's thread; the runtime may point it at a lane's pool
        self.offload: Offload = in_default_pool
        self.follow = Follower(store, broker.lifecycle, clock, paths)
        self.key = key
        # order ref → the proposal whose code this process's decision spent; the order path's approval step
        self._taken: dict[str, str] = {}
        broker.approval_hook = self.check_order
        broker.broker.subscribe(self.follow.on_broker_event)

    # -- proposals --------------------------------------------------------------------------------

    async def propose_open(
        self, intent_id: str, intent_sha256: str, payload: ReadySignal, created_at: datetime | None = None
    ) -> Proposal:
        """A READY signal → sized, evidenced proposal waiting for a human."""
        pair = str(payload.pair)
        side = Side.BUY if payload.direction == "LONG" else Side.SELL
        quote = await self.broker.broker.quote(pair)
        evidence.check_entry_distance(payload, side, quote, self.settings.risk)
        others = tuple(p.id for p in await self.offload(self.store.proposals.pending) if p.pair == pair)
        account = await self.broker.account()
        open_risk = evidence.open_risk_usd(await self.offload(self.broker.lifecycle.all))
        sizing = evidence.size(payload, account.net_liquidation, self.settings.risk, open_risk)
        now = self.clock.now()
        state = await self.anchor("open", pair)
        expires = self._expiry(now)
        bundle = evidence.open_bundle(
            payload,
            side,
            sizing,
            quote,
            account,
            state,
            open_risk=open_risk,
            mode=self.broker.mode.upper(),
            link=self.broker.link_state(),
            now=now,
            expires=expires,
            created_at=created_at,
            other_pending=others,
        )
        draft = _draft(
            "open",
            intent_id,
            intent_id,
            pair,
            side,
            sizing.units,
            payload.entry,
            payload.stop,
            payload.target,
            bundle,
            state,
            intent_sha256,
            now,
        )
        return await self.offload(self._open, draft, sizing.risk_usd, expires)

    def _open(self, draft: Proposal, risk_usd: float, expires: datetime) -> Proposal:
        proposal = proposals.insert(self.store, draft)
        self.broker.lifecycle.open(
            proposal.id,
            proposal.pair,
            str(proposal.side),
            proposal.units,
            entry=proposal.entry,
            stop=proposal.stop,
            target=proposal.target,
            risk_usd=risk_usd,
        )
        codes.issue(self.store, self.key, proposal, expires, self.channels)
        return proposal

    async def propose_close(self, intent_id: str, intent_sha256: str, position_id: str, reason: str | None) -> Proposal:
        record = await self.offload(self.broker.lifecycle.find, position_id)
        if record is None:
            raise IntentError.single(
                "payload.position_id",
                f"seam tracks no position {position_id!r}; the `positions` kind lists the open ones",
            )
        if record.state not in (S.FILLED, S.MANAGED):
            raise IntentError.single(
                "payload.position_id",
                f"position {position_id} is {record.state}, not open: only a FILLED or MANAGED position can be closed",
            )
        side = Side(record.side).opposite
        quote = await self.broker.broker.quote(record.pair)
        now = self.clock.now()
        state = await self.anchor("close", record.pair)
        expires = self._expiry(now)
        bundle = evidence.close_bundle(
            record,
            side,
            quote,
            reason,
            mode=self.broker.mode.upper(),
            link=self.broker.link_state(),
            now=now,
            expires=expires,
        )
        draft = _draft(
            "close",
            intent_id,
            position_id,
            record.pair,
            side,
            record.units,
            None,
            None,
            None,
            bundle,
            state,
            intent_sha256,
            now,
        )
        return await self.offload(self._close, draft, expires)

    def _close(self, draft: Proposal, expires: datetime) -> Proposal:
        proposal = proposals.insert(self.store, draft)
        codes.issue(self.store, self.key, proposal, expires, self.channels)
        return proposal

    def _expiry(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.settings.approval.code_ttl_seconds)

    def get(self, proposal_id: str) -> Proposal:
        return proposals.get(self.store, proposal_id)

    def pending(self) -> list[Proposal]:
        return proposals.pending(self.store)

    async def anchor(self, kind: str, pair: str) -> dict[str, Any]:
        """The state a human approves against, for an `open` or a `close` proposal (evidence.anchor says which)."""
        positions = await self.broker.positions()
        orders = await self.broker.open_orders()
        account = await self.broker.account()
        quote = await self.broker.broker.quote(pair)
        halt = await self.offload(self.store.flags.halt)
        return evidence.anchor(kind, pair, positions, orders, account, quote, halted=halt is not None)

    # -- decisions --------------------------------------------------------------------------------

    async def decide(self, proposal_id: str, code: str, decision: str, *, via: str) -> Decided:
        proposal = await self.offload(self.get, proposal_id)
        if proposal.status is not ProposalStatus.PENDING:
            return Decided(
                "failed",
                f"Proposal {proposal_id} is {proposal.status}; nothing was done.",
                {"proposal": proposal_id, "status": str(proposal.status)},
            )
        # 0. the code is spent the moment it is presented, whatever happens below
        try:
            await self.offload(self._take, proposal, code)
        except GuardViolation as exc:
            if exc.guard in _CODE_GUARDS:
                return Decided("failed", exc.message, {"proposal": proposal.id, "guard": exc.guard})
            raise
        if decision == "reject":
            return await self.offload(self._reject, proposal, via)
        # 1. the stale gate: too old, or the world it was proposed against has changed
        now = self.clock.now()
        current = await self.anchor(proposal.kind, proposal.pair)
        changes = stale.changes(proposal, now, current, self.settings.approval.stale_minutes)
        if changes:
            refused = await self.offload(
                stale.refuse, self.store, self.broker.lifecycle, proposal, changes, via, self.clock.now()
            )
            if not refused:
                return Decided(
                    "failed",
                    f"Proposal {proposal_id} was decided meanwhile; nothing was done.",
                    {"proposal": proposal_id},
                )
            return Decided(
                "conflict",
                f"STATE_CONFLICT: proposal {proposal_id} no longer matches the market or the book; no order was sent.",
                {"proposal": proposal_id},
                changes=changes,
            )
        # 2. the broker's order path: halt → mode/account/port → approval (this decision's spent code) → pacing
        return await self._submit(proposal, via)

    def spend_presented(self, proposal_id: str, code: str, *, via: str) -> bool:
        """Spend `code` if it is the proposal's live code, without deciding anything (blocking: a pool thread)."""
        row = self.store.proposals.get(proposal_id)
        return row is not None and codes.spend_if_live(self.store, self.key, Proposal.from_row(row), code, via=via)

    def _take(self, proposal: Proposal, code: str) -> None:
        limits = codes.Limits(self.settings.approval.max_tries, self.settings.approval.wrong_codes_per_hour)
        codes.take(
            self.store,
            self.key,
            self.broker.lifecycle,
            self.broker.alerts,
            proposal,
            code,
            now=self.clock.now(),
            limits=limits,
        )

    async def _submit(self, proposal: Proposal, via: str) -> Decided:
        request = _request(proposal)
        self._taken[request.ref] = proposal.id
        try:
            orders = await self.broker.submit(request, approval=proposal.id)
        except GuardViolation as exc:
            if exc.guard in _CODE_GUARDS:
                return Decided("failed", exc.message, {"proposal": proposal.id, "guard": exc.guard})
            raise
        finally:
            self._taken.pop(request.ref, None)
        await self.offload(self.follow.after_submit, proposal, orders, via)
        if proposal.kind == "close":
            orders += await self._cancel_protection(proposal.position_id)
        return Decided(
            "ok",
            f"Approved by a human via {via}; the order went to the broker.",
            {"proposal": proposal.id, "pair": proposal.pair, "side": str(proposal.side), "units": proposal.units},
            orders,
        )

    async def check_order(self, request: OrderRequest | BracketRequest, approval: Any) -> None:
        """The approval step of the broker's order path (BrokerService.approval_hook): the order goes on only for
        a decision that spent this proposal's code, and the proposal turns APPROVED once (compare and set)."""
        # INV: no order without a human code
        if not isinstance(approval, str) or self._taken.get(request.ref) != approval:
            raise GuardViolation("approval", "an order needs a human's approval code; none was given")
        proposal = await self.offload(self.get, approval)
        await self.offload(codes.approve, self.store, self.broker.lifecycle, proposal, self.clock.now())

    def _reject(self, proposal: Proposal, via: str) -> Decided:
        """A human's "no": the code was spent; the proposal closes REJECTED and nothing is sent."""
        closed = proposals.close(
            self.store,
            self.broker.lifecycle,
            proposal,
            ProposalStatus.REJECTED,
            S.REJECTED,
            f"rejected by a human via {via}",
            self.clock.now(),
        )
        if not closed:
            return Decided(
                "failed", f"Proposal {proposal.id} was decided meanwhile; nothing was done.", {"proposal": proposal.id}
            )
        self.store.append("APPROVAL", {"proposal": proposal.id, "event": "rejected", "via": via}, intent_id=proposal.id)
        return Decided("ok", f"Rejected by a human via {via}; nothing was sent.", {"proposal": proposal.id})

    async def _cancel_protection(self, position_id: str) -> list[Order]:
        """After an approved close is sent, the position's stop and target must not stay working:
        either could later fill and open a position nobody approved."""
        cancelled = []
        for order in await self.broker.broker.orders_by_ref(position_id):
            if not order.state.done:
                cancelled.append(await self.broker.cancel(order.order_id, reason=f"position {position_id} closed"))
        return cancelled


def _draft(
    kind: str,
    proposal_id: str,
    position_id: str,
    pair: str,
    side: Side,
    units: int,
    entry: float | None,
    stop: float | None,
    target: float | None,
    bundle: dict[str, Any],
    state: dict[str, Any],
    intent_sha256: str,
    now: datetime,
) -> Proposal:
    return Proposal(
        proposal_id,
        kind,
        position_id,
        pair,
        side,
        units,
        entry,
        stop,
        target,
        bundle,
        state,
        proposals.digest(state),
        intent_sha256,
        now,
        ProposalStatus.PENDING,
        0,
    )


def _request(proposal: Proposal) -> OrderRequest | BracketRequest:
    if proposal.kind == "open":
        assert proposal.stop is not None and proposal.target is not None
        return BracketRequest(proposal.id, proposal.pair, proposal.side, proposal.units, proposal.stop, proposal.target)
    return OrderRequest(proposal.id, proposal.pair, proposal.side, proposal.units, OrderType.MARKET)
