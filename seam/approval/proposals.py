"""Proposals: the terms a human approves, kept through `store.proposals`; a code binds to their hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seam.broker.lifecycle import Lifecycle, PositionState
from seam.broker.types import Side
from seam.errors import IntentError
from seam.store import ProposalRow, ProposalStatus, Store, canonical_json

__all__ = ["Proposal", "close", "digest", "get", "insert", "pending", "position_for_ref"]

S = PositionState


@dataclass(frozen=True)
class Proposal:
    id: str
    kind: str  # open | close
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

    # the stored row has the same fields; only the side is typed here
    @classmethod
    def from_row(cls, row: ProposalRow) -> Proposal:
        return cls(**{**vars(row), "side": Side(row.side)})

    def to_row(self) -> ProposalRow:
        return ProposalRow(**{**vars(self), "side": str(self.side)})

    @property
    def bound_hash(self) -> str:
        """What a code is bound to: the proposal's terms. A changed row invalidates its code."""
        material = canonical_json(
            [
                self.id,
                self.kind,
                self.position_id,
                self.pair,
                str(self.side),
                self.units,
                self.entry,
                self.stop,
                self.target,
                self.anchor_hash,
                self.intent_sha256,
            ]
        )
        return hashlib.sha256(material.encode()).hexdigest()


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def insert(store: Store, proposal: Proposal) -> Proposal:
    """Store a new proposal and its PROPOSAL bead together; returns it as stored."""
    with store.transaction() as tx:
        if store.proposals.exists(proposal.id, tx):
            raise IntentError.single("id", f"a proposal {proposal.id} already exists; use a new id for a new proposal")
        store.proposals.insert(tx, proposal.to_row())
        store.append(
            "PROPOSAL",
            {
                "proposal": proposal.id,
                "kind": proposal.kind,
                "pair": proposal.pair,
                "side": str(proposal.side),
                "units": proposal.units,
                "anchor": proposal.anchor_hash[:16],
            },
            intent_id=proposal.id,
            conn=tx,
        )
    return get(store, proposal.id)


def get(store: Store, proposal_id: str) -> Proposal:
    row = store.proposals.get(proposal_id)
    if row is None:
        raise IntentError.single(
            "payload.proposal",
            f"there is no proposal {proposal_id!r}; the proposal id is in the pending_approval response",
        )
    return Proposal.from_row(row)


def pending(store: Store) -> list[Proposal]:
    return [Proposal.from_row(row) for row in store.proposals.pending()]


def position_for_ref(store: Store, ref: str) -> str | None:
    """The position an order reference belongs to (the reference is the proposal id), if seam proposed it."""
    row = store.proposals.get(ref)
    return row.position_id if row else None


def close(
    store: Store,
    lifecycle: Lifecycle,
    proposal: Proposal,
    status: ProposalStatus,
    state: PositionState,
    reason: str,
    now: datetime,
) -> bool:
    """Decide a pending proposal with no order; an open's position ends in `state` unless it has moved on.
    A proposal decided meanwhile (approved by another decision) is left as it is: returns whether it changed."""
    with store.transaction() as tx:
        if not store.proposals.decide(tx, proposal.id, status, now):
            return False
    if proposal.kind == "open":
        record = lifecycle.get(proposal.position_id)
        if record.state in (S.PROPOSED, S.APPROVED):
            lifecycle.transition(proposal.position_id, state, reason=reason)
    return True
