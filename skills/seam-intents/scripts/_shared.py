"""What the scripts of a seam skill share: finding seam, opening the seam named by --seam, printing an answer.

Every seam skill carries the same copy of this file (a test keeps them equal), so each skill folder works
on its own. Scripts parse their arguments before importing seam, so `--help` works with any Python; the
work itself needs a Python that has seam installed (`.venv/bin/python` in a checkout of seam). Run from a
checkout, a script also finds seam by walking up from its own folder.

Output: the response (YAML front matter, then markdown) on stdout; diagnostics on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from seam.client import Response
    from seam.config import LoadedConfig
    from seam.paths import SeamPaths

EXIT_OK, EXIT_NOT_OK, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3

EXIT_CODES = (
    "exit codes: 0 ok or pending_approval; 1 rejected, failed or conflict (or refused before anything was\n"
    "written); 2 usage error, not a seam, or invalid configuration; 3 no response in time (the intent stays\n"
    "in the seam and is answered once a daemon takes it)"
)


def parser(description: str, epilog: str = "") -> argparse.ArgumentParser:
    """An argument parser with --seam, its text laid out as written."""
    p = argparse.ArgumentParser(
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--seam", metavar="ROOT", help="the seam folder (default: $SEAM_ROOT, else the current folder)")
    return p


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    print(f"{Path(sys.argv[0]).name}: {message}", file=sys.stderr)
    raise SystemExit(code)


def import_seam() -> None:
    """Make `import seam` work: installed, or the checkout this skill sits in; else a clear message."""
    try:
        import seam.client  # noqa: F401

        return
    except ImportError as exc:
        if exc.name not in ("seam", "seam.client"):
            _no_seam(exc)
    for parent in Path(__file__).resolve().parents:
        if (parent / "seam" / "client.py").is_file() and (parent / "pyproject.toml").is_file():
            sys.path.insert(0, str(parent))
            break
    try:
        import seam.client  # noqa: F401
    except ImportError as exc:
        _no_seam(exc)


def _no_seam(exc: ImportError) -> NoReturn:
    fail(
        f"cannot import seam with {sys.executable} ({exc}); run this script with the Python that has seam "
        "installed (in a checkout of seam: .venv/bin/python), or install seam into this one"
    )


def open_seam(args: argparse.Namespace) -> tuple[SeamPaths, LoadedConfig]:
    """The seam named by --seam (else $SEAM_ROOT, else the current folder) and its configuration."""
    import_seam()
    from seam.config import load_config
    from seam.errors import ConfigError
    from seam.paths import SeamPaths

    paths = SeamPaths.at(args.seam or os.environ.get("SEAM_ROOT") or os.getcwd())
    if not paths.is_initialised():
        fail(f"{paths.root} is not a seam (run `seam init {paths.root}`, or pass --seam ROOT)")
    try:
        return paths, load_config(paths)
    except ConfigError as exc:
        fail(f"the seam's configuration is invalid: {exc}")


def read_intent(name: str, max_bytes: int) -> bytes:
    """An intent file's bytes (at most one past the cap, so validation can say it is too big); - is stdin."""
    try:
        if name == "-":
            return sys.stdin.buffer.read(max_bytes + 1)
        with open(name, "rb") as handle:
            return handle.read(max_bytes + 1)
    except OSError as exc:
        fail(f"cannot read {name}: {exc.strerror or exc}; nothing was sent")


def print_problems(problems: list[Any]) -> None:
    for problem in problems:
        print(f"  {problem.path or '(file)'}: {problem.message}", file=sys.stderr)


def submit_and_print(
    paths: SeamPaths,
    config: LoadedConfig,
    intent: bytes | Mapping[str, Any],
    *,
    timeout: float,
    wait: bool = True,
) -> int:
    """Check the intent with the daemon's own validation, write it atomically into intents/incoming/ (a halt
    into intents/priority/), wait for the response to this very intent and print it; the exit code its status
    means."""
    from seam import client
    from seam.errors import ConfigError, IntentError, ResponseTimeout

    try:
        submitted = client.submit(paths, config, intent)
    except IntentError as exc:
        print("rejected (checked before sending; nothing was written to the seam):", file=sys.stderr)
        print_problems(exc.problems)
        return EXIT_NOT_OK
    except ConfigError as exc:
        fail(str(exc))
    if not wait:
        print(f"submitted {submitted.id} as {submitted.path.relative_to(paths.root)}")
        print(f"its response will be responses/{submitted.id}.md", file=sys.stderr)
        return EXIT_OK
    try:
        response = client.wait_for_response(paths, submitted, timeout=timeout)
    except ResponseTimeout as exc:
        print(f"timeout: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    return print_response(response)


def print_response(response: Response) -> int:
    sys.stdout.write(response.text)
    if not response.text.endswith("\n"):
        sys.stdout.write("\n")
    return EXIT_OK if response.succeeded else EXIT_NOT_OK
