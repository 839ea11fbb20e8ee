"""Make a mock signal with mock_cse_generator, submit it, wait for the daemon's answer and print it."""

from __future__ import annotations

import contextlib
import io
import sys

from _shared import EXIT_CODES, open_seam, parser, submit_and_print

EPILOG = f"""\
Every other flag goes to mock_cse_generator, which builds a Canonical Signal Envelope and checks it
with the daemon's own validation (a refusal names the flag, exit 2, nothing written):
  --signal READY|FORMING|NONE   --pair EURUSD|GBPUSD|USDJPY|AUDUSD|USDCAD|NZDUSD
  --direction LONG|SHORT (left out: from --stop vs --entry)   --confidence 0..1
  --entry PRICE --stop PRICE --target PRICE   --setup-type FVG_ENTRY|OTE_ENTRY|BOS_ENTRY
  --risk-percent 0.5..2.5   --source CSO|HUNT_SURVIVOR|MANUAL   --thesis TEXT   --evidence-hash HEX
  --id ID   --created-at ISO
This script then submits the intent through seam.client and prints the response: a READY signal
answers pending_approval with its evidence (the approval code goes to the human's console only).

examples:
  python scripts/mock_signal.py --seam ~/desk --signal READY --pair EURUSD --direction LONG \\
      --confidence 0.85 --entry 1.0850 --stop 1.0820 --target 1.0910 --setup-type FVG_ENTRY
  python scripts/mock_signal.py --seam ~/desk --signal FORMING --pair EURUSD --confidence 0.4

{EXIT_CODES}
"""


def main(argv: list[str] | None = None) -> int:
    p = parser("Generate a mock signal, submit it and print the daemon's answer.", EPILOG)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the response (default 30)")
    p.add_argument("--no-wait", action="store_true", help="write the intent and return at once")
    args, generator_args = p.parse_known_args(argv)
    paths, config = open_seam(args)
    from mocks.mock_cse_generator import main as generate

    generator_args = [arg for arg in generator_args if arg != "--stdout"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # its notes go to stderr; stdout is the intent
        code = generate([*generator_args, "--seam", str(paths.root), "--stdout"])
    if code != 0:
        return code
    return submit_and_print(paths, config, printed.getvalue().encode(), timeout=args.timeout, wait=not args.no_wait)


if __name__ == "__main__":
    sys.exit(main())
