"""Approval service: proposals wait for a human; only a fresh proposal with a verified code reaches the broker."""

from __future__ import annotations

import logging
import os
import socket
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
from seam.errors import BrokerError, BrokerUnavailable, GuardViolation, IntentError
from seam.faults import failpoint
from seam.intent import ReadySignal
from seam.paths import SeamPaths
from seam.store import ProposalStatus, Store, Submission, SubmissionState

__all__ = ["ApprovalService", "Decided"]

logger = logging.getLogger(__name__)
S = PositionState
T = SubmissionState
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
        # order ref → (the proposal whose code this process's decision spent, the intent deciding it): the
        # order path's approval step; a ref in here is in flight in this process and is never resolved
        self._taken: dict[str, tuple[str, str | None]] = {}
        # who is sending: a submission left `intended` by a process that is gone is resolved at the broker
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        broker.approval_hook = self.check_order
        broker.link_up_hooks.append(self.resolve_in_doubt)
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

    def invalidate_open(self, found: list[str], *, via: str = "configuration") -> list[str]:
        """Close every pending proposal as a conflict naming `found` (a strategy parameter changed); returns their
        ids. Blocking: a pool thread."""
        now = self.clock.now()
        return [p.id for p in self.pending() if stale.refuse(self.store, self.broker.lifecycle, p, found, via, now)]

    def _conflict_changes(self, proposal_id: str) -> list[str]:
        """What the latest state conflict of a proposal named (empty when it has none)."""
        for bead in reversed(self.store.beads(type_="APPROVAL", intent_id=proposal_id)):
            if bead.payload.get("event") == "state_conflict":
                return [str(change) for change in bead.payload.get("changes", [])]
        return []

    async def anchor(self, kind: str, pair: str) -> dict[str, Any]:
        """The state a human approves against, for an `open` or a `close` proposal (evidence.anchor says which)."""
        positions = await self.broker.positions()
        orders = await self.broker.open_orders()
        account = await self.broker.account()
        quote = await self.broker.broker.quote(pair)
        halt = await self.offload(self.store.flags.halt)
        return evidence.anchor(kind, pair, positions, orders, account, quote, halted=halt is not None)

    # -- decisions --------------------------------------------------------------------------------

    async def decide(
        self, proposal_id: str, code: str, decision: str, *, via: str, intent_id: str | None = None
    ) -> Decided:
        """A human's decision on a proposal. `intent_id` is the approve intent carrying it: when that intent
        already decided this proposal (the daemon stopped before answering), the answer is what happened."""
        if intent_id is not None:
            earlier = await self.offload(self.store.submissions.of_proposal, proposal_id)
            if earlier is not None and earlier.intent_id == intent_id:
                return await self._told(earlier, via)
        proposal = await self.offload(self.get, proposal_id)
        if proposal.status is ProposalStatus.CONFLICT:
            return Decided(
                "conflict",
                f"STATE_CONFLICT: proposal {proposal_id} was closed as a conflict; no order was sent.",
                {"proposal": proposal_id, "status": str(proposal.status)},
                changes=await self.offload(self._conflict_changes, proposal_id),
            )
        if proposal.status is not ProposalStatus.PENDING:
            return Decided(
                "failed",
                f"Proposal {proposal_id} is {proposal.status}; nothing was done.",
                {"proposal": proposal_id, "status": str(proposal.status)},
            )
        # 0. the code is spent the moment it is presented, whatever happens below
        try:
            await self.offload(self._take, proposal, code, intent_id)
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
        return await self._submit(proposal, via, intent_id)

    def spend_presented(self, proposal_id: str, code: str, *, via: str) -> bool:
        """Spend `code` if it is the proposal's live code, without deciding anything (blocking: a pool thread)."""
        row = self.store.proposals.get(proposal_id)
        return row is not None and codes.spend_if_live(self.store, self.key, Proposal.from_row(row), code, via=via)

    def _take(self, proposal: Proposal, code: str, intent_id: str | None) -> None:
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
            intent_id=intent_id,
        )

    async def _submit(self, proposal: Proposal, via: str, intent_id: str | None) -> Decided:
        request = _request(proposal)
        self._taken[request.ref] = (proposal.id, intent_id)
        try:
            try:
                orders = await self.broker.submit(request, approval=proposal.id)
            except GuardViolation as exc:
                if exc.guard in _CODE_GUARDS:
                    return Decided("failed", exc.message, {"proposal": proposal.id, "guard": exc.guard})
                raise
            except BrokerUnavailable as exc:
                if await self.offload(self._intended, request.ref):
                    # approved, then the link failed around the send: the outcome is not known, never guessed
                    await self.offload(self._note, request.ref, str(exc))
                    return _unknown(proposal.id, request.ref, str(exc))
                raise
            except BrokerError as exc:
                if await self.offload(self._intended, request.ref):
                    await self.offload(self._refused, proposal, request.ref, str(exc), via)
                raise
            failpoint("approve_after_submit")  # the broker has the order; seam has not recorded it yet
            await self.offload(self._sent, proposal, request.ref, orders, via)
        finally:
            self._taken.pop(request.ref, None)
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
        a decision that spent this proposal's code, and the proposal turns APPROVED once (compare and set), with
        the intent to submit recorded in the same transaction."""
        # INV: no order without a human code
        taken = self._taken.get(request.ref)
        if not isinstance(approval, str) or taken is None or taken[0] != approval:
            raise GuardViolation("approval", "an order needs a human's approval code; none was given")
        proposal = await self.offload(self.get, approval)
        await self.offload(
            codes.approve,
            self.store,
            self.broker.lifecycle,
            proposal,
            self.clock.now(),
            ref=request.ref,
            intent_id=taken[1],
            owner=self.owner,
        )
        failpoint("approve_before_submit")  # approved and about to send: the outcome is "intended" until known

    # -- submissions: recorded before the send, resolved at the broker after a crash -----------------

    def _intended(self, ref: str) -> bool:
        found = self.store.submissions.get(ref)
        return found is not None and found.state is T.INTENDED

    def _note(self, ref: str, detail: str) -> None:
        with self.store.transaction() as tx:
            self.store.submissions.note(tx, ref, detail)

    def _sent(self, proposal: Proposal, ref: str, orders: list[Order], via: str) -> None:
        with self.store.transaction() as tx:
            self.store.submissions.settle(tx, ref, T.SENT, [o.order_id for o in orders])
        self.follow.after_submit(proposal, orders, via)

    def _refused(self, proposal: Proposal, ref: str, reason: str, via: str) -> None:
        """The broker refused the approved order outright: nothing is working under `ref`."""
        with self.store.transaction() as tx:
            if not self.store.submissions.settle(tx, ref, T.NOT_SENT, [], f"refused by the broker: {reason}"):
                return
            self.store.proposals.set_status(tx, proposal.id, ProposalStatus.FAILED)
            self.store.append(
                "APPROVAL",
                {"proposal": proposal.id, "event": "refused_by_broker", "ref": ref, "reason": reason, "via": via},
                intent_id=proposal.id,
                conn=tx,
            )
        if proposal.kind == "open":
            self.broker.lifecycle.transition(
                proposal.position_id, S.REJECTED, reason=f"refused by the broker: {reason}"
            )

    async def resolve_in_doubt(self) -> None:
        """At every connect, before reconciliation: each approval whose outcome was never recorded (the daemon
        stopped between the approval and the broker's answer) is looked up by its order reference. What the
        broker holds is adopted; where it holds nothing, nothing was sent and the proposal waits for a human
        again. Never sent blind, never forgotten."""
        for submission in await self.offload(self.store.submissions.unresolved):
            if submission.ref in self._taken or self._owner_alive(submission.owner):
                continue  # in flight here, or in a live process
            try:
                await self._resolve(submission)
            except BrokerUnavailable as exc:
                logger.warning("approval %s: its order could not be looked up yet (%s)", submission.proposal_id, exc)
                return
        for position_id in await self.offload(self.follow.catch_up, await self.broker.broker.fills()):
            logger.warning(
                "position %s: applied fills the broker reported while this daemon was not there", position_id
            )
        await self._sweep_protection()

    async def _sweep_protection(self) -> None:
        """A position whose close went (CLOSING) or filled (CLOSED) keeps no stop or target working: a daemon
        killed between the close and their cancel left them, and either could fill and open a position nobody
        approved."""
        records = await self.offload(self.broker.lifecycle.all, include_terminal=True)
        for record in records:
            if record.state in (S.CLOSING, S.CLOSED):
                for order in await self._cancel_protection(record.id):
                    logger.warning(
                        "position %s is %s: cancelled its working order %s", record.id, record.state, order.order_id
                    )

    async def _resolve(self, submission: Submission) -> Submission:
        orders = await self.broker.broker.orders_by_ref(submission.ref)
        proposal = await self.offload(self.get, submission.proposal_id)
        if orders:
            adopted = await self.offload(self._adopt, proposal, submission, orders)
            if adopted and proposal.kind == "close":
                await self._cancel_protection(proposal.position_id)
        else:
            await self.offload(self._not_sent, proposal, submission)
        resolved = await self.offload(self.store.submissions.get, submission.ref)
        assert resolved is not None
        return resolved

    def _adopt(self, proposal: Proposal, submission: Submission, orders: list[Order]) -> bool:
        ids = [o.order_id for o in orders]
        with self.store.transaction() as tx:
            if not self.store.submissions.settle(
                tx, submission.ref, T.FOUND, ids, "found at the broker by its reference"
            ):
                return False
            self.store.append(
                "ORDER",
                {"event": "adopted", "ref": submission.ref, "orders": ids, "proposal": proposal.id},
                intent_id=submission.ref,
                conn=tx,
            )
        self.follow.after_submit(proposal, orders, "a restart (found at the broker by its reference)")
        return True

    def _not_sent(self, proposal: Proposal, submission: Submission) -> None:
        detail = "the broker holds no order with this reference: the daemon stopped before sending it"
        with self.store.transaction() as tx:
            if not self.store.submissions.settle(tx, submission.ref, T.NOT_SENT, [], detail):
                return
            reopened = self.store.proposals.reopen(tx, proposal.id)
            self.store.append(
                "APPROVAL",
                {"proposal": proposal.id, "event": "not_sent", "ref": submission.ref, "reopened": reopened},
                intent_id=proposal.id,
                conn=tx,
            )
        if reopened and proposal.kind == "open":
            record = self.broker.lifecycle.find(proposal.position_id)
            if record is not None and record.state is S.APPROVED:
                self.broker.lifecycle.transition(proposal.position_id, S.PROPOSED, reason=detail)

    def _owner_alive(self, owner: str | None) -> bool:
        """Whether the process that recorded a submission may still be sending it (this one never is: its
        own in-flight refs are in `_taken`)."""
        if owner is None or owner == self.owner:
            return False
        host, _, pid = owner.rpartition(":")
        if host != socket.gethostname() or not pid.isdigit():
            return False  # another machine's process cannot be asked; the lease (one broker owner) decides
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    async def _told(self, submission: Submission, via: str) -> Decided:
        """The answer for the intent that approved `submission`, run again after the daemon stopped."""
        if submission.state is T.INTENDED and not self._owner_alive(submission.owner):
            try:
                submission = await self._resolve(submission)
            except BrokerUnavailable as exc:
                return _unknown(submission.proposal_id, submission.ref, str(exc))
        facts = {"proposal": submission.proposal_id, "order reference": submission.ref}
        if submission.state is T.INTENDED:
            return _unknown(submission.proposal_id, submission.ref, "another daemon is still sending it")
        if submission.state is T.NOT_SENT:
            if submission.detail.startswith("refused by the broker"):
                return Decided("failed", f"Approved, but the order was {submission.detail}; nothing is working.", facts)
            return Decided(
                "failed",
                f"Approved, but the daemon stopped before the order was sent: the broker holds no order with "
                f"reference {submission.ref}, so nothing was sent. Proposal {submission.proposal_id} waits for a "
                f"human again: a new code (`seam approvals --new-code {submission.proposal_id}` at the console) "
                "and an approve intent with a new id approve it.",
                facts,
            )
        try:
            orders = await self.broker.broker.orders_by_ref(submission.ref)
            proposal = await self.offload(self.get, submission.proposal_id)
            if proposal.kind == "close":  # the daemon may have stopped before cancelling the stop and target
                orders += await self._cancel_protection(proposal.position_id)
        except BrokerUnavailable:
            orders = []
        found = " (found there by its reference after the daemon restarted)" if submission.state is T.FOUND else ""
        return Decided(
            "ok",
            f"Approved by a human via {via}; the order went to the broker{found}.",
            {**facts, "orders": ", ".join(submission.orders)},
            orders,
        )

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


def _unknown(proposal_id: str, ref: str, why: str) -> Decided:
    return Decided(
        "failed",
        f"Approved, but whether the order reached the broker is not known yet ({why}). Nothing will be sent "
        f"again for it: when the broker link is back, seam looks reference {ref} up, adopts what the broker holds "
        "or, if it holds nothing, reopens the proposal, and records which (an ORDER or APPROVAL bead).",
        {"proposal": proposal_id, "order reference": ref},
    )


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
