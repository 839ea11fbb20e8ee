"""Stale gate: a proposal too old, or made against a state that has since changed, sends no order."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from seam.approval import proposals
from seam.approval.proposals import Proposal
from seam.broker.lifecycle import Lifecycle, PositionState
from seam.store import ProposalStatus, Store

__all__ = ["changes", "refuse"]


def changes(proposal: Proposal, now: datetime, current: dict[str, Any], stale_minutes: float) -> list[str]:
    """What makes the proposal stale, in words a human checks against the evidence; empty when it is fresh."""
    age = now - proposal.created_at
    found = []
    if age > timedelta(minutes=stale_minutes):
        found.append(f"the proposal is {int(age.total_seconds() // 60)} min old (limit {stale_minutes:g} min)")
    for key, before in proposal.anchor.items():
        after = current.get(key)
        if after != before:
            found.append(f"{key.replace('_', ' ')}: {_show(before)} → {_show(after)}")
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


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return (
            ", ".join(" ".join(str(x) for x in item) if isinstance(item, list) else str(item) for item in value)
            or "none"
        )
    return str(value)
