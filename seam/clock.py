"""Time, injected: the daemon and handlers read a Clock, tests advance a FakeClock instead of sleeping."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["CLOCK_ENV", "Clock", "FakeClock", "ShiftedClock", "SystemClock", "clock_from_env"]


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC wall-clock time."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; never goes back."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
        self._mono = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds


class ShiftedClock:
    """Real time, moved so that it read `start` when the process began: a simulated market clock.

    Used by the demo (which runs on any day, weekends included) and by tests that start processes;
    set with SEAM_CLOCK_START=2026-11-18T09:00:00Z. Everything that reads the clock says so.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulated start needs a timezone, e.g. 2026-11-18T09:00:00Z")
        self._offset = start - datetime.now(UTC)
        self.start = start

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def monotonic(self) -> float:
        return time.monotonic()


CLOCK_ENV = "SEAM_CLOCK_START"


def clock_from_env(environ: dict[str, str] | None = None) -> Clock:
    """The system clock, or a ShiftedClock when SEAM_CLOCK_START names a start time."""
    import os

    raw = (environ if environ is not None else dict(os.environ)).get(CLOCK_ENV)
    if not raw:
        return SystemClock()
    try:
        start = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{CLOCK_ENV} must be an ISO time with a timezone, e.g. 2026-11-18T09:00:00Z (got {raw!r})"
        ) from None
    return ShiftedClock(start)
