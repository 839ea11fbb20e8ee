"""List the proposals waiting for a human, with their evidence. Never a code: seam does not give one here."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from _shared import EXIT_NOT_OK, EXIT_OK, open_seam, parser

EPILOG = """\
What a person decides on: pair, side, units, entry/stop/target, reward:risk, the risk in money and in
percent, bid/ask/spread, the FX session, open exposure, guard status, and when the proposal's code
expires. Read from the seam's store through seam.client.pending_proposals, which holds no approval
codes: codes go only to human channels (the `seam watch` terminal, `seam approvals --new-code`,
Telegram), never to this script.

examples:
  python scripts/pending.py --seam ~/desk
  python scripts/pending.py --seam ~/desk eurusd-2026-11-18-001
  python scripts/pending.py --seam ~/desk --json

exit codes: 0 listed (also when none are waiting); 1 a named proposal is not waiting; 2 usage error,
not a seam, or invalid configuration
"""

# (label, the evidence keys it needs, how it reads); a fact whose keys are missing is left out
_FACTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("entry · stop · target", ("entry", "stop", "target"), "{entry} · {stop} · {target}"),
    ("stop / target distance", ("stop_pips", "target_pips"), "{stop_pips} pips / {target_pips} pips"),
    ("reward : risk", ("reward_risk",), "{reward_risk}"),
    (
        "risk",
        ("risk_usd", "real_risk_percent", "risk_percent"),
        "{risk_usd} USD = {real_risk_percent}% of equity ({risk_percent}% asked)",
    ),
    ("bid / ask / spread", ("bid", "ask", "spread_pips"), "{bid} / {ask} / {spread_pips} pips"),
    ("open pips", ("open_pips",), "{open_pips} pips at the current quote"),
    ("session", ("session",), "{session}"),
    ("open exposure", ("open_positions", "open_risk_usd"), "{open_positions} position(s), {open_risk_usd} USD at risk"),
    ("thesis", ("thesis",), "{thesis}"),
    ("reason", ("reason",), "{reason}"),
)


def main(argv: list[str] | None = None) -> int:
    p = parser("List proposals waiting for a human, with their evidence (never a code).", EPILOG)
    p.add_argument("proposals", nargs="*", metavar="PROPOSAL", help="only these proposal ids")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args(argv)
    paths, config = open_seam(args)
    from seam import client
    from seam.clock import clock_from_env

    pending = client.pending_proposals(paths, config)
    if args.proposals:
        pending = [proposal for proposal in pending if proposal.id in args.proposals]
    missing = sorted(set(args.proposals) - {proposal.id for proposal in pending})
    now = clock_from_env().now()
    if args.json:
        print(json.dumps([_as_json(proposal, now) for proposal in pending], indent=2, default=str))
    elif not pending:
        print("No proposals are waiting for a human." if not args.proposals else "None of them is waiting.")
    for proposal in [] if args.json else pending:
        print(_as_text(proposal, now))
    for name in missing:
        print(f"{name}: not waiting for a human (decided, expired, or not a proposal)", file=sys.stderr)
    return EXIT_NOT_OK if missing else EXIT_OK


def _code_state(expires_at: str | None, now: datetime) -> str:
    if not expires_at:
        return "no code was issued"
    try:
        expired = datetime.fromisoformat(expires_at) <= now
    except ValueError:
        return expires_at
    if expired:
        return f"{expires_at}, expired (a person at the console issues a new one: seam approvals --new-code)"
    return expires_at


def _as_json(proposal: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": proposal.id,
        "kind": proposal.kind,
        "position_id": proposal.position_id,
        "pair": proposal.pair,
        "side": proposal.side,
        "units": proposal.units,
        "entry": proposal.entry,
        "stop": proposal.stop,
        "target": proposal.target,
        "reward_risk": proposal.reward_risk,
        "created_at": proposal.created_at.isoformat(),
        "code_expires": _code_state(proposal.expires_at, now),
        "evidence": dict(proposal.evidence),
    }


def _as_text(proposal: Any, now: datetime) -> str:
    evidence = proposal.evidence
    lines = [f"## {proposal.id}: {proposal.kind} {proposal.side} {proposal.units:,} {proposal.pair}"]
    for label, keys, form in _FACTS:
        if all(evidence.get(key) not in (None, "") for key in keys):
            lines.append(f"- {label}: {form.format_map(evidence)}")
    guards = evidence.get("guards")
    if isinstance(guards, dict) and guards:
        lines.append("- guards: " + " · ".join(f"{name} {state}" for name, state in guards.items()))
    lines.append(f"- proposed at: {proposal.created_at.isoformat(timespec='seconds')}")
    lines.append(f"- code expires: {_code_state(proposal.expires_at, now)}")
    lines.append(f"- full evidence: responses/{proposal.id}.md")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
