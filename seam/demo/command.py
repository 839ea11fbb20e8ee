"""`seam demo` itself: refuses what it cannot run, prepares the seam folder, tells the story, says how it ended."""

from __future__ import annotations

import importlib.util
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from rich.console import Console

from seam.clock import ShiftedClock
from seam.config import render_commented_yaml
from seam.demo.output import opening
from seam.demo.script import DEMO_BACKOFF, MODES, DemoFailure, simulated_start
from seam.demo.story import Story
from seam.paths import SeamPaths

logger = logging.getLogger(__name__)


def run_demo(seam_dir: str | None, *, out: Console, mode: str = "mock") -> int:
    """Run the whole story on a new seam; 0 when it completed and the bead chain verifies, else 1."""
    refused = _refusal(mode, out)
    if refused is not None:
        return refused
    began = time.monotonic()
    try:
        paths = _prepare_folder(seam_dir)
    except (DemoFailure, OSError) as exc:
        out.print(f"seam demo: {exc}", markup=False)
        return 2 if isinstance(exc, DemoFailure) else 1
    start = simulated_start()
    env = {} if mode == "mock" else {"SEAM_BROKER__MODE": "paper", "SEAM_BROKER__BACKOFF_SECONDS": DEMO_BACKOFF}
    opening(out, mode, paths.root, start)
    with ExitStack() as stack:
        stack.enter_context(_quiet_library_logs())
        story = Story(paths, out, mode, ShiftedClock(start), env, stack)
        try:
            intact = story.run()
        except DemoFailure as exc:
            out.print(f"[bold red]The demo failed[/] during “{story.out.step}”: {exc}")
            out.print(f"The seam stays at {paths.root} for a look (responses/, intents/, seam.db).", markup=False)
            return 1
        except KeyboardInterrupt:
            out.print(f"The demo was interrupted during “{story.out.step}”; it stops its daemon now.")
            return 130
        except Exception as exc:  # anything unexpected still ends with a named failure and exit 1
            logger.debug("demo failure", exc_info=True)
            out.print(
                f"[bold red]The demo failed unexpectedly[/] during “{story.out.step}”: {type(exc).__name__}: {exc}"
            )
            out.print(f"The seam stays at {paths.root} for a look (responses/, intents/, seam.db).", markup=False)
            return 1
    out.print(f"The demo took {time.monotonic() - began:.1f} s. The seam stays at {paths.root}.")
    return 0 if intact else 1


def _refusal(mode: str, out: Console) -> int | None:
    """The exit code when the demo cannot run at all (an unknown mode, a broken install), after saying why."""
    if mode not in MODES:
        out.print(f"seam demo: unknown mode {mode!r} (choose {' or '.join(MODES)})", markup=False)
        return 2
    # ib_async is a dependency of seam (ib_insync is the adapter's fallback): missing both is a broken install
    if mode == "paper" and not any(importlib.util.find_spec(lib) for lib in ("ib_async", "ib_insync")):
        out.print(
            "seam demo: the IB client library is missing from this installation: pip install ib_async", markup=False
        )
        return 1
    return None


@contextmanager
def _quiet_library_logs() -> Iterator[None]:
    """The IB library logs every dropped socket as an error; the demo narrates the drop itself."""
    names = ("ib_async", "ib_insync", "mocks.fake_ib_gateway")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _prepare_folder(seam_dir: str | None) -> SeamPaths:
    if seam_dir:
        root = Path(seam_dir).expanduser()
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise DemoFailure(f"{root} is not empty; the demo needs a new or empty folder for its seam")
    else:
        root = Path(tempfile.mkdtemp(prefix="seam-demo-"))
    paths = SeamPaths.at(root)
    paths.create_folders()
    paths.config_file.write_text(render_commented_yaml(), encoding="utf-8")
    return paths
