"""Submit a signal or close intent (a proposal for a human), wait for it, and print the evidence response."""

from __future__ import annotations

import sys

from _shared import EXIT_CODES, EXIT_NOT_OK, fail, open_seam, parser, read_intent, submit_and_print

EPILOG = f"""\
Only `signal` and `close` intents: the two kinds that make a proposal. A READY signal accepted by the
daemon answers `pending_approval` with the evidence a person decides on; FORMING and NONE signals
are recorded only (`ok`). Nothing is approved here: a human approves with their own code.

examples:
  python scripts/propose.py --seam ~/desk signal.yaml
  python scripts/propose.py --seam ~/desk close.yaml

{EXIT_CODES}
"""

PROPOSING = ("signal", "close")


def main(argv: list[str] | None = None) -> int:
    p = parser("Submit a signal or close intent and print the evidence the human decides on.", EPILOG)
    p.add_argument("file", metavar="FILE", help="the intent file (YAML or JSON), or - for standard input")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the response (default 30)")
    args = p.parse_args(argv)
    paths, config = open_seam(args)
    from seam import client
    from seam.errors import IntentError

    data = read_intent(args.file, config.settings.intake.max_bytes)
    try:
        kind = str(client.check_intent(data, config).kind)
    except IntentError:
        kind = None  # submit_and_print names every problem
    if kind is not None and kind not in PROPOSING:
        fail(f"{args.file} is a `{kind}` intent; this script sends only signal and close", EXIT_NOT_OK)
    return submit_and_print(paths, config, data, timeout=args.timeout)


if __name__ == "__main__":
    sys.exit(main())
