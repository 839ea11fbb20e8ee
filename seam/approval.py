"""Approval: human sovereignty. A READY signal or a close becomes a proposal; only a human's code moves capital.

    propose  → evidence bundle, state anchor, lifecycle PROPOSED, a 6-digit code to human channels only
    decide   → stale gate (age, anchor) → the broker's order path (halt → mode/account/port → THIS code
               check → pacing → submit) → lifecycle APPROVED → SUBMITTED
    fills    → FILLED → MANAGED; the stop, the target or an approved close → CLOSED and an AUTOPSY

Codes are single-use, bound to the proposal's hash, expire (approval.code_ttl_seconds), and lock
the proposal after approval.max_tries wrong tries. They are kept in the store for the operator's
console (`seam approvals`) and written to the `seam watch` terminal; they never reach responses/,
beads, logs or MCP output. docs/SECURITY.md states what this does and does not stop.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from seam import fx
from seam.broker.lifecycle import PositionState
from seam.broker.service import BrokerService
from seam.broker.types import BracketRequest, Fill, Order, OrderRequest, OrderState, OrderType, Side
from seam.clock import Clock
from seam.config import Settings
from seam.errors import GuardViolation, HandlerError, IntentError
from seam.paths import SeamPaths
from seam.store import ProposalRow, ProposalStatus, Store, canonical_json

__all__ = ["ApprovalService", "Decided", "Proposal", "ProposalStatus"]

logger = logging.getLogger(__name__)
S = PositionState

@dataclass(frozen=True)
class Proposal:
    id: str
    kind: str                 # open | close
    position_id: str
    pair: str
    side: Side
    units: int
    entry: float | None
    stop: float | None
    target: float | None
    evidence: dict[str, Any]
    anchor: dict[str, Any]
    anchor_hash: str
    intent_sha256: str
    created_at: datetime
    status: ProposalStatus
    tries: int

    @classmethod
    def from_row(cls, r: ProposalRow) -> Proposal:
        return cls(r.id, r.kind, r.position_id, r.pair, Side(r.side), r.units, r.entry, r.stop, r.target, r.evidence,
                   r.anchor, r.anchor_hash, r.intent_sha256, r.created_at, r.status, r.tries)

    @property
    def bound_hash(self) -> str:
        """What a code is bound to: the proposal's terms. A changed row invalidates its code."""
        material = canonical_json([self.id, self.kind, self.position_id, self.pair, str(self.side), self.units,
                                   self.entry, self.stop, self.target, self.anchor_hash, self.intent_sha256])
        return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class Decided:
    """The outcome of a decision, in facts: `status` is ok, failed or conflict for the response."""

    status: str
    headline: str
    facts: dict[str, Any] = field(default_factory=dict)
    orders: list[Order] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


CodeChannel = Callable[[Proposal, str, datetime], None]


class ApprovalService:
    def __init__(self, store: Store, broker: BrokerService, settings: Settings, clock: Clock,
                 paths: SeamPaths, channels: list[CodeChannel] | None = None) -> None:
        self.store = store
        self.broker = broker
        self.settings = settings
        self.clock = clock
        self.paths = paths
        self.channels = list(channels or [])
        self._pending_code: dict[str, str] = {}  # proposal id → the code presented, checked in the order path
        broker.approval_hook = self.check_order
        broker.broker.subscribe(self._on_broker_event)

    # -- proposals --------------------------------------------------------------------------------

    async def propose_open(self, intent_id: str, intent_sha256: str, payload: Any) -> Proposal:
        """A READY signal → sized, evidenced proposal waiting for a human."""
        pair = str(payload.pair)
        side = Side.BUY if payload.direction == "LONG" else Side.SELL
        quote = await self.broker.broker.quote(pair)
        account = await self.broker.account()
        open_risk = self._open_risk_usd()
        mid = (quote.bid + quote.ask) / 2
        quote_to_usd = 1.0 if pair.endswith("USD") else 1.0 / payload.entry
        sizing = fx.size_units(account.net_liquidation, payload.risk_percent, payload.entry, payload.stop, pair,
                               quote_to_usd, max_units_per_order=self.settings.risk.max_units_per_order,
                               max_total_open_risk_usd=self.settings.risk.max_total_open_risk_usd,
                               open_risk_usd=open_risk)
        if sizing.units <= 0:
            raise HandlerError(f"no size is left for this trade: {'; '.join(sizing.bound_by)}",
                               "Nothing was proposed. Close or reduce open trades, or change risk settings.")
        now = self.clock.now()
        anchor = await self.anchor(pair)
        expires = now + timedelta(seconds=self.settings.approval.code_ttl_seconds)
        halt = self.store.flags.halt()
        evidence = {
            "pair": pair, "direction": payload.direction, "side": str(side), "setup": payload.setup_type,
            "confidence": payload.confidence, "entry": payload.entry, "stop": payload.stop, "target": payload.target,
            "stop_pips": abs(fx.pips(pair, payload.entry - payload.stop)),
            "target_pips": abs(fx.pips(pair, payload.target - payload.entry)),
            "reward_risk": fx.reward_risk(payload.entry, payload.stop, payload.target),
            "units": sizing.units, "risk_usd": sizing.risk_usd, "risk_percent": payload.risk_percent,
            "budget_usd": sizing.budget_usd, "sizing_notes": list(sizing.bound_by),
            "equity": account.net_liquidation, "bid": quote.bid, "ask": quote.ask, "spread_pips": quote.spread_pips,
            "mid": round(mid, 5), "session": fx.fx_session(now), "open_risk_usd": open_risk,
            "open_positions": len(anchor["positions"]),
            "guards": {"halt": "ON" if halt else "off", "mode": self.broker.mode.upper(),
                       "link": self.broker.link_state()},
            "expires_at": expires.isoformat(timespec="seconds"), "thesis": payload.thesis,
        }
        proposal = self._insert("open", intent_id, intent_id, pair, side, sizing.units, payload.entry, payload.stop,
                                payload.target, evidence, anchor, intent_sha256, now)
        self.broker.lifecycle.open(intent_id, pair, str(side), sizing.units, entry=payload.entry, stop=payload.stop,
                                   target=payload.target, risk_usd=sizing.risk_usd)
        self._issue_code(proposal, expires)
        return proposal

    async def propose_close(self, intent_id: str, intent_sha256: str, position_id: str,
                            reason: str | None) -> Proposal:
        record = self.broker.lifecycle.find(position_id)
        if record is None:
            raise IntentError.single("payload.position_id", f"seam tracks no position {position_id!r}; the "
                                                            "`positions` kind lists the open ones")
        if record.state not in (S.FILLED, S.MANAGED):
            raise IntentError.single("payload.position_id", f"position {position_id} is {record.state}, not open: "
                                                            "only a FILLED or MANAGED position can be closed")
        side = Side(record.side).opposite
        quote = await self.broker.broker.quote(record.pair)
        now = self.clock.now()
        anchor = await self.anchor(record.pair)
        expires = now + timedelta(seconds=self.settings.approval.code_ttl_seconds)
        entry = float(record.facts.get("entry_fill", record.facts.get("entry", 0.0)))
        exit_price = quote.bid if side is Side.SELL else quote.ask
        signed = 1 if record.side == "BUY" else -1
        evidence = {
            "pair": record.pair, "position": position_id, "side": str(side), "units": record.units,
            "entry": entry, "bid": quote.bid, "ask": quote.ask, "spread_pips": quote.spread_pips,
            "open_pips": fx.pips(record.pair, (exit_price - entry) * signed), "reason": reason or "",
            "session": fx.fx_session(now), "expires_at": expires.isoformat(timespec="seconds"),
            "guards": {"mode": self.broker.mode.upper(), "link": self.broker.link_state()},
        }
        proposal = self._insert("close", intent_id, position_id, record.pair, side, record.units, None, None, None,
                                evidence, anchor, intent_sha256, now)
        self._issue_code(proposal, expires)
        return proposal

    def _insert(self, kind: str, proposal_id: str, position_id: str, pair: str, side: Side, units: int,
                entry: float | None, stop: float | None, target: float | None, evidence: dict[str, Any],
                anchor: dict[str, Any], intent_sha256: str, now: datetime) -> Proposal:
        anchor_hash = _hash(anchor)
        with self.store.transaction() as tx:
            if self.store.proposals.exists(proposal_id, tx):
                raise IntentError.single("id", f"a proposal {proposal_id} already exists; use a new id for a new "
                                               "proposal")
            self.store.proposals.insert(tx, ProposalRow(proposal_id, kind, position_id, pair, str(side), units, entry,
                                                        stop, target, evidence, anchor, anchor_hash, intent_sha256,
                                                        now, ProposalStatus.PENDING, 0))
            self.store.append("PROPOSAL", {"proposal": proposal_id, "kind": kind, "pair": pair, "side": str(side),
                                           "units": units, "anchor": anchor_hash[:16]}, intent_id=proposal_id, conn=tx)
        return self.get(proposal_id)

    def _issue_code(self, proposal: Proposal, expires: datetime) -> None:
        # INV: the code goes only to human channels; nothing here returns it to the caller
        code = f"{secrets.randbelow(1_000_000):06d}"
        self.store.codes.issue(proposal.id, code, proposal.bound_hash, expires)
        for channel in self.channels:
            try:
                channel(proposal, code, expires)
            except Exception:  # a broken channel must not stop the proposal; the console still has it
                logger.warning("an approval-code channel failed for %s", proposal.id)

    def get(self, proposal_id: str) -> Proposal:
        row = self.store.proposals.get(proposal_id)
        if row is None:
            raise IntentError.single("payload.proposal", f"there is no proposal {proposal_id!r}; the proposal id is "
                                                         "in the pending_approval response")
        return Proposal.from_row(row)

    def pending(self) -> list[Proposal]:
        return [Proposal.from_row(row) for row in self.store.proposals.pending()]

    async def anchor(self, pair: str) -> dict[str, Any]:
        """The state a human approves against: positions, working orders, equity bucket, halt flag, quote."""
        positions = await self.broker.positions()
        orders = await self.broker.open_orders()
        account = await self.broker.account()
        quote = await self.broker.broker.quote(pair)
        halt = self.store.flags.halt()
        return {
            "positions": sorted([p.pair, p.quantity] for p in positions if p.quantity),
            "orders": sorted([o.ref, o.pair, str(o.side), o.quantity] for o in orders),
            "equity_bucket": int(account.net_liquidation // 1000) * 1000,
            "halt": halt is not None,
            "quote_bucket": round(((quote.bid + quote.ask) / 2) / (fx.pip_size(pair) * 10)),  # 10-pip buckets
        }

    def _open_risk_usd(self) -> float:
        return round(sum(float(r.facts.get("risk_usd", 0.0)) for r in self.broker.lifecycle.all()
                         if r.state in (S.APPROVED, S.SUBMITTED, S.PARTIALLY_FILLED, S.FILLED, S.MANAGED)), 2)

    # -- decisions --------------------------------------------------------------------------------

    async def decide(self, proposal_id: str, code: str, decision: str, *, via: str) -> Decided:
        proposal = self.get(proposal_id)
        if proposal.status is not ProposalStatus.PENDING:
            return Decided("failed", f"Proposal {proposal_id} is {proposal.status}; nothing was done.",
                           {"proposal": proposal_id, "status": str(proposal.status)})
        if decision == "reject":
            return self._reject(proposal, code, via)
        # 1. the stale gate: too old, or the world it was proposed against has changed
        changes = await self._stale_changes(proposal)
        if changes:
            self._close_proposal(proposal, ProposalStatus.CONFLICT, S.EXPIRED, "STATE_CONFLICT: " + "; ".join(changes))
            self.store.append("APPROVAL", {"proposal": proposal_id, "event": "state_conflict", "changes": changes,
                                           "via": via}, intent_id=proposal_id)
            return Decided("conflict", f"STATE_CONFLICT: proposal {proposal_id} no longer matches the market or the "
                                       "book; no order was sent.", {"proposal": proposal_id}, changes=changes)
        # 2. the broker's order path: halt → mode/account/port → this code → pacing → submit
        request = self._request(proposal)
        self._pending_code[request.ref] = code
        try:
            orders = await self.broker.submit(request, approval=proposal_id)
        except GuardViolation as exc:
            if exc.guard in ("code", "code_expired", "locked"):
                return Decided("failed", exc.message, {"proposal": proposal_id, "guard": exc.guard})
            raise
        finally:
            self._pending_code.pop(request.ref, None)
        self._after_submit(proposal, orders, via)
        if proposal.kind == "close":
            orders += await self._cancel_protection(proposal.position_id)
        return Decided("ok", f"Approved by a human via {via}; the order went to the broker.",
                       {"proposal": proposal_id, "pair": proposal.pair, "side": str(proposal.side),
                        "units": proposal.units}, orders)

    def check_order(self, request: OrderRequest | BracketRequest, approval: Any) -> None:
        """The approval step of the broker's order path (BrokerService.approval_hook)."""
        # INV: no order without a human code
        if not isinstance(approval, str) or request.ref not in self._pending_code:
            raise GuardViolation("approval", "an order needs a human's approval code; none was given")
        code = self._pending_code[request.ref]
        self._verify_code(self.get(approval), code)

    def _verify_code(self, proposal: Proposal, code: str) -> None:
        issued = self.store.codes.get(proposal.id)
        if issued is None:
            raise GuardViolation("code", f"no code was issued for proposal {proposal.id}")
        now = self.clock.now()
        if issued.used:
            raise GuardViolation("code", "that code was already used; codes are single-use")
        if now > issued.expires_at:
            self._close_proposal(proposal, ProposalStatus.EXPIRED, S.EXPIRED, "the approval code expired")
            raise GuardViolation("code_expired", f"the approval code expired at {issued.expires_at.isoformat()}; send "
                                                 "the signal again for a new proposal and code")
        if issued.bound_hash != proposal.bound_hash:
            raise GuardViolation("code", "the proposal changed after its code was issued; the code is void")
        if not secrets.compare_digest(issued.code, code):
            tries = proposal.tries + 1
            locked = tries >= self.settings.approval.max_tries
            with self.store.transaction() as tx:
                self.store.proposals.set_tries(tx, proposal.id, tries,
                                               ProposalStatus.LOCKED if locked else ProposalStatus.PENDING)
                self.store.append("APPROVAL", {"proposal": proposal.id, "event": "wrong_code", "tries": tries,
                                               "locked": locked}, intent_id=proposal.id, conn=tx)
            if locked:
                if proposal.kind == "open":
                    self.broker.lifecycle.transition(proposal.position_id, S.CANCELLED,
                                                     reason="locked after wrong codes")
                raise GuardViolation("locked", f"wrong code; proposal {proposal.id} is now locked after {tries} wrong "
                                               "tries — send the signal again for a new proposal")
            left = self.settings.approval.max_tries - tries
            raise GuardViolation("code", f"wrong code; {left} {'try' if left == 1 else 'tries'} left")
        with self.store.transaction() as tx:
            self.store.codes.spend(tx, proposal.id)
            self.store.proposals.set_status(tx, proposal.id, ProposalStatus.APPROVED, decided_at=now)
            self.store.append("APPROVAL", {"proposal": proposal.id, "event": "approved"}, intent_id=proposal.id,
                              conn=tx)
        if proposal.kind == "open":
            self.broker.lifecycle.transition(proposal.position_id, S.APPROVED, reason="human approval")

    def _reject(self, proposal: Proposal, code: str, via: str) -> Decided:
        try:
            issued = self.store.codes.get(proposal.id)
            if issued is None or issued.used or not secrets.compare_digest(issued.code, code):
                self._verify_code(proposal, code)  # counts the wrong try and explains
        except GuardViolation as exc:
            return Decided("failed", exc.message, {"proposal": proposal.id, "guard": exc.guard})
        with self.store.transaction() as tx:
            self.store.codes.spend(tx, proposal.id)
        self._close_proposal(proposal, ProposalStatus.REJECTED, S.REJECTED, f"rejected by a human via {via}")
        self.store.append("APPROVAL", {"proposal": proposal.id, "event": "rejected", "via": via}, intent_id=proposal.id)
        return Decided("ok", f"Rejected by a human via {via}; nothing was sent.", {"proposal": proposal.id})

    async def _stale_changes(self, proposal: Proposal) -> list[str]:
        age = self.clock.now() - proposal.created_at
        limit = timedelta(minutes=self.settings.approval.stale_minutes)
        changes = []
        if age > limit:
            changes.append(f"the proposal is {int(age.total_seconds() // 60)} min old (limit "
                           f"{self.settings.approval.stale_minutes:g} min)")
        now_anchor = await self.anchor(proposal.pair)
        for key, before in proposal.anchor.items():
            after = now_anchor.get(key)
            if after != before:
                changes.append(f"{key.replace('_', ' ')}: {_show(before)} → {_show(after)}")
        return changes

    def _close_proposal(self, proposal: Proposal, status: ProposalStatus, state: PositionState, reason: str) -> None:
        with self.store.transaction() as tx:
            self.store.proposals.set_status(tx, proposal.id, status, decided_at=self.clock.now())
        if proposal.kind == "open":
            record = self.broker.lifecycle.get(proposal.position_id)
            if record.state in (S.PROPOSED, S.APPROVED):
                self.broker.lifecycle.transition(proposal.position_id, state, reason=reason)

    def _request(self, proposal: Proposal) -> OrderRequest | BracketRequest:
        if proposal.kind == "open":
            assert proposal.stop is not None and proposal.target is not None
            return BracketRequest(proposal.id, proposal.pair, proposal.side, proposal.units, proposal.stop,
                                  proposal.target)
        return OrderRequest(proposal.id, proposal.pair, proposal.side, proposal.units, OrderType.MARKET)

    async def _cancel_protection(self, position_id: str) -> list[Order]:
        """After an approved close is sent, the position's stop and target must not stay working:
        either could later fill and open a position nobody approved."""
        cancelled = []
        for order in await self.broker.broker.orders_by_ref(position_id):
            if not order.state.done:
                cancelled.append(await self.broker.cancel(order.order_id, reason=f"position {position_id} closed"))
        return cancelled

    def _after_submit(self, proposal: Proposal, orders: list[Order], via: str) -> None:
        life = self.broker.lifecycle
        if proposal.kind == "open":
            record = life.get(proposal.position_id)
            if record.state is S.APPROVED:
                life.transition(proposal.position_id, S.SUBMITTED, orders=[o.order_id for o in orders], via=via)
            self._sync_from_orders(proposal.position_id, orders)
        else:
            record = life.get(proposal.position_id)
            if record.state in (S.FILLED, S.MANAGED):
                life.transition(proposal.position_id, S.CLOSING, reason=f"close approved via {via}")

    # -- following the broker ---------------------------------------------------------------------

    def _on_broker_event(self, event: Order | Fill) -> None:
        try:
            if isinstance(event, Fill):
                self._on_fill(event)
        except Exception:  # a listener must never break the broker's event flow
            logger.exception("could not apply a broker event to the lifecycle")

    def _sync_from_orders(self, position_id: str, orders: list[Order]) -> None:
        """After submit, fills that arrived synchronously (market entries) may already be there."""
        for fill_order in orders:
            if fill_order.state is OrderState.FILLED:
                record = self.broker.lifecycle.get(position_id)
                if record.state is S.SUBMITTED:
                    self._entry_filled(position_id, fill_order.filled, fill_order.avg_fill_price or 0.0,
                                       self.clock.now())

    def _position_for_ref(self, ref: str) -> tuple[str, str] | None:
        row = self.store.proposals.get(ref)
        return (row.position_id, row.kind) if row else None

    def _on_fill(self, fill: Fill) -> None:
        found = self._position_for_ref(fill.ref)
        if found is None:
            return
        position_id, _kind = found
        life = self.broker.lifecycle
        record = life.get(position_id)
        life.touch(position_id)
        if fill.side.value == record.side:
            if record.state in (S.SUBMITTED, S.PARTIALLY_FILLED, S.STALLED):
                self._entry_filled(position_id, fill.quantity, fill.price, fill.time)
            return
        if record.state in (S.FILLED, S.MANAGED, S.CLOSING, S.STALLED):
            self._closed(position_id, fill)

    def _entry_filled(self, position_id: str, quantity: int, price: float, when: datetime) -> None:
        life = self.broker.lifecycle
        record = life.get(position_id)
        filled = int(record.facts.get("filled_units", 0)) + quantity
        facts = {"filled_units": filled, "entry_fill": price, "entry_time": when.isoformat()}
        if filled < record.units:
            if record.state is not S.PARTIALLY_FILLED:
                life.transition(position_id, S.PARTIALLY_FILLED, reason="partial fill", **facts)
            return
        life.transition(position_id, S.FILLED, reason="entry filled", **facts)
        life.transition(position_id, S.MANAGED, reason="stop and target working")

    def _closed(self, position_id: str, fill: Fill) -> None:
        life = self.broker.lifecycle
        record = life.get(position_id)
        entry = float(record.facts.get("entry_fill", record.facts.get("entry", fill.price)))
        signal_entry = float(record.facts.get("entry", entry))
        stop = record.facts.get("stop")
        signed = 1 if record.side == "BUY" else -1
        pips = fx.pips(record.pair, (fill.price - entry) * signed)
        stop_pips = abs(fx.pips(record.pair, entry - float(stop))) if stop is not None else None
        opened = datetime.fromisoformat(record.facts["entry_time"]) if "entry_time" in record.facts else fill.time
        autopsy = {
            "position": position_id, "pair": record.pair, "side": record.side, "units": record.units,
            "entry": entry, "exit": fill.price, "pips": pips,
            "r_multiple": round(pips / stop_pips, 2) if stop_pips else None,
            "duration_seconds": int((fill.time - opened).total_seconds()),
            "slippage_pips": fx.pips(record.pair, (entry - signal_entry) * signed),
            "exit_order": fill.order_id, "commission": fill.commission,
        }
        life.transition(position_id, S.CLOSED, reason="exit filled", exit_fill=fill.price)
        bead = self.store.append("AUTOPSY", autopsy, intent_id=position_id)
        self._write_trade_response(autopsy, bead.seq)

    def _write_trade_response(self, autopsy: dict[str, Any], bead: int) -> None:
        from seam.respond import Outcome, Status, render_body, render_response, write_response

        now = self.clock.now()
        outcome = Outcome(Status.OK, "autopsy", {"a": autopsy, "sources": [f"bead {bead}"]})
        body = render_body(outcome, {"generated_at": now.isoformat(timespec="seconds")})
        name = f"trade-{autopsy['position']}"
        text = render_response(intent_id=name, kind="trade", status=Status.OK,
                               intent_sha256=_hash(autopsy), bead=bead, at=now, body=body)
        write_response(self.paths.responses, f"{name}.md", text)


def _hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(" ".join(str(x) for x in item) if isinstance(item, list) else str(item)
                         for item in value) or "none"
    return str(value)
