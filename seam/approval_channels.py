"""Human channels for approval codes. Each is a callable (proposal, code, expires_at) -> None.

The console channel writes to the controlling terminal of `seam watch` (/dev/tty), never to the log
stream: logs are files and pipes that agents read; the terminal is the person in front of it.
Telegram (the configured chat only) joins in a later step.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

__all__ = ["console_channel"]


def console_channel(tty: str = "/dev/tty") -> Any:
    def deliver(proposal: Any, code: str, expires_at: datetime) -> None:
        try:
            fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY)
        except OSError:
            return  # no terminal (a service, CI): the code waits for `seam approvals`
        try:
            line = (f"\n  APPROVAL CODE {code} for proposal {proposal.id}: {proposal.side} {proposal.units:,} "
                    f"{proposal.pair} (expires {expires_at:%H:%M:%S} UTC)\n\n")
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    return deliver
