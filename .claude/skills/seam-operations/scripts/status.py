"""Ask the running daemon for the seam's status (a `status` intent) and print its answer."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from _shared import EXIT_CODES, open_seam, parser, submit_and_print

EPILOG = f"""\
Sends a `status` intent under a fresh id, so the answer is new (never a replay), and prints it: mode,
broker link, heartbeat, halt flag, queue depth, daemons running, intents answered, positions, open
orders, beads. An answer also proves a daemon is taking intents. No answer within --timeout (exit 3)
says whether any daemon is running; `seam status` reads the same facts without a daemon.

The heartbeat row shows the state of the newest beat (HEALTHY, DEGRADED or CRITICAL; MISSED when the
beats stopped, STOPPED when the daemon stopped on purpose) and its bead; `seam health` prints each
check of that beat.

examples:
  python scripts/status.py --seam ~/desk
  python scripts/status.py --seam ~/desk --timeout 5

{EXIT_CODES}
"""


def main(argv: list[str] | None = None) -> int:
    p = parser("Ask the daemon for the seam's status and print it.", EPILOG)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the answer (default 10)")
    p.add_argument("--session-id", metavar="TEXT", help="recorded with the intent in the audit beads")
    args = p.parse_args(argv)
    paths, config = open_seam(args)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    intent: dict[str, object] = {"seam": 1, "id": f"status-{stamp}-{os.urandom(2).hex()}", "kind": "status"}
    if args.session_id:
        intent["session_id"] = args.session_id
    intent["payload"] = {}
    return submit_and_print(paths, config, intent, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
