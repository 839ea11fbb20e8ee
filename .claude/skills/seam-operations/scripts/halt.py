"""Emergency halt: the halt flag on, working orders cancelled, every capital action blocked."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from _shared import EXIT_CODES, open_seam, parser, submit_and_print

EPILOG = f"""\
Writes a `halt` intent into intents/priority/ (the halts' own folder and lane, ahead of any backlog)
and prints the answer. While the flag is on, seam sends no order and approves nothing. Only a person at a
terminal lifts it, with `seam resume`; no intent, script or agent can.

The reason is recorded in the HALT bead: say who asked and why, in plain words.

examples:
  python scripts/halt.py --seam ~/desk --reason "Trader asked for a halt: news spike on EURUSD"
  python scripts/halt.py --seam ~/desk --reason "Drill" --keep-orders

{EXIT_CODES}
"""


def main(argv: list[str] | None = None) -> int:
    p = parser("Halt the seam: the halt flag on, working orders cancelled, capital actions blocked.", EPILOG)
    p.add_argument("--reason", required=True, help="why (1-500 characters), recorded in the HALT bead")
    p.add_argument("--keep-orders", action="store_true", help="leave working orders at the broker (default: cancel)")
    p.add_argument("--id", dest="intent_id", metavar="ID", help="the intent id (default: halt-<time>-<hex>)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the answer (default 10)")
    args = p.parse_args(argv)
    paths, config = open_seam(args)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    intent = {
        "seam": 1,
        "id": args.intent_id or f"halt-{stamp}-{os.urandom(2).hex()}",
        "kind": "halt",
        "payload": {"reason": args.reason, "cancel_orders": not args.keep_orders},
    }
    return submit_and_print(paths, config, intent, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
