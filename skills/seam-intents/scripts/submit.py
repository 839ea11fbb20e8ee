"""Submit intent files to a seam and print each response (what `seam submit` does, one or more files)."""

from __future__ import annotations

import sys

from _shared import EXIT_CODES, open_seam, parser, read_intent, submit_and_print

EPILOG = f"""\
Each file is checked with the daemon's own validation first: an invalid intent is refused here, naming
every wrong field, and nothing is written. A valid one is written atomically into intents/incoming/
(staged in intents/tmp/, then renamed), and the script waits for the response to that very intent
(matched by its intent_sha256) and prints it: YAML front matter, then markdown.

examples:
  python scripts/submit.py --seam ~/desk status.yaml
  python scripts/submit.py --seam ~/desk --timeout 60 signal.yaml
  cat intent.yaml | python scripts/submit.py --seam ~/desk -
  python scripts/submit.py --seam ~/desk --no-wait positions.yaml   # then: scripts/response.py ID

{EXIT_CODES} (several files: the highest code of them all)
"""


def main(argv: list[str] | None = None) -> int:
    p = parser("Submit intent files to a seam, wait for each response and print it.", EPILOG)
    p.add_argument("files", nargs="+", metavar="FILE", help="intent file (YAML or JSON), or - for standard input")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each response (default 30)")
    p.add_argument("--no-wait", action="store_true", help="write the intent and return at once")
    args = p.parse_args(argv)
    paths, config = open_seam(args)
    worst = 0
    for name in args.files:
        data = read_intent(name, config.settings.intake.max_bytes)
        worst = max(worst, submit_and_print(paths, config, data, timeout=args.timeout, wait=not args.no_wait))
    return worst


if __name__ == "__main__":
    sys.exit(main())
