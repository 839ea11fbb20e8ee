"""Alerts: a taxonomy (type → severity, runbook) and the sinks every alert reaches.

Each alert is an ALERT bead, a markdown file in responses/alerts/, and a log line on stderr.
Every alert is delivered as it is raised: nothing is bundled or throttled yet (monitoring adds that, and
Telegram).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from seam.clock import Clock
from seam.paths import write_atomic
from seam.store import Store

__all__ = ["ALERT_TYPES", "Alert", "AlertSink", "Severity"]

logger = logging.getLogger(__name__)


class Severity(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    DEGRADED = "DEGRADED"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True)
class AlertType:
    name: str
    severity: Severity
    runbook: str
    summary: str


ALERT_TYPES: dict[str, AlertType] = {
    t.name: t
    for t in (
        AlertType("CONNECTION_LOST", Severity.DEGRADED, "RB-001", "The broker link dropped; reconnecting."),
        AlertType("CONNECTION_ROTTING", Severity.CRITICAL, "RB-001", "Connection rotting — run RB-001."),
        AlertType(
            "RECONCILIATION_DRIFT",
            Severity.CRITICAL,
            "RB-002",
            "Local state and the broker disagree; the halt flag is on.",
        ),
        AlertType("POSITION_STALLED", Severity.CRITICAL, "RB-003", "No broker update within the configured time."),
        AlertType("HALT_ON", Severity.CRITICAL, "RB-004", "Emergency halt: capital actions are blocked."),
        AlertType(
            "ACCOUNT_MISMATCH",
            Severity.CRITICAL,
            "RB-007",
            "The gateway's mode, account or port does not match the configured mode; nothing was sent.",
        ),
        AlertType("LIVE_REFUSED", Severity.CRITICAL, "RB-007", "LIVE mode was asked for without IBKR_ALLOW_LIVE=true."),
        AlertType(
            "APPROVALS_LOCKED",
            Severity.CRITICAL,
            "RB-004",
            "Too many wrong approval codes: every approval is locked until a person unlocks it.",
        ),
        AlertType("PACING_VIOLATION", Severity.WARNING, "RB-008", "IB refused a request for pacing; seam slowed down."),
    )
}


@dataclass(frozen=True)
class Alert:
    type: str
    message: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> AlertType:
        return ALERT_TYPES[self.type]


class AlertSink:
    def __init__(self, store: Store, alerts_dir: Path, clock: Clock) -> None:
        self.store = store
        self.alerts_dir = alerts_dir
        self.clock = clock
        self.raised: list[Alert] = []

    def raise_alert(self, alert: Alert) -> int:
        """Record and publish one alert; returns its bead number."""
        spec = alert.spec
        bead = self.store.append(
            "ALERT",
            {
                "alert": alert.type,
                "severity": str(spec.severity),
                "runbook": spec.runbook,
                "message": alert.message,
                "facts": alert.facts,
            },
        )
        self.raised.append(alert)
        log = logger.critical if spec.severity is Severity.CRITICAL else logger.warning
        log("ALERT %s [%s] %s — runbook %s", alert.type, spec.severity, alert.message, spec.runbook)
        self.alerts_dir.mkdir(parents=True, exist_ok=True)
        stamp = self.clock.now().strftime("%Y%m%dT%H%M%S")
        lines = [
            f"# {spec.severity}: {alert.type}",
            "",
            alert.message,
            "",
            f"Runbook: **{spec.runbook}**",
            "",
            "| fact | value |",
            "|---|---|",
        ]
        lines += [f"| {key} | {value} |" for key, value in sorted(alert.facts.items())]
        lines += ["", f"> Facts as of {self.clock.now().isoformat(timespec='seconds')} · sources: bead {bead.seq}", ""]
        write_atomic(self.alerts_dir / f"{stamp}-{bead.seq:06d}-{alert.type}.md", "\n".join(lines).encode())
        return bead.seq
