"""Mock CSE generator: writes one valid `signal` intent (a Canonical Signal Envelope) into a seam, atomically.

It stands in for the upstream signal engine: flags in, a YAML intent in `<seam>/intents/incoming/` out
(staged in `intents/tmp/`, then renamed). Before anything is written the intent is validated with the
daemon's own code (`seam.validate.validate_bytes`, with the seam's configuration), and the stop/target
geometry is checked here, so an invalid combination is refused with exit code 2 and a message naming the
flag, and nothing reaches the seam.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

if not __package__:
    # Run as `python mocks/mock_cse_generator.py`: Python put mocks/ on sys.path, not the checkout root,
    # so `seam` would only import if it happens to be installed. Prefer the checkout this file lives in.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402

from seam.clock import clock_from_env  # noqa: E402
from seam.config import LoadedConfig, load_config  # noqa: E402
from seam.errors import ConfigError, IntentError  # noqa: E402
from seam.intent import Pair  # noqa: E402
from seam.paths import SeamPaths, fsync_dir, write_atomic  # noqa: E402
from seam.validate import CheckContext, validate_bytes  # noqa: E402
from seam.yamlsafe import dump_yaml  # noqa: E402

__all__ = ["EXIT_OK", "EXIT_REFUSED", "Refusal", "build_parser", "main"]

EXIT_OK, EXIT_REFUSED = 0, 2
PROG = "mock_cse_generator"
SESSION_ID = "mock-cse"

CANONICAL_EXAMPLE = (
    "mock_cse_generator --signal READY --pair EURUSD --direction LONG --confidence 0.85 "
    "--entry 1.0850 --stop 1.0820 --target 1.0910 --setup-type FVG_ENTRY"
)

EPILOG = f"""\
Examples:
  # the canonical READY signal: EURUSD long from a fair value gap
  {CANONICAL_EXAMPLE}

  # --direction left out: a stop above the entry makes it SHORT (the output says so)
  mock_cse_generator --signal READY --pair EURUSD --confidence 0.7 --entry 1.0850 --stop 1.0880 \\
      --target 1.0790 --setup-type OTE_ENTRY --risk-percent 0.5 --source CSO --thesis "Rejection at the Asia high"

  # a FORMING signal: levels may be left out; it is recorded and narrated only
  mock_cse_generator --signal FORMING --pair EURUSD --direction SHORT --confidence 0.4 --setup-type OTE_ENTRY

  # into a given seam, with a fixed id (the response is then responses/demo-none-1.md)
  mock_cse_generator --seam ~/desk --id demo-none-1 --signal NONE --pair EURUSD --confidence 0.1

  # print the intent instead of writing it, e.g. to hand it to `seam submit`, which waits for the response
  mock_cse_generator --stdout --signal NONE --pair EURUSD --confidence 0.1 | seam submit --seam ~/desk -

  # from a checkout, without installing the console script
  python mocks/mock_cse_generator.py --signal READY --pair EURUSD --confidence 0.85 \\
      --entry 1.0850 --stop 1.0820 --target 1.0910 --setup-type FVG_ENTRY

Levels: a LONG signal has its stop below the entry and its target above it; a SHORT one the reverse.
Exit codes: 0 written (or printed with --stdout); 2 refused: the message names the flag, nothing is written.
"""

# payload and envelope fields → the flag that sets them, so the daemon's problems read as flag problems
_FLAG_OF = {
    "payload.signal": "--signal",
    "payload.pair": "--pair",
    "payload.direction": "--direction",
    "payload.confidence": "--confidence",
    "payload.entry": "--entry",
    "payload.stop": "--stop",
    "payload.target": "--target",
    "payload.setup_type": "--setup-type",
    "payload.risk_percent": "--risk-percent",
    "payload.source": "--source",
    "payload.thesis": "--thesis",
    "payload.evidence_hash": "--evidence-hash",
    "id": "--id",
    "created_at": "--created-at",
}


@dataclass(frozen=True)
class Refusal:
    """One reason the intent is refused: the flag to change and why."""

    flag: str
    message: str

    def __str__(self) -> str:
        return f"{self.flag}: {self.message}" if self.flag else self.message


# ---- argument parsing -------------------------------------------------------------------------------


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    # float() accepts nan and inf; neither is a price or a probability, and the JSON check step refuses them
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _upper(text: str) -> str:
    return text.strip().upper()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Write a Canonical Signal Envelope as a `signal` intent into a seam, the way the signal\n"
        "engine would: checked with the daemon's own validation first, then written atomically\n"
        "(intents/tmp/, then a rename into intents/incoming/). The daemon answers in responses/<id>.md.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    envelope = parser.add_argument_group("signal (the payload)")
    envelope.add_argument(
        "--signal",
        type=_upper,
        choices=["READY", "FORMING", "NONE"],
        required=True,
        help="READY becomes a proposal that waits for a human; FORMING and NONE are recorded only",
    )
    envelope.add_argument(
        "--pair",
        type=_upper,
        help="EURUSD, GBPUSD, USDJPY, AUDUSD, USDCAD or NZDUSD; "
        "a READY signal needs one that is active in the seam's configuration (pairs.active)",
    )
    envelope.add_argument(
        "--direction",
        type=_upper,
        choices=["LONG", "SHORT"],
        help="default: inferred from --stop and --entry (stop below entry = LONG, above = SHORT)",
    )
    envelope.add_argument("--confidence", type=_finite_float, metavar="0..1")
    envelope.add_argument("--entry", type=_finite_float, metavar="PRICE")
    envelope.add_argument("--stop", type=_finite_float, metavar="PRICE", help="on the losing side of --entry")
    envelope.add_argument("--target", type=_finite_float, metavar="PRICE", help="on the winning side of --entry")
    envelope.add_argument("--setup-type", type=_upper, choices=["FVG_ENTRY", "OTE_ENTRY", "BOS_ENTRY"])
    envelope.add_argument(
        "--risk-percent", type=_finite_float, metavar="PCT", help="0.5 to 2.5 (left out: the schema's default, 1.0)"
    )
    envelope.add_argument(
        "--source",
        type=_upper,
        choices=["CSO", "HUNT_SURVIVOR", "MANUAL"],
        help="left out: the schema's default, MANUAL",
    )
    envelope.add_argument("--thesis", metavar="TEXT", help="free text, up to 2000 characters")
    envelope.add_argument("--evidence-hash", metavar="HEX", help="8-128 hexadecimal digits (optional)")

    where = parser.add_argument_group("intent and seam")
    where.add_argument("--seam", metavar="DIR", help="the seam folder (default: $SEAM_ROOT, else the current folder)")
    where.add_argument(
        "--id",
        dest="intent_id",
        metavar="ID",
        help="the intent id, which names the response file (default: e.g. eurusd-20261121-090500-ab12)",
    )
    where.add_argument(
        "--created-at", metavar="ISO", help="ISO 8601 with a timezone, e.g. 2026-11-21T09:05:00Z (default: now, UTC)"
    )
    where.add_argument(
        "--stdout",
        action="store_true",
        help="print the validated intent on stdout instead of writing it (notes go to stderr); "
        "the seam need not be initialised, its seam.yaml is used when there is one",
    )
    return parser


# ---- building and checking the intent --------------------------------------------------------------


def _infer_direction(args: argparse.Namespace) -> str | None:
    """LONG when the stop is below the entry, SHORT when above; None when that cannot be told."""
    if args.entry is None or args.stop is None or args.stop == args.entry:
        return None
    return "LONG" if args.stop < args.entry else "SHORT"


def _geometry_refusals(
    direction: str | None, entry: float | None, stop: float | None, target: float | None
) -> list[Refusal]:
    """Stop and target differ from the entry and sit on the right sides of it.

    Checked here because the daemon's semantic checks for signals land later; the schema alone would
    accept a LONG with its stop above the entry.
    """
    if entry is None:
        return []
    refusals = [
        Refusal(flag, f"equals --entry ({entry!r}); it must differ from the entry")
        for flag, level in (("--stop", stop), ("--target", target))
        if level == entry
    ]
    if direction is None:
        return refusals
    levels = {"--stop": stop, "--target": target}
    below, above = ("--stop", "--target") if direction == "LONG" else ("--target", "--stop")
    for flag, side in ((below, "below"), (above, "above")):
        level = levels[flag]
        if level is None or level == entry:  # absent, or already refused above
            continue
        if (level < entry) != (side == "below"):
            refusals.append(
                Refusal(
                    flag,
                    f"must be {side} --entry for a {direction} signal "
                    f"(got {flag.lstrip('-')} {level!r}, entry {entry!r})",
                )
            )
    return refusals


def _payload(args: argparse.Namespace, direction: str | None) -> dict[str, Any]:
    """Only what was given: the schema fills in its own defaults (risk 1.0, source MANUAL)."""
    fields = {
        "signal": args.signal,
        "pair": args.pair,
        "direction": direction,
        "confidence": args.confidence,
        "entry": args.entry,
        "stop": args.stop,
        "target": args.target,
        "setup_type": args.setup_type,
        "risk_percent": args.risk_percent,
        "source": args.source,
        "thesis": args.thesis,
        "evidence_hash": args.evidence_hash,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _default_id(pair: str | None, now: datetime, rng: random.Random) -> str:
    # the pair as typed may hold anything ("EUR/USD"); keep only id characters so a bad --pair is reported
    # against --pair, never as a puzzling problem with an --id nobody passed
    stem = re.sub(r"[^a-z0-9]", "", (pair or "").lower())[:12] or "signal"
    return f"{stem}-{now:%Y%m%d-%H%M%S}-{rng.getrandbits(16):04x}"


def _render(intent_id: str, created_at: str, payload: dict[str, Any]) -> bytes:
    document = {
        "seam": 1,
        "id": intent_id,
        "kind": "signal",
        "created_at": created_at,
        "session_id": SESSION_ID,
        "payload": payload,
    }
    header = f"# written by {PROG}\n"
    return (header + dump_yaml(document)).encode()


def _check_context(config: LoadedConfig, now: datetime) -> CheckContext:
    return CheckContext.from_settings(config.settings, now)


def _schema_refusals(data: bytes, config: LoadedConfig, now: datetime, signal: str) -> list[Refusal]:
    settings = config.settings
    try:
        validate_bytes(
            data,
            _check_context(config, now),
            max_bytes=settings.intake.max_bytes,
            max_depth=settings.validation.max_depth,
        )
    except IntentError as exc:
        return [_as_refusal(problem.path, problem.message, signal) for problem in exc.problems]
    return []


def _as_refusal(path: str, message: str, signal: str) -> Refusal:
    flag = _FLAG_OF.get(path, path)
    if message == "is required" and signal == "READY":
        message = "is required for a READY signal"
        if flag == "--direction":
            message += " (or give --entry and --stop: a stop below the entry means LONG, above it SHORT)"
    return Refusal(flag, message)


def _active_pair_refusals(args: argparse.Namespace, config: LoadedConfig) -> list[Refusal]:
    """A READY signal may only trade a pair the seam has made active; watch signals are only recorded."""
    active = [str(p) for p in config.settings.pairs.active]
    if args.signal != "READY" or args.pair is None or args.pair in active:
        return []
    # an unknown name is the schema's to report (it lists the six capable pairs)
    if args.pair not in Pair.__members__:
        return []
    return [
        Refusal(
            "--pair",
            f"{args.pair} is not active in this seam (pairs.active: {', '.join(active)}); "
            "add it under pairs.active in seam.yaml to trade it",
        )
    ]


# ---- the command -----------------------------------------------------------------------------------


def _refuse(err: Console, refusals: Sequence[Refusal]) -> int:
    err.print(f"{PROG}: refused, nothing was written:")
    for refusal in dict.fromkeys(refusals):  # the same problem found twice is shown once, in order
        err.print(f"  {refusal}")
    return EXIT_REFUSED


def _write(paths: SeamPaths, intent_id: str, data: bytes) -> Path | Refusal:
    target = paths.incoming / f"{intent_id}.yaml"
    if target.exists():
        # write_atomic renames over the target: never replace an intent the daemon has not claimed yet
        return Refusal(
            "--id",
            f"intents/incoming/{target.name} is still waiting for the daemon; "
            "wait for its response or pick another --id",
        )
    write_atomic(target, data, tmp_dir=paths.tmp)
    fsync_dir(paths.incoming)  # the rename itself survives a power cut, not only the bytes
    return target


def main(argv: Sequence[str] | None = None, *, now: datetime | None = None, rng: random.Random | None = None) -> int:
    """Parse, check, write; the exit code is returned, never raised (so callers and tests get an int).

    `now` and `rng` are injectable so the default id and created_at are reproducible.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed --help (0) or a usage error naming the flag (2)
        return exc.code if isinstance(exc.code, int) else EXIT_REFUSED
    out = Console(highlight=False, soft_wrap=True, markup=False)
    err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
    now = now or clock_from_env().now()  # SEAM_CLOCK_START simulates the market clock (demo, tests)
    rng = rng or random.Random()

    paths = SeamPaths.at(args.seam or os.environ.get("SEAM_ROOT") or os.getcwd())
    if not args.stdout and not paths.is_initialised():
        flag = "--seam" if args.seam else "--seam (default: $SEAM_ROOT, else the current folder)"
        return _refuse(
            err, [Refusal(flag, f"{paths.root} is not a seam; run `seam init {paths.root}` first or pass --seam DIR")]
        )
    try:
        config = load_config(paths)
    except ConfigError as exc:
        return _refuse(err, [Refusal("", f"the seam's configuration is invalid: {exc}")])

    inferred = _infer_direction(args) if args.direction is None else None
    direction = args.direction or inferred
    intent_id = args.intent_id if args.intent_id is not None else _default_id(args.pair, now, rng)
    created_at = args.created_at or now.isoformat(timespec="seconds").replace("+00:00", "Z")
    data = _render(intent_id, created_at, _payload(args, direction))

    refusals = (
        _geometry_refusals(direction, args.entry, args.stop, args.target)
        + _active_pair_refusals(args, config)
        + _schema_refusals(data, config, now, args.signal)
    )
    if refusals:
        return _refuse(err, refusals)

    # with --stdout the notes go to stderr so stdout stays a clean intent for a pipe
    notes = err if args.stdout else out
    if inferred is not None:
        side = "below" if inferred == "LONG" else "above"
        notes.print(f"direction {inferred} (inferred: --stop {args.stop!r} is {side} --entry {args.entry!r})")
    if args.stdout:
        sys.stdout.write(data.decode())
        sys.stdout.flush()
        return EXIT_OK
    written = _write(paths, intent_id, data)
    if isinstance(written, Refusal):
        return _refuse(err, [written])
    out.print(f"wrote {written}")
    out.print(f"id {intent_id} (the response will be {paths.responses / (intent_id + '.md')})")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
