"""Approval: human sovereignty. A READY signal or a close becomes a proposal; only a human's code moves capital.

    propose  → evidence bundle, state anchor, lifecycle PROPOSED, a 6-digit code to human channels only
    decide   → stale gate (age, anchor) → the broker's order path (halt → mode/account/port → THIS code
               check → pacing → submit) → lifecycle APPROVED → SUBMITTED
    fills    → FILLED → MANAGED; the stop, the target or an approved close → CLOSED and an AUTOPSY

    service     ApprovalService: propose_open / propose_close / decide / check_order (the order path's hook)
    ├── proposals   the Proposal and its stored row (store.proposals)
    ├── evidence    the evidence bundles and the state anchor
    ├── codes       issue to human channels, verify, spend; CodeChannel
    ├── stale       the stale gate: age and anchor changes → the changes, no order
    └── follow      the broker's fills → the lifecycle, the AUTOPSY bead and responses/trade-<id>.md
    channels        the console channel (the `seam watch` terminal)

Codes are spent when presented, bound to the proposal's hash, expire (approval.code_ttl_seconds), and
lock the proposal after approval.max_tries wrong tries (and every approval after
approval.wrong_codes_per_hour). The digits go to the `seam watch` terminal when issued, or to
`seam approvals --new-code` at a terminal; the store keeps only a keyed digest (keys.py). They never
reach responses/, beads, logs or MCP output. docs/SECURITY.md states what this does and does not stop.
"""

from seam.approval.channels import console_channel
from seam.approval.codes import CodeChannel
from seam.approval.proposals import Proposal
from seam.approval.service import ApprovalService, Decided
from seam.store import ProposalStatus

__all__ = ["ApprovalService", "CodeChannel", "Decided", "Proposal", "ProposalStatus", "console_channel"]
