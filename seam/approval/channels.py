"""Human channels for approval codes: the `seam watch` terminal, never a log stream (logs are what agents read)."""

from __future__ import annotations

import os
from datetime import datetime

from seam.approval.codes import CodeChannel
from seam.approval.proposals import Proposal

__all__ = ["console_channel"]


def console_channel(tty: str = "/dev/tty") -> CodeChannel:
    """The controlling terminal of `seam watch`: the person in front of it. Telegram joins in a later step."""

    def deliver(proposal: Proposal, code: str, expires_at: datetime) -> None:
        try:
            fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY)
        except OSError:
            return  # no terminal (a service, CI): a person gets a fresh code with `seam approvals --new-code`
        try:
            line = (
                f"\n  APPROVAL CODE {code} for proposal {proposal.id}: {proposal.side} {proposal.units:,} "
                f"{proposal.pair} (expires {expires_at:%H:%M:%S} UTC)\n\n"
            )
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    return deliver
