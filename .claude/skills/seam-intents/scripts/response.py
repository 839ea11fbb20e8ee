"""Print the response to an intent id: responses/<id>.md, optionally waiting for it to appear."""

from __future__ import annotations

import sys
import time

from _shared import EXIT_CODES, EXIT_TIMEOUT, fail, open_seam, parser, print_response

EPILOG = f"""\
For an intent written by hand (a file dropped into intents/incoming/), or submitted with --no-wait.
The response is printed as it stands: YAML front matter (id, kind, status, intent_sha256, bead, at),
then the markdown body. A conflict (the same id with a different payload) is answered in
responses/<id>.<first 8 hex of its intent_sha256>.md instead: pass --sha256 to get that one.
A response with replay_of in its front matter repeats an earlier answer: for a fresh one, use a new id.

examples:
  python scripts/response.py --seam ~/desk status-001
  python scripts/response.py --seam ~/desk --wait 30 eurusd-2026-11-18-001

{EXIT_CODES}; 3 also when there is no response (yet)
"""


def main(argv: list[str] | None = None) -> int:
    p = parser("Print the response to an intent id.", EPILOG)
    p.add_argument("id", help="the intent's id (its response is responses/<id>.md)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="wait up to this long for it")
    p.add_argument("--sha256", metavar="HEX", help="only the response to the intent with this intent_sha256")
    args = p.parse_args(argv)
    paths, _config = open_seam(args)
    from seam import client
    from seam.errors import IntentError

    deadline = time.monotonic() + args.wait
    while True:
        try:
            response = client.read_response(paths, args.id, intent_sha256=args.sha256)
        except IntentError as exc:
            fail(str(exc))
        if response is not None:
            return print_response(response)
        if time.monotonic() >= deadline:
            waited = f" within {args.wait:g} s" if args.wait else ""
            print(f"no response for {args.id}{waited} (responses/{args.id}.md does not exist yet)", file=sys.stderr)
            return EXIT_TIMEOUT
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
