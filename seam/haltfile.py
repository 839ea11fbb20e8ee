"""The halt request file, `<root>/flags/halt`: a halt that blocks capital actions the moment it is asked for.

    seam halt, the MCP halt tool, skills, Telegram /halt ─ client.submit ─► flags/halt (written, fsync'd)
                                                                          then intents/priority/<halt>.yaml
    the halt handler (every halt, one dropped into incoming/ too) ────────► flags/halt as well
    the order path (BrokerService.submit) ─ one stat ─► refused while the file is there
    seam resume (a person at a terminal) ─► the store's halt flag off, then the file removed

The store's halt flag and its HALT beads stay the record of what happened and when the daemon carried the halt out
(cancelling the working orders). The file only makes the request take effect at once: before the daemon has
answered it, while it is behind a backlog, stopped, or not started. INV: capital actions are refused while either
the file or the store's flag is on; only `seam resume` clears them, the store's flag first.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime

from seam.paths import SeamPaths, fsync_dir, write_atomic
from seam.store import Store

__all__ = ["HaltRequest", "clear_halt", "clear_halt_request", "halt_requested", "is_halt_requested", "request_halt"]

MAX_BYTES = 4096  # the file is a few lines; anything larger is read as "requested, unreadable"


@dataclass(frozen=True)
class HaltRequest:
    intent_id: str
    reason: str
    at: str
    by: str

    def line(self) -> str:
        return f"requested at {self.at} by {self.by} (halt {self.intent_id}): {self.reason}"


def request_halt(paths: SeamPaths, *, intent_id: str, reason: str, by: str, at: datetime) -> HaltRequest:
    """Write the request durably (the file, then its folder, fsync'd); an existing request is replaced."""
    request = HaltRequest(intent_id, reason, at.isoformat(timespec="milliseconds"), by)
    paths.flags.mkdir(mode=0o700, exist_ok=True)
    body = json.dumps({"id": request.intent_id, "reason": reason, "at": request.at, "by": by}, ensure_ascii=False)
    write_atomic(paths.halt_request, (body + "\n").encode(), tmp_dir=paths.flags)
    fsync_dir(paths.flags)
    return request


def is_halt_requested(paths: SeamPaths) -> bool:
    """One stat: whether a halt request is on file (any entry under the name counts, whatever it holds)."""
    try:
        os.lstat(paths.halt_request)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot tell: refusing is the safe answer
    return True


def halt_requested(paths: SeamPaths) -> HaltRequest | None:
    """The request on file, or None. A file that cannot be read as one is still a request (its reason says so)."""
    if not is_halt_requested(paths):
        return None
    try:
        fd = os.open(paths.halt_request, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            data = json.loads(handle.read(MAX_BYTES + 1))
        return HaltRequest(str(data["id"]), str(data["reason"]), str(data["at"]), str(data["by"]))
    except (OSError, ValueError, KeyError, TypeError):
        return HaltRequest("?", f"{paths.halt_request} is there but cannot be read as a halt request", "?", "?")


def clear_halt_request(paths: SeamPaths) -> bool:
    """Remove the request (durably); whether there was one."""
    try:
        os.unlink(paths.halt_request)
    except FileNotFoundError:
        return False
    fsync_dir(paths.flags)
    return True


def clear_halt(paths: SeamPaths, store: Store, *, by: str, note: str) -> bool:
    """A person's `seam resume`: the store's halt flag off (its HALT bead), then the request file removed. Whether
    anything was on. A crash between the two leaves the file: still halted, and `seam resume` clears it next."""
    was_on = store.halt_off(by=by, note=note)
    return clear_halt_request(paths) or was_on
