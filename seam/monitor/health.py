"""Health, read from the beads by any process: the newest heartbeat (for `seam health` and `status`), MISSED
when the beats stopped (`seam heartbeat-check`, which then raises the alert itself, once per outage), and
what caused a halt (for `seam resume`).

MISSED: no beat for `missed_beats` intervals, plus the jitter, plus a delivery tolerance of
DELIVERY_TOLERANCE seconds, so a beat delivered up to 10 s late never reads as missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from seam.clock import Clock
from seam.monitor.alerts import Alert, AlertSink
from seam.store import Bead, Halt, Store

__all__ = [
    "DELIVERY_TOLERANCE",
    "Health",
    "halt_cause",
    "heartbeat_check",
    "latest_bead",
    "missed_after",
    "read_health",
]

DELIVERY_TOLERANCE = 10.0


@dataclass(frozen=True)
class Health:
    """The seam's health as the newest HEARTBEAT bead says, aged against the clock."""

    state: str  # HEALTHY | DEGRADED | CRITICAL | MISSED | STOPPED | NONE
    detail: str
    beat: Bead | None
    age_s: float | None
    checks: dict[str, dict[str, str]]

    def line(self) -> str:
        """One line for `status`."""
        if self.beat is None:
            return self.detail
        if self.state in ("MISSED", "STOPPED"):
            return f"{self.state}: {self.detail}"
        return f"{self.state} (last beat: bead {self.beat.seq}; each check: `seam health`)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "detail": self.detail,
            "bead": self.beat.seq if self.beat else None,
            "age_s": self.age_s,
            "daemon": self.beat.payload.get("daemon") if self.beat else None,
            "checks": self.checks,
        }


def latest_bead(store: Store, type_: str) -> Bead | None:
    """The newest bead of a type."""
    return store.last_of(type_)


def missed_after(payload: dict[str, Any]) -> float:
    """Seconds without a beat after which the beats count as MISSED, from the beat's own schedule."""
    interval = float(payload.get("interval_s", 30.0))
    jitter = float(payload.get("jitter_s", 5.0))
    beats = int(payload.get("missed_beats", 3))
    return beats * interval + jitter + DELIVERY_TOLERANCE


def read_health(store: Store, clock: Clock) -> Health:
    beat = latest_bead(store, "HEARTBEAT")
    if beat is None:
        return Health("NONE", "no heartbeat yet: no daemon has run on this seam since monitoring began", None, None, {})
    payload = beat.payload
    age = (clock.now() - datetime.fromisoformat(beat.at)).total_seconds()
    checks: dict[str, dict[str, str]] = payload.get("checks", {})
    daemon = payload.get("daemon", "?")
    when = f"last beat {int(age)} s ago (bead {beat.seq}, daemon {daemon})"
    if payload.get("stopped"):
        return Health("STOPPED", f"the daemon stopped on purpose; {when}", beat, age, checks)
    if age > missed_after(payload):
        return Health("MISSED", f"no beat for {int(age)} s; {when}", beat, age, checks)
    return Health(str(payload.get("state", "?")), when, beat, age, checks)


def heartbeat_check(store: Store, clock: Clock, alerts: AlertSink) -> tuple[Health, bool]:
    """Read the health; if the beats stopped, raise HEARTBEAT_MISSED unless this outage was alerted already.
    Returns the health and whether an alert was raised now."""
    health = read_health(store, clock)
    if health.state != "MISSED" or health.beat is None:
        return health, False
    # INV: one HEARTBEAT_MISSED per outage: a check every minute never alerts every minute
    since = store.beads(after=health.beat.seq, type_="ALERT")
    if any(b.payload.get("alert") == "HEARTBEAT_MISSED" for b in since):
        return health, False
    alerts.raise_alert(
        Alert(
            "HEARTBEAT_MISSED",
            f"the daemon's heartbeat stopped: {health.detail}",
            {
                "last beat": health.beat.at,
                "daemon": health.beat.payload.get("daemon", "?"),
                "seconds without a beat": int(health.age_s or 0),
                "counted as missed after (s)": int(missed_after(health.beat.payload)),
            },
        )
    )
    return health, True


def halt_cause(store: Store, halt: Halt) -> list[str]:
    """Facts about what set the halt: its HALT bead and, for a reconciliation's halt, the differences found."""
    lines = [f"HALT bead {halt.bead}, set by {halt.by} at {halt.at}: {halt.reason}"]
    beads = store.beads(after=max(0, halt.bead - 2), limit=2)
    for bead in beads:
        if bead.type == "RECONCILIATION" and bead.payload.get("drift"):
            lines.append(f"reconciliation bead {bead.seq} ({bead.payload.get('trigger', '?')}) found:")
            lines += [f"  - {text}" for text in bead.payload.get("differences", [])]
            lines += [f"  - {text}" for text in bead.payload.get("explained", [])]
    return lines
