"""Approval codes: six random digits for human channels only; single-use, bound to the terms, expiring, locking."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime

from seam.approval import proposals
from seam.approval.proposals import Proposal
from seam.broker.lifecycle import Lifecycle, PositionState
from seam.errors import GuardViolation
from seam.store import ProposalStatus, Store

__all__ = ["CodeChannel", "approve", "issue", "matches", "spend", "verify"]

logger = logging.getLogger(__name__)
S = PositionState

# A human channel: (proposal, code, expires_at) -> None. The only callables that ever see the digits.
CodeChannel = Callable[[Proposal, str, datetime], None]


def issue(store: Store, proposal: Proposal, expires: datetime, channels: list[CodeChannel]) -> None:
    # INV: the code goes only to human channels; nothing here returns it to the caller
    code = f"{secrets.randbelow(1_000_000):06d}"
    store.codes.issue(proposal.id, code, proposal.bound_hash, expires)
    for channel in channels:
        try:
            channel(proposal, code, expires)
        except Exception:  # a broken channel must not stop the proposal; the console still has it
            logger.warning("an approval-code channel failed for %s", proposal.id)


def approve(
    store: Store, lifecycle: Lifecycle, proposal: Proposal, code: str, *, now: datetime, max_tries: int
) -> None:
    """Verify the presented code, then spend it and approve the proposal; a refusal raises GuardViolation."""
    # INV: no order without a human code: the order path goes on only once this returns
    verify(store, lifecycle, proposal, code, now=now, max_tries=max_tries)
    with store.transaction() as tx:
        store.codes.spend(tx, proposal.id)
        store.proposals.set_status(tx, proposal.id, ProposalStatus.APPROVED, decided_at=now)
        store.append("APPROVAL", {"proposal": proposal.id, "event": "approved"}, intent_id=proposal.id, conn=tx)
    if proposal.kind == "open":
        lifecycle.transition(proposal.position_id, S.APPROVED, reason="human approval")


def verify(store: Store, lifecycle: Lifecycle, proposal: Proposal, code: str, *, now: datetime, max_tries: int) -> None:
    """Raise GuardViolation unless `code` is the proposal's issued, unspent, unexpired code for these terms.
    An expired code closes the proposal; a wrong one counts a try."""
    issued = store.codes.get(proposal.id)
    if issued is None:
        raise GuardViolation("code", f"no code was issued for proposal {proposal.id}")
    if issued.used:
        raise GuardViolation("code", "that code was already used; codes are single-use")
    if now > issued.expires_at:
        proposals.close(store, lifecycle, proposal, ProposalStatus.EXPIRED, S.EXPIRED, "the approval code expired", now)
        raise GuardViolation(
            "code_expired",
            f"the approval code expired at {issued.expires_at.isoformat()}; send "
            "the signal again for a new proposal and code",
        )
    if issued.bound_hash != proposal.bound_hash:
        raise GuardViolation("code", "the proposal changed after its code was issued; the code is void")
    if not secrets.compare_digest(issued.code, code):
        raise _wrong_try(store, lifecycle, proposal, max_tries)


def _wrong_try(store: Store, lifecycle: Lifecycle, proposal: Proposal, max_tries: int) -> GuardViolation:
    """Count a wrong code with its bead; the last allowed try locks the proposal and cancels its position."""
    tries = proposal.tries + 1
    locked = tries >= max_tries
    with store.transaction() as tx:
        store.proposals.set_tries(tx, proposal.id, tries, ProposalStatus.LOCKED if locked else ProposalStatus.PENDING)
        store.append(
            "APPROVAL",
            {"proposal": proposal.id, "event": "wrong_code", "tries": tries, "locked": locked},
            intent_id=proposal.id,
            conn=tx,
        )
    if locked:
        if proposal.kind == "open":
            lifecycle.transition(proposal.position_id, S.CANCELLED, reason="locked after wrong codes")
        return GuardViolation(
            "locked",
            f"wrong code; proposal {proposal.id} is now locked after {tries} wrong "
            "tries — send the signal again for a new proposal",
        )
    left = max_tries - tries
    return GuardViolation("code", f"wrong code; {left} {'try' if left == 1 else 'tries'} left")


def matches(store: Store, proposal_id: str, code: str) -> bool:
    """Whether `code` is the proposal's unspent code; a rejection needs no more (a late "no" is still a no)."""
    issued = store.codes.get(proposal_id)
    return issued is not None and not issued.used and secrets.compare_digest(issued.code, code)


def spend(store: Store, proposal_id: str) -> None:
    with store.transaction() as tx:
        store.codes.spend(tx, proposal_id)
