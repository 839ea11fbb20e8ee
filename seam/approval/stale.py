"""Stale gate: a proposal too old, or made against a state that has since changed, sends no order."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from seam import fx
from seam.approval import proposals
from seam.approval.proposals import Proposal
from seam.broker.lifecycle import Lifecycle, PositionState
from seam.store import ProposalStatus, Store

__all__ = ["changes", "refuse"]


# what moves an open proposal's world enough to refuse it: under these it is noise, and a fixed band would refuse a
# one-pip move that crosses its edge
QUOTE_TOLERANCE_PIPS = 10.0
EQUITY_TOLERANCE = 1000.0
# a close is held to its pair's book and the halt flag only: the person wants out at the market
_CLOSE_KEYS = frozenset({"positions", "orders", "halt"})
# where the pair sits in an anchor's rows: positions [pair, qty], orders [ref, pair, side, qty]
_PAIR_COLUMN = {"positions": 0, "orders": 1}

Check = Callable[[Any, Any], list[str]]


def changes(proposal: Proposal, now: datetime, current: dict[str, Any], stale_minutes: float) -> list[str]:
    """What makes the proposal stale, in words a human checks against the evidence; empty when it is fresh.

    Only the keys both the stored anchor and `current` hold are compared, so an anchor stored by an older seam
    (equity_bucket, quote_bucket) still compares: those buckets are derived from the current state here. A close,
    old or new, is compared on its pair's positions and working orders and the halt flag only."""
    age = now - proposal.created_at
    found = []
    if age > timedelta(minutes=stale_minutes):
        found.append(f"the proposal is {int(age.total_seconds() // 60)} min old (limit {stale_minutes:g} min)")
    before, after = proposal.anchor, {**_legacy(proposal.pair, current), **current}
    for key in before:
        if key not in after or (proposal.kind == "close" and key not in _CLOSE_KEYS):
            continue
        old, new = before[key], after[key]
        if proposal.kind == "close" and key in _PAIR_COLUMN:  # an older close anchor held the whole book
            old, new = _on_pair(proposal.pair, key, old), _on_pair(proposal.pair, key, new)
        found.extend(_CHECKS.get(key, _generic(key))(old, new))
    return found


def refuse(store: Store, lifecycle: Lifecycle, proposal: Proposal, found: list[str], via: str, now: datetime) -> bool:
    """Close a stale proposal as a conflict, with the bead that says what changed; False when it was decided
    meanwhile (it is then left as it is)."""
    closed = proposals.close(
        store,
        lifecycle,
        proposal,
        ProposalStatus.CONFLICT,
        PositionState.EXPIRED,
        "STATE_CONFLICT: " + "; ".join(found),
        now,
    )
    if closed:
        store.append(
            "APPROVAL",
            {"proposal": proposal.id, "event": "state_conflict", "changes": found, "via": via},
            intent_id=proposal.id,
        )
    return closed


def _positions(before: list[list[Any]], after: list[list[Any]]) -> list[str]:
    was, now = {p: int(q) for p, q in before}, {p: int(q) for p, q in after}
    found = []
    for pair in sorted(was.keys() | now.keys()):
        old, new = was.get(pair, 0), now.get(pair, 0)
        if old == new:
            continue
        if not old:
            found.append(f"a new {pair} position of {_units(new)} is open")
        elif not new:
            found.append(f"the {pair} position of {_units(old)} was closed")
        else:
            found.append(f"the {pair} position changed from {_units(old)} to {_units(new)}")
    return found


def _orders(before: list[list[Any]], after: list[list[Any]]) -> list[str]:
    was, now = {tuple(o) for o in before}, {tuple(o) for o in after}
    added = [f"a working order was added: {_order(o)}" for o in sorted(now - was, key=str)]
    return added + [f"a working order was removed: {_order(o)}" for o in sorted(was - now, key=str)]


def _equity(before: float, after: float) -> list[str]:
    if abs(after - before) < EQUITY_TOLERANCE:
        return []
    return [f"equity changed from {before:,.0f} to {after:,.0f}"]


def _halt(before: bool, after: bool) -> list[str]:
    # turning it off is a human's `seam resume`, no reason to refuse; the order path checks the flag itself, first
    return ["the halt flag was turned on"] if after and not before else []


def _quote(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    pair, pip = str(before["pair"]), fx.pip_size(str(before["pair"]))
    pips = round(abs(float(after["mid"]) - float(before["mid"])) / pip, 1)
    if pips < QUOTE_TOLERANCE_PIPS:
        return []
    digits = max(0, -math.floor(math.log10(pip)))
    return [
        f"the {pair} price moved {pips:g} pips since the proposal "
        f"(from {float(before['mid']):.{digits}f} to {float(after['mid']):.{digits}f})"
    ]


def _generic(key: str) -> Check:
    def check(before: Any, after: Any) -> list[str]:
        return [] if after == before else [f"{key.replace('_', ' ')}: {_show(before)} → {_show(after)}"]

    return check


_CHECKS: dict[str, Check] = {
    "positions": _positions,
    "orders": _orders,
    "equity": _equity,
    "halt": _halt,
    "quote": _quote,
}


def _legacy(pair: str, current: dict[str, Any]) -> dict[str, Any]:
    """The keys an older seam stored (10-pip quote bucket, 1,000 equity bucket), from the current state."""
    derived: dict[str, Any] = {}
    if "quote" in current:
        derived["quote_bucket"] = round(float(current["quote"]["mid"]) / (fx.pip_size(pair) * 10))
    if "equity" in current:
        derived["equity_bucket"] = int(float(current["equity"]) // 1000) * 1000
    return derived


def _on_pair(pair: str, key: str, rows: list[list[Any]]) -> list[list[Any]]:
    return [row for row in rows if row[_PAIR_COLUMN[key]] == pair]


def _units(quantity: int) -> str:
    return f"{quantity:,}" if quantity > 0 else f"{-quantity:,} short"


def _order(row: tuple[Any, ...]) -> str:
    ref, pair, side, quantity = row
    return f"{side} {int(quantity):,} {pair} (ref {ref})"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return (
            ", ".join(" ".join(str(x) for x in item) if isinstance(item, list) else str(item) for item in value)
            or "none"
        )
    return str(value)
