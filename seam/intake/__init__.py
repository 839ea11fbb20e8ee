"""Intake stage: find complete intent files in incoming/, claim each by rename, exactly once.

files.py      which names are intents, when a file is complete, the claim by rename, filing away
watch.py      filesystem events as hints (inotify through watchdog, or polling)
scheduler.py  what runs next: newest arrivals first, halts straight to the priority lane
"""

from __future__ import annotations

from seam.intake.files import (
    INTENT_SUFFIXES,
    Claimant,
    Readiness,
    ReadinessChecker,
    count_candidates,
    count_processing,
    file_away,
    is_candidate,
    live_owners,
    original_name,
)
from seam.intake.watch import make_observer

__all__ = [
    "INTENT_SUFFIXES",
    "Claimant",
    "Readiness",
    "ReadinessChecker",
    "count_candidates",
    "count_processing",
    "file_away",
    "is_candidate",
    "live_owners",
    "make_observer",
    "original_name",
]
