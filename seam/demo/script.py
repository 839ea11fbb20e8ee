"""The demo's script: its modes, the trades it plays, where its market clock starts, and the bound on every wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MODES = ("mock", "paper")
PAIR = "EURUSD"
PAPER_ACCOUNT = "DU123456"
PAPER_PORT = 4002  # PAPER mode insists on IB's paper port; the gateway gets a loopback address of its own
DEMO_BACKOFF = "[0.5, 1, 2]"  # seconds before each reconnect attempt (seam's default is 5, 15, 45)
# Bounds on every wait, per mode: the IB library adds a network round trip or two to each step.
RESPONSE_SECONDS = {"mock": 15.0, "paper": 25.0}
START_SECONDS = 20.0
TELEGRAM_CHAT = 1001  # the fake Bot API's chat and the one person allowed in it (the demo's Telegram)
TELEGRAM_PERSON = 42
STOP_SECONDS = 20.0
RECOVERY_SECONDS = 15.0


class DemoFailure(Exception):
    """Something the story needed did not happen; the message says what."""


@dataclass(frozen=True)
class TradePlan:
    """One scripted trade: the signal's levels, and where the demo then moves the market."""

    number: int
    direction: str  # LONG | SHORT
    entry: float
    stop: float
    target: float
    exit_mid: float
    exit: str  # which bracket child the move reaches: target | stop
    setup: str

    @property
    def position(self) -> str:
        return f"t{self.number}-{self.direction.lower()}"


# Levels sit on 10-pip marks, the prices a person would pick; the stale gate refuses an approval only when
# the price moved 10 pips or more since the proposal, which the story never does.
PLANS = (
    TradePlan(1, "LONG", 1.0850, 1.0820, 1.0910, 1.0912, "target", "FVG_ENTRY"),
    TradePlan(2, "SHORT", 1.0900, 1.0930, 1.0840, 1.0932, "stop", "OTE_ENTRY"),
    TradePlan(3, "SHORT", 1.0930, 1.0960, 1.0870, 1.0868, "target", "BOS_ENTRY"),
)
DRILL_ENTRY = (1.0880, 1.0850, 1.0940)


def simulated_start(now: datetime | None = None) -> datetime:
    """09:00 UTC on the latest Wednesday (today, if it is one): the London session, mid-week."""
    now = now or datetime.now(UTC)
    back = (now.weekday() - 2) % 7
    day = (now - timedelta(days=back)).date()
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)
