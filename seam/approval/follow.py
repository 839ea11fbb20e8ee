"""Following the broker: fills move a position FILLED → MANAGED, an exit CLOSED with an AUTOPSY and its trade file."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from seam import fx
from seam.approval.proposals import Proposal, digest, position_for_ref
from seam.broker.lifecycle import Lifecycle, PositionRecord, PositionState
from seam.broker.types import Fill, Order, OrderState
from seam.clock import Clock
from seam.paths import SeamPaths
from seam.respond import Outcome, Status, render_body, render_response, write_response
from seam.store import Store

__all__ = ["Follower"]

logger = logging.getLogger(__name__)
S = PositionState
# states in which a fill the broker reports may not have been applied yet
_CATCHING_UP = frozenset({S.SUBMITTED, S.PARTIALLY_FILLED, S.FILLED, S.MANAGED, S.CLOSING, S.STALLED})


class Follower:
    """Applies the broker's fills to the lifecycle of the positions seam proposed."""

    def __init__(self, store: Store, lifecycle: Lifecycle, clock: Clock, paths: SeamPaths) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.clock = clock
        self.paths = paths
        # Fills arrive on the loop's thread while `after_submit` may be running in a pool: each reads a
        # position's state and then moves it, so they take turns, or a fill is lost or counted twice.
        self._turn = threading.RLock()
        # Entry fills that came back before `after_submit` recorded the order as SUBMITTED (IB reports fills
        # as they happen, while the order path is still recording the submission): applied right after it.
        self._early: dict[str, list[Fill]] = {}

    def on_broker_event(self, event: Order | Fill) -> None:
        """The broker's listener. It stays synchronous on the loop's thread for now (its blocking writes
        included): the broker calls it in event order, and a fill must be applied in that order."""
        try:
            if isinstance(event, Fill):
                with self._turn:
                    self._on_fill(event)
        except Exception:  # a listener must never break the broker's event flow
            logger.exception("could not apply a broker event to the lifecycle")

    def after_submit(self, proposal: Proposal, orders: list[Order], via: str) -> None:
        """The lifecycle once the order went: an entry SUBMITTED (and filled, if it already is), a close CLOSING."""
        with self._turn:
            record = self.lifecycle.get(proposal.position_id)
            if proposal.kind == "open":
                if record.state is S.APPROVED:
                    self.lifecycle.transition(
                        proposal.position_id, S.SUBMITTED, orders=[o.order_id for o in orders], via=via
                    )
                for fill in self._early.pop(proposal.position_id, []):
                    self._apply_entry(proposal.position_id, fill)
                self._sync_from_orders(proposal.position_id, orders)
            elif record.state in (S.FILLED, S.MANAGED):
                self.lifecycle.transition(proposal.position_id, S.CLOSING, reason=f"close approved via {via}")

    def catch_up(self, fills: list[Fill]) -> list[str]:
        """Apply the fills the broker reports that the lifecycle has not (the daemon was down while they came,
        or died applying one): an entry's missing quantity, then an exit. Returns the positions moved."""
        by_position: dict[str, list[Fill]] = {}
        for fill in sorted(fills, key=lambda f: f.time):
            position_id = position_for_ref(self.store, fill.ref)
            if position_id is not None:
                by_position.setdefault(position_id, []).append(fill)
        moved = []
        with self._turn:
            for position_id, its in by_position.items():
                record = self.lifecycle.find(position_id)
                if record is None or record.state not in _CATCHING_UP:
                    continue
                entries = [f for f in its if f.side.value == record.side]
                exits = [f for f in its if f.side.value != record.side]
                have = int(record.facts.get("filled_units", 0))
                got = sum(f.quantity for f in entries)
                if record.state in (S.SUBMITTED, S.PARTIALLY_FILLED, S.STALLED) and got > have:
                    self._entry_filled(position_id, got - have, entries[-1].price, entries[-1].time)
                    moved.append(position_id)
                record = self.lifecycle.get(position_id)
                if exits and record.state in (S.FILLED, S.MANAGED, S.CLOSING, S.STALLED):
                    self._closed(position_id, exits[-1])
                    moved.append(position_id)
        return moved

    def _sync_from_orders(self, position_id: str, orders: list[Order]) -> None:
        """After submit, fills that arrived synchronously (market entries) may already be there."""
        for fill_order in orders:
            if fill_order.state is OrderState.FILLED:
                record = self.lifecycle.get(position_id)
                if record.state is S.SUBMITTED:
                    self._entry_filled(
                        position_id, fill_order.filled, fill_order.avg_fill_price or 0.0, self.clock.now()
                    )

    def _apply_entry(self, position_id: str, fill: Fill) -> None:
        if self.lifecycle.get(position_id).state in (S.SUBMITTED, S.PARTIALLY_FILLED, S.STALLED):
            self._entry_filled(position_id, fill.quantity, fill.price, fill.time)

    def _on_fill(self, fill: Fill) -> None:
        position_id = position_for_ref(self.store, fill.ref)
        if position_id is None:
            return
        record = self.lifecycle.get(position_id)
        self.lifecycle.touch(position_id)
        if fill.side.value == record.side:
            if record.state is S.APPROVED:  # the order is on its way; its submission is not recorded yet
                self._early.setdefault(position_id, []).append(fill)
            else:
                self._apply_entry(position_id, fill)
            return
        if record.state in (S.FILLED, S.MANAGED, S.CLOSING, S.STALLED):
            self._closed(position_id, fill)

    def _entry_filled(self, position_id: str, quantity: int, price: float, when: datetime) -> None:
        record = self.lifecycle.get(position_id)
        filled = int(record.facts.get("filled_units", 0)) + quantity
        facts = {"filled_units": filled, "entry_fill": price, "entry_time": when.isoformat()}
        if filled < record.units:
            if record.state is not S.PARTIALLY_FILLED:
                self.lifecycle.transition(position_id, S.PARTIALLY_FILLED, reason="partial fill", **facts)
            return
        self.lifecycle.transition(position_id, S.FILLED, reason="entry filled", **facts)
        self.lifecycle.transition(position_id, S.MANAGED, reason="stop and target working")

    def _closed(self, position_id: str, fill: Fill) -> None:
        record = self.lifecycle.get(position_id)
        autopsy = _autopsy(record, fill)
        self.lifecycle.transition(position_id, S.CLOSED, reason="exit filled", exit_fill=fill.price)
        bead = self.store.append("AUTOPSY", autopsy, intent_id=position_id)
        self._write_trade_response(autopsy, bead.seq)

    def _write_trade_response(self, autopsy: dict[str, Any], bead: int) -> None:
        now = self.clock.now()
        outcome = Outcome(Status.OK, "autopsy", {"a": autopsy, "sources": [f"bead {bead}"]})
        body = render_body(outcome, {"generated_at": now.isoformat(timespec="seconds")})
        name = f"trade-{autopsy['position']}"
        text = render_response(
            intent_id=name, kind="trade", status=Status.OK, intent_sha256=digest(autopsy), bead=bead, at=now, body=body
        )
        write_response(self.paths.responses, f"{name}.md", text)


def _autopsy(record: PositionRecord, fill: Fill) -> dict[str, Any]:
    """The facts of a closed trade: entry, exit, pips, R, duration, slippage against the signal's entry."""
    pair, side, facts = record.pair, record.side, record.facts
    entry = float(facts.get("entry_fill", facts.get("entry", fill.price)))
    signal_entry = float(facts.get("entry", entry))
    stop = facts.get("stop")
    signed = 1 if side == "BUY" else -1
    pips = fx.pips(pair, (fill.price - entry) * signed)
    stop_pips = abs(fx.pips(pair, entry - float(stop))) if stop is not None else None
    opened = datetime.fromisoformat(facts["entry_time"]) if "entry_time" in facts else fill.time
    return {
        "position": record.id,
        "pair": pair,
        "side": side,
        "units": record.units,
        "entry": entry,
        "exit": fill.price,
        "pips": pips,
        "r_multiple": round(pips / stop_pips, 2) if stop_pips else None,
        "duration_seconds": int((fill.time - opened).total_seconds()),
        "slippage_pips": fx.pips(pair, (entry - signal_entry) * signed),
        "exit_order": fill.order_id,
        "commission": fill.commission,
    }
