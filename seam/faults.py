"""Failpoints: named places where a test can make the daemon hang or crash, to prove recovery.

Set SEAM_FAILPOINTS="after_claim=hang,after_commit=crash" in the daemon's environment. Unset (always,
outside tests) a failpoint costs one dictionary lookup. `hang` blocks the calling thread so a test
can `kill -9` the process at that exact step; `crash` ends the process at once, like a power cut
of the process (os._exit: no cleanup, no flush).
"""

from __future__ import annotations

import os
import sys
import threading

__all__ = ["failpoint"]


def _parse(raw: str) -> dict[str, str]:
    points: dict[str, str] = {}
    for item in raw.split(","):
        name, _, action = item.strip().partition("=")
        if name:
            points[name] = action or "crash"
    return points


_POINTS = _parse(os.environ.get("SEAM_FAILPOINTS", ""))


def failpoint(name: str) -> None:
    action = _POINTS.get(name)
    if action is None:
        return
    sys.stderr.write(f"seam: failpoint {name} reached ({action})\n")
    sys.stderr.flush()
    if action == "hang":
        threading.Event().wait()
    os._exit(86)
