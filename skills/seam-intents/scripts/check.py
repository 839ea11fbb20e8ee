"""Check intent files with the daemon's own validation, without submitting anything."""

from __future__ import annotations

import sys

from _shared import EXIT_NOT_OK, EXIT_OK, open_seam, parser, print_problems, read_intent

EPILOG = """\
The same checks the daemon runs, in the same order: size cap, safe YAML, the envelope, the kind's
schema, then the semantic checks with this seam's configuration (for a READY signal: the pair active,
stop and target on the right sides of the entry, risk 0.5-2.5 %, the FX market open, not stale).
Nothing is written to the seam. Each file gets one line, VALID or INVALID, and each problem its
field path and why.

examples:
  python scripts/check.py --seam ~/desk my-intent.yaml
  python scripts/check.py --seam ~/desk intents/examples/*.yaml

exit codes: 0 every file is valid; 1 at least one is invalid; 2 usage error, not a seam, or invalid
configuration
"""


def main(argv: list[str] | None = None) -> int:
    p = parser("Check intent files without submitting them.", EPILOG)
    p.add_argument("files", nargs="+", metavar="FILE", help="intent file (YAML or JSON), or - for standard input")
    args = p.parse_args(argv)
    paths, config = open_seam(args)
    from seam import client
    from seam.errors import IntentError

    bad = 0
    for name in args.files:
        try:
            intent = client.check_intent(read_intent(name, config.settings.intake.max_bytes), config)
        except IntentError as exc:
            bad += 1
            print(f"INVALID {name}")
            print_problems(exc.problems)
        else:
            print(f"VALID   {name} (id {intent.id}, kind {intent.kind})")
    return EXIT_NOT_OK if bad else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
