"""Ask a research question of a seam (query, hunt, memory, narrate) and print the facts it answers."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from _shared import EXIT_CODES, EXIT_NOT_OK, fail, open_seam, parser, read_intent, submit_and_print

if TYPE_CHECKING:
    from seam.config import LoadedConfig

RESEARCH = ("query", "hunt", "memory", "narrate")

EPILOG = f"""\
Either an intent file, or --kind with --payload (JSON) and the intent is written for you under a
fresh id. Only the research kinds are sent ({", ".join(RESEARCH)}): nothing here touches the broker.
Answers are facts with their provenance (the lens, the dataset's sha256, the bead ids); they never
rank, select or recommend.

query and hunt read a dataset in the seam's data folder (`seam data list` shows them; `seam data
generate` makes synthetic ones). A hunt over a large grid can take longer than the default --timeout:
give it more (the daemon's own limit for a hunt is handlers.timeouts.hunt, 600 s by default). A
timeout leaves the intent with the daemon; its answer appears in responses/<id>.md.

examples:
  python scripts/research.py --seam ~/desk --kind memory --payload '{{"question": "approvals", "window": "7d"}}'
  python scripts/research.py --seam ~/desk --kind narrate --payload '{{"template": "briefing"}}'
  python scripts/research.py --seam ~/desk query.yaml
  python scripts/research.py --seam ~/desk --timeout 600 hunt.yaml

{EXIT_CODES}
"""


def main(argv: list[str] | None = None) -> int:
    p = parser("Send a research intent (query, hunt, memory, narrate) and print its answer.", EPILOG)
    p.add_argument("file", nargs="?", metavar="FILE", help="an intent file (YAML or JSON), or - for standard input")
    p.add_argument("--kind", choices=RESEARCH, help="build the intent: its kind")
    p.add_argument("--payload", metavar="JSON", help="build the intent: its payload, as a JSON object")
    p.add_argument("--id", dest="intent_id", metavar="ID", help="build the intent: its id (default: kind-time-hex)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the answer (default 60)")
    args = p.parse_args(argv)
    if (args.file is None) == (args.kind is None) or (args.file and (args.payload or args.intent_id)):
        p.error("give an intent FILE, or --kind with --payload (and --id), not both")
    paths, config = open_seam(args)
    if args.file is None:
        return submit_and_print(paths, config, _build(args.kind, args.payload, args.intent_id), timeout=args.timeout)
    data = read_intent(args.file, config.settings.intake.max_bytes)
    _only_research(data, config)
    return submit_and_print(paths, config, data, timeout=args.timeout)


def _build(kind: str, payload_json: str | None, intent_id: str | None) -> dict[str, object]:
    try:
        payload = json.loads(payload_json or "{}")
    except json.JSONDecodeError as exc:
        fail(f"--payload is not JSON: {exc}")
    if not isinstance(payload, dict):
        fail('--payload must be a JSON object, e.g. \'{"question": "approvals"}\'')
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return {"seam": 1, "id": intent_id or f"{kind}-{stamp}-{os.urandom(2).hex()}", "kind": kind, "payload": payload}


def _only_research(data: bytes, config: LoadedConfig) -> None:
    """Refuse a file of any other kind before it is written (an invalid one is left to the daemon's checks)."""
    from seam import client
    from seam.errors import IntentError

    try:
        kind = str(client.check_intent(data, config).kind)
    except IntentError:
        return  # submit_and_print names every problem
    if kind not in RESEARCH:
        fail(f"this is a `{kind}` intent; this script sends only {', '.join(RESEARCH)}", EXIT_NOT_OK)


if __name__ == "__main__":
    sys.exit(main())
