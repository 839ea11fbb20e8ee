"""Facts drawn from beads for the narrator's answers: windows, gaps, approvals, trades, counts.

Pure functions over bead lists and times, so each is tested with beads a test appends to a real store.
Every fact carries the bead ids it came from; nothing here interprets, ranks or explains.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from seam.store import Bead

__all__ = [
    "ApprovalStory",
    "ConnectionGap",
    "HeartbeatGap",
    "Trade",
    "Window",
    "approvals",
    "bead_counts",
    "connection_gaps",
    "day_window",
    "heartbeat_gaps",
    "in_window",
    "last_window",
    "latest",
    "trades",
]

_UNITS = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_WINDOW = re.compile(r"^([1-9][0-9]{0,3})([mhdw])$")
# APPROVAL events that settle what became of a proposal (others, like wrong_code, are steps on the way)
_SETTLING = ("approved", "rejected", "state_conflict", "refused_by_broker", "not_sent")


@dataclass(frozen=True)
class Window:
    """The time a question covers: [start, end) for whole days, [start, end] for "the last 24 h" (its end is now,
    and a bead appended at this very millisecond belongs to it)."""

    start: datetime
    end: datetime
    include_end: bool = False

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment and (moment <= self.end if self.include_end else moment < self.end)

    def describe(self) -> str:
        return f"{self.start.isoformat(timespec='seconds')} to {self.end.isoformat(timespec='seconds')}"


def last_window(spec: str, now: datetime) -> Window:
    """ "24h" → the 24 hours up to now."""
    match = _WINDOW.match(spec)
    if match is None:
        raise ValueError(f"window {spec!r} is not a number and a unit m, h, d or w")
    return Window(now - timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)]), now, include_end=True)


def day_window(since: date | None, until: date | None, *, default_days: int, now: datetime) -> Window:
    """Whole UTC days from `since` to `until`, both included (`until` defaults to today)."""
    last = until or now.astimezone(UTC).date()
    first = since or last - timedelta(days=default_days - 1)
    return Window(datetime.combine(first, time(), UTC), datetime.combine(last + timedelta(days=1), time(), UTC))


def at(bead: Bead) -> datetime:
    return datetime.fromisoformat(bead.at)


def in_window(beads: Iterable[Bead], window: Window) -> list[Bead]:
    return [b for b in beads if window.holds(at(b))]


def latest(beads: list[Bead]) -> Bead | None:
    return beads[-1] if beads else None


def bead_counts(beads: Iterable[Bead], type_: str | None = None) -> dict[str, int]:
    counts = Counter(b.type for b in beads if type_ is None or b.type == type_)
    return dict(sorted(counts.items()))


@dataclass(frozen=True)
class HeartbeatGap:
    before: Bead
    after: Bead
    seconds: float


def heartbeat_gaps(beats: list[Bead], over_seconds: float) -> list[HeartbeatGap]:
    """Consecutive HEARTBEAT beads (in bead order) further apart than `over_seconds`."""
    gaps = []
    for before, after in zip(beats, beats[1:], strict=False):
        seconds = (at(after) - at(before)).total_seconds()
        if seconds > over_seconds:
            gaps.append(HeartbeatGap(before, after, round(seconds, 3)))
    return gaps


@dataclass(frozen=True)
class ConnectionGap:
    disconnect: Bead
    connect: Bead | None  # None: no CONNECT bead followed within the window
    seconds: float | None


def connection_gaps(sessions: list[Bead], now: datetime) -> list[ConnectionGap]:
    """Each IBKR_SESSION DISCONNECT and the next CONNECT after it (none yet: the gap is open at `now`)."""
    gaps: list[ConnectionGap] = []
    down: Bead | None = None
    for bead in sessions:
        event = bead.payload.get("event")
        if event == "DISCONNECT" and down is None:
            down = bead
        elif event == "CONNECT" and down is not None:
            gaps.append(ConnectionGap(down, bead, round((at(bead) - at(down)).total_seconds(), 3)))
            down = None
    if down is not None:
        gaps.append(ConnectionGap(down, None, round((now - at(down)).total_seconds(), 3)))
    return gaps


@dataclass
class ApprovalStory:
    """One proposal's APPROVAL beads in order, and the ORDER beads under the reference it was approved with."""

    proposal: str
    events: list[Bead] = field(default_factory=list)
    orders: list[Bead] = field(default_factory=list)

    @property
    def decision(self) -> str:
        settled = [str(b.payload.get("event")) for b in self.events if b.payload.get("event") in _SETTLING]
        return settled[-1] if settled else "none recorded"

    @property
    def order_events(self) -> str:
        return ", ".join(f"{b.payload.get('event')} (bead {b.seq})" for b in self.orders) or "none"

    @property
    def sources(self) -> list[int]:
        return sorted(b.seq for b in [*self.events, *self.orders])


def approvals(approval_beads: list[Bead], order_beads: list[Bead]) -> list[ApprovalStory]:
    stories: dict[str, ApprovalStory] = {}
    for bead in approval_beads:
        proposal = bead.payload.get("proposal")
        if isinstance(proposal, str):
            stories.setdefault(proposal, ApprovalStory(proposal)).events.append(bead)
    for story in stories.values():
        refs = {b.payload.get("ref") for b in story.events if b.payload.get("ref")}
        story.orders = [b for b in order_beads if b.payload.get("ref") in refs]
    return list(stories.values())


@dataclass(frozen=True)
class Trade:
    """A closed trade, from its AUTOPSY bead. `usd` is the price move × units in the quote currency, in USD
    (a USD-base pair's quote-currency result divided by the exit price); None when neither side is USD."""

    bead: Bead
    pips: float
    usd: float | None

    @property
    def a(self) -> dict[str, Any]:
        return self.bead.payload


def _usd(autopsy: dict[str, Any]) -> float | None:
    pair, entry, exit_ = str(autopsy.get("pair", "")), autopsy.get("entry"), autopsy.get("exit")
    units, side = autopsy.get("units"), autopsy.get("side")
    if not isinstance(entry, (int, float)) or not isinstance(exit_, (int, float)) or not isinstance(units, int):
        return None
    signed = 1 if side == "BUY" else -1
    quote_result = (exit_ - entry) * units * signed
    if pair.endswith("USD"):
        return round(quote_result, 2)
    if pair.startswith("USD") and exit_:
        return round(quote_result / exit_, 2)
    return None


def trades(autopsies: list[Bead]) -> list[Trade]:
    return [Trade(b, float(b.payload.get("pips", 0.0)), _usd(b.payload)) for b in autopsies]
