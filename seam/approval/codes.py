"""Approval codes: six random digits for human channels only; stored as a keyed digest, spent when presented.

issue    a code per proposal, the digits to the human channels, the digest (keys.py) to the store
take     a presented code is spent at once, whatever happens next (compare and set: one taker wins);
         a wrong one counts against the proposal (locked after approval.max_tries) and against the
         seam (approval.wrong_codes_per_hour, then every approval is locked and a CRITICAL alert fires)
approve  after the order path's earlier guards: PENDING → APPROVED, once, with the intent to submit
reissue  a fresh code for a person at the console; the earlier one is void
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from seam.approval import proposals
from seam.approval.keys import CodeKey
from seam.approval.proposals import Proposal
from seam.broker.lifecycle import Lifecycle, PositionState
from seam.errors import GuardViolation
from seam.monitor.alerts import Alert, AlertSink
from seam.store import ProposalStatus, Store
from seam.store.flags import ApprovalsLock

__all__ = ["CodeChannel", "Limits", "approve", "issue", "reissue", "spend_if_live", "take", "unlock"]

logger = logging.getLogger(__name__)
S = PositionState
GUESS_WINDOW = timedelta(hours=1)

# A human channel: (proposal, code, expires_at) -> None. The only callables that ever see the digits.
CodeChannel = Callable[[Proposal, str, datetime], None]


@dataclass(frozen=True)
class Limits:
    max_tries: int  # wrong codes a proposal takes before it locks
    wrong_per_hour: int  # wrong codes the whole seam takes in an hour before every approval locks


def _new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def issue(store: Store, key: CodeKey, proposal: Proposal, expires: datetime, channels: list[CodeChannel]) -> None:
    # INV: the code goes only to human channels; the store keeps its keyed digest, and nothing returns it
    code = _new_code()
    store.codes.issue(proposal.id, key.digest(proposal.id, code, proposal.bound_hash), proposal.bound_hash, expires)
    for channel in channels:
        try:
            channel(proposal, code, expires)
        except Exception:  # a broken channel must not stop the proposal; the console can issue a new code
            logger.warning("an approval-code channel failed for %s", proposal.id)


def reissue(store: Store, key: CodeKey, proposal: Proposal, expires: datetime) -> str:
    """A fresh code for the person at the console that asked (`seam approvals --new-code`, `seam approve`)."""
    if proposal.status is not ProposalStatus.PENDING:
        raise GuardViolation("code", f"proposal {proposal.id} is {proposal.status}; it takes no code")
    code = _new_code()
    store.codes.issue(proposal.id, key.digest(proposal.id, code, proposal.bound_hash), proposal.bound_hash, expires)
    store.append("APPROVAL", {"proposal": proposal.id, "event": "code_reissued"}, intent_id=proposal.id)
    return code


def take(
    store: Store,
    key: CodeKey,
    lifecycle: Lifecycle,
    alerts: AlertSink,
    proposal: Proposal,
    code: str,
    *,
    now: datetime,
    limits: Limits,
    intent_id: str | None = None,
) -> None:
    """Spend `code` if it is the proposal's live code; otherwise raise GuardViolation saying why.
    `intent_id` is the intent presenting it: the spent code remembers it.

    INV: a code written into an intent is spent here, before anything else can fail: a later refusal (a
    halt, a down link, a conflict) leaves nothing an agent could present again.
    """
    locked = store.flags.approvals_lock()
    if locked is not None:
        raise GuardViolation(
            "approvals_locked",
            f"approvals are locked: {locked.reason}; a person unlocks them "
            "at a terminal with `seam approvals --unlock`",
        )
    issued = store.codes.get(proposal.id)
    if issued is None:
        raise GuardViolation("code", f"no code was issued for proposal {proposal.id}")
    if issued.used and intent_id is not None and issued.spent_by == intent_id:
        # this very intent spent it, and the daemon stopped before the approval was recorded
        raise GuardViolation(
            "code",
            f"this approve spent its code, then the daemon stopped before proposal {proposal.id} was approved: "
            "nothing was sent. Codes are single-use: a new code (`seam approvals --new-code "
            f"{proposal.id}` at the console) and an approve intent with a new id approve it",
        )
    if issued.used:
        raise GuardViolation(
            "code",
            "that code was already used; codes are single-use (a new one: `seam approvals --new-code` at the console)",
        )
    if now > issued.expires_at:
        proposals.close(store, lifecycle, proposal, ProposalStatus.EXPIRED, S.EXPIRED, "the approval code expired", now)
        raise GuardViolation(
            "code_expired",
            f"the approval code expired at {issued.expires_at.isoformat()}; send "
            "the signal again under a new id for a new proposal and code",
        )
    if issued.bound_hash != proposal.bound_hash:
        raise GuardViolation("code", "the proposal changed after its code was issued; the code is void")
    with store.transaction() as tx:
        if store.codes.take(tx, proposal.id, key.digest(proposal.id, code, issued.bound_hash), intent_id):
            store.append(
                "APPROVAL",
                {"proposal": proposal.id, "event": "code_spent", "by_intent": intent_id},
                intent_id=proposal.id,
                conn=tx,
            )
            return
    after = store.codes.get(proposal.id)
    if after is not None and after.used and key.matches(after.digest, proposal.id, code, issued.bound_hash):
        raise GuardViolation("code", "that code was already used; codes are single-use")  # a concurrent taker won
    raise _wrong_try(store, lifecycle, alerts, proposal, now, limits)


def _wrong_try(
    store: Store, lifecycle: Lifecycle, alerts: AlertSink, proposal: Proposal, now: datetime, limits: Limits
) -> GuardViolation:
    """Count a wrong code with its bead; the proposal's last allowed try locks it, the seam's locks every approval."""
    tries = proposal.tries + 1
    locked = tries >= limits.max_tries
    with store.transaction() as tx:
        store.proposals.set_tries(tx, proposal.id, tries, ProposalStatus.LOCKED if locked else ProposalStatus.PENDING)
        store.append(
            "APPROVAL",
            {"proposal": proposal.id, "event": "wrong_code", "tries": tries, "locked": locked},
            intent_id=proposal.id,
            conn=tx,
        )
        guesses = store.codes.wrong_since(now - GUESS_WINDOW, tx)
        lock_all = guesses >= limits.wrong_per_hour and store.flags.approvals_lock(tx) is None
        if lock_all:
            reason = f"{guesses} wrong codes within an hour (approval.wrong_codes_per_hour: {limits.wrong_per_hour})"
            bead = store.append("APPROVAL", {"event": "approvals_locked", "reason": reason}, conn=tx)
            store.flags.write_approvals_lock(
                tx, ApprovalsLock(reason, now.isoformat(timespec="seconds"), bead.seq), bead.seq
            )
    if lock_all:
        alerts.raise_alert(Alert("APPROVALS_LOCKED", reason, {"wrong codes": guesses, "window": "1 h"}))
    if locked and proposal.kind == "open":
        lifecycle.transition(proposal.position_id, S.CANCELLED, reason="locked after wrong codes")
    if locked:
        return GuardViolation(
            "locked",
            f"wrong code; proposal {proposal.id} is now locked after {tries} wrong "
            "tries — send the signal again under a new id for a new proposal",
        )
    left = limits.max_tries - tries
    return GuardViolation("code", f"wrong code; {left} {'try' if left == 1 else 'tries'} left")


def spend_if_live(store: Store, key: CodeKey, proposal: Proposal, code: str, *, via: str) -> bool:
    """Spend `code` if it is the proposal's live code (an intent presented it and was not carried out)."""
    issued = store.codes.get(proposal.id)
    if issued is None or issued.used:
        return False
    with store.transaction() as tx:
        if not store.codes.take(tx, proposal.id, key.digest(proposal.id, code, issued.bound_hash)):
            return False
        store.append(
            "APPROVAL", {"proposal": proposal.id, "event": "code_spent", "via": via}, intent_id=proposal.id, conn=tx
        )
    return True


def approve(
    store: Store,
    lifecycle: Lifecycle,
    proposal: Proposal,
    now: datetime,
    *,
    ref: str,
    intent_id: str | None,
    owner: str,
) -> None:
    """PENDING → APPROVED (once: a proposal decided meanwhile stays as it was and nothing is sent), and in
    the same transaction the intent to submit the order `ref`: a daemon killed before it can say what the
    broker did leaves that record, and the next start asks the broker (ApprovalService.resolve_in_doubt)."""
    with store.transaction() as tx:
        if not store.proposals.decide(tx, proposal.id, ProposalStatus.APPROVED, now):
            raise GuardViolation("approval", f"proposal {proposal.id} was decided meanwhile; nothing was sent")
        store.submissions.intend(tx, ref, proposal.id, proposal.kind, intent_id, owner)
        store.append(
            "APPROVAL",
            {"proposal": proposal.id, "event": "approved", "ref": ref, "by_intent": intent_id},
            intent_id=proposal.id,
            conn=tx,
        )
    if proposal.kind == "open":
        lifecycle.transition(proposal.position_id, S.APPROVED, reason="human approval")


def unlock(store: Store, *, by: str, note: str) -> bool:
    """A person lifts the approvals lock; returns whether it was on."""
    with store.transaction() as tx:
        if store.flags.approvals_lock(tx) is None:
            return False
        bead = store.append("APPROVAL", {"event": "approvals_unlocked", "by": by, "note": note}, conn=tx)
        store.flags.write_approvals_lock(tx, None, bead.seq)
    return True
