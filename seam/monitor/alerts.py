"""Alerts: the one taxonomy (type → severity, runbook), the bundler and throttle, and the sinks a delivery reaches.

    raise_alert(alert)      an ALERT bead, always, at once (the audit sees every alert)
      ├── CRITICAL          delivered at once: no bundling, no throttle
      └── otherwise         held; `flush()` (every few seconds in the daemon, and at its stop) delivers:
                              one type new in the window   → that alert, with its count
                              several types new at once    → one MULTI_DEGRADED
                              a type already delivered     → counted, told when the window closes
                              more than `max_per_minute`   → waits for the next flush
    a delivery              a markdown file in responses/alerts/, a log line, every registered sink

A sink is a callable `(title, markdown, severity) -> None` (Telegram registers one). A failing sink is
logged and skipped: one sink never keeps a delivery from the others.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from seam.clock import Clock
from seam.paths import write_atomic
from seam.store import Store

__all__ = [
    "ALERT_TYPES",
    "Alert",
    "AlertSink",
    "AlertType",
    "Delivery",
    "Severity",
    "SinkFn",
]

logger = logging.getLogger(__name__)

SinkFn = Callable[[str, str, str], None]
MULTI = "MULTI_DEGRADED"
KEPT = 1000  # alerts and deliveries kept in memory


class Severity(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    DEGRADED = "DEGRADED"
    CRITICAL = "CRITICAL"


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.DEGRADED: 2, Severity.CRITICAL: 3}


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
        AlertType("KILL_FLAG", Severity.CRITICAL, "RB-005", "The kill flag is on: the daemon refuses capital actions."),
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
        AlertType("HEARTBEAT_MISSED", Severity.CRITICAL, "RB-001", "The daemon's heartbeat stopped."),
        AlertType("GATEWAY_RESTART", Severity.DEGRADED, "RB-007", "The gateway restarted (auto-update or restart)."),
        AlertType("PACING_VIOLATION", Severity.WARNING, "RB-008", "IB refused a request for pacing; seam slowed down."),
        AlertType("ORDER_STATUS_STALE", Severity.DEGRADED, "RB-001", "Orders are working and no order status arrived."),
        AlertType("FILLS_STALE", Severity.WARNING, "RB-003", "Positions are open and no fill arrived."),
        AlertType("MARKET_DATA_STALE", Severity.DEGRADED, "RB-001", "No quote arrived within the configured time."),
        AlertType("RECONCILIATION_OLD", Severity.DEGRADED, "RB-002", "The last reconciliation is older than allowed."),
        AlertType("TELEGRAM_DOWN", Severity.WARNING, "RB-006", "Telegram does not answer; messages are queued."),
        AlertType(
            "CONFIG_REFUSED",
            Severity.WARNING,
            "",
            "seam.yaml changed keys that take effect only at the next start; the settings in force stay.",
        ),
        AlertType("CONFIG_INVALID", Severity.WARNING, "", "seam.yaml does not load; the settings in force stay."),
        AlertType(MULTI, Severity.DEGRADED, "", "Several degradations at once; each names its runbook."),
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


@dataclass(frozen=True)
class Delivery:
    """One message that reached the sinks: one alert type (with its count) or a MULTI_DEGRADED bundle."""

    type: str
    severity: Severity
    title: str
    markdown: str
    counts: dict[str, int]
    bead: int


@dataclass
class _Window:
    opened: datetime
    delivered: Counter[str] = field(default_factory=Counter)  # types delivered in this window, and how often raised
    repeats: Counter[str] = field(default_factory=Counter)  # raised again after their delivery: told at the close


class AlertSink:
    """Every alert of one process: recorded at once, delivered bundled and throttled (CRITICAL at once)."""

    def __init__(
        self,
        store: Store,
        alerts_dir: Path,
        clock: Clock,
        *,
        bundle_minutes: float = 30.0,
        max_per_minute: int = 10,
    ) -> None:
        self.store = store
        self.alerts_dir = alerts_dir
        self.clock = clock
        self.bundle = timedelta(minutes=bundle_minutes)
        self.max_per_minute = max_per_minute
        # the latest, for tests and the demo; the beads hold them all
        self.raised: deque[Alert] = deque(maxlen=KEPT)
        self.delivered: deque[Delivery] = deque(maxlen=KEPT)
        self.sinks: list[SinkFn] = []
        self._pending: list[tuple[Alert, int]] = []
        self._window: _Window | None = None
        self._repeats_due: Counter[str] = Counter()  # repeats of closed windows, told when the throttle has room
        self._sent: deque[datetime] = deque()  # times of the non-CRITICAL deliveries of the last minute
        self._lock = threading.Lock()  # raised from the lanes' threads, flushed from the loop's

    def add_sink(self, sink: SinkFn) -> None:
        """Register one more place deliveries go (Telegram's queue)."""
        self.sinks.append(sink)

    # -- raising ------------------------------------------------------------------------------------

    def raise_alert(self, alert: Alert) -> int:
        """Record one alert (an ALERT bead) and deliver it now if CRITICAL, else hold it for `flush`.
        Returns its bead number."""
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
        with self._lock:
            self.raised.append(alert)
            if spec.severity is not Severity.CRITICAL:
                self._pending.append((alert, bead.seq))
                return bead.seq
        # INV: a CRITICAL alert bypasses bundling and the throttle: it is delivered as it is raised
        self._deliver(alert.type, spec.severity, {alert.type: 1}, [alert], bead.seq)
        return bead.seq

    # -- bundling -----------------------------------------------------------------------------------

    def flush(self) -> list[Delivery]:
        """Deliver what is held, bundled by type within the window and under the per-minute throttle."""
        now = self.clock.now()
        plans: list[tuple[str, dict[str, int], list[Alert], int]] = []
        with self._lock:
            if self._window is not None and now - self._window.opened >= self.bundle:
                closing, self._window = self._window, None
                self._repeats_due.update(closing.repeats)
            while self._sent and now - self._sent[0] >= timedelta(minutes=1):
                self._sent.popleft()
            room = self.max_per_minute - len(self._sent)
            if room > 0 and self._repeats_due:
                plans.append(("repeats", dict(self._repeats_due), [], 0))
                self._repeats_due.clear()
                room -= 1
            if self._pending and room <= 0:
                logger.warning(
                    "alerts: %d held back by the throttle (%d a minute)", len(self._pending), self.max_per_minute
                )
            elif self._pending:
                plan = self._plan_pending(now)
                if plan[1]:  # only repeats of delivered types: counted, nothing new to send
                    plans.append(plan)
            # INV: at most max_per_minute non-CRITICAL deliveries in any minute
            self._sent.extend(now for _ in plans)
        deliveries = []
        for kind, counts, alerts, bead in plans:
            if kind == "repeats":
                deliveries.append(self._deliver_repeats(counts))
            else:
                deliveries.append(self._deliver_new(counts, alerts, bead))
        return [d for d in deliveries if d is not None]

    def _plan_pending(self, now: datetime) -> tuple[str, dict[str, int], list[Alert], int]:
        if self._window is None:
            self._window = _Window(now)
        window = self._window
        new: dict[str, int] = {}
        firsts: list[Alert] = []
        bead = 0
        for alert, seq in self._pending:
            if alert.type in window.delivered:
                window.repeats[alert.type] += 1
                window.delivered[alert.type] += 1
                continue
            if alert.type not in new:
                firsts.append(alert)
                bead = bead or seq
            new[alert.type] = new.get(alert.type, 0) + 1
        for type_, count in new.items():
            window.delivered[type_] += count
        self._pending.clear()
        return ("new", new, firsts, bead)

    def _deliver_new(self, counts: dict[str, int], firsts: list[Alert], bead: int) -> Delivery | None:
        if len(counts) == 1:
            alert = firsts[0]
            return self._deliver(alert.type, alert.spec.severity, counts, firsts, bead)
        severity = max((ALERT_TYPES[t].severity for t in counts), key=_RANK.__getitem__)
        multi = self.store.append(
            "ALERT",
            {
                "alert": MULTI,
                "severity": str(severity),
                "runbook": "",
                "message": f"{sum(counts.values())} alerts of {len(counts)} types at once",
                "facts": {"counts": counts},
            },
        )
        return self._deliver(MULTI, severity, counts, firsts, multi.seq)

    def _deliver_repeats(self, counts: dict[str, int]) -> Delivery | None:
        severity = max((ALERT_TYPES[t].severity for t in counts), key=_RANK.__getitem__)
        type_ = next(iter(counts)) if len(counts) == 1 else MULTI
        return self._deliver(type_, severity, counts, [], self.store.last_seq(), repeats=True)

    # -- delivery -----------------------------------------------------------------------------------

    def _deliver(
        self,
        type_: str,
        severity: Severity,
        counts: dict[str, int],
        alerts: list[Alert],
        bead: int,
        *,
        repeats: bool = False,
    ) -> Delivery:
        now = self.clock.now()
        total = sum(counts.values())
        if repeats:
            title = f"{severity}: {type_} raised again {total} time(s) in the last window"
        elif type_ == MULTI:
            title = f"{severity}: {MULTI} ({total} alerts, {len(counts)} types)"
        else:
            title = f"{severity}: {type_}" + (f" (×{total})" if total > 1 else "")
        markdown = _render(title, type_, severity, counts, alerts, now, bead, self.bundle, repeats)
        delivery = Delivery(type_, severity, title, markdown, dict(counts), bead)
        self.delivered.append(delivery)
        self._to_every_sink(delivery, now)
        return delivery

    def _to_every_sink(self, delivery: Delivery, now: datetime) -> None:
        def to_file(title: str, markdown: str, severity: str) -> None:
            self.alerts_dir.mkdir(parents=True, exist_ok=True)
            stamp = now.strftime("%Y%m%dT%H%M%S")
            write_atomic(self.alerts_dir / f"{stamp}-{delivery.bead:06d}-{delivery.type}.md", markdown.encode())

        def to_log(title: str, markdown: str, severity: str) -> None:
            log = logger.critical if severity == Severity.CRITICAL else logger.warning
            runbooks = ", ".join(sorted({ALERT_TYPES[t].runbook for t in delivery.counts if ALERT_TYPES[t].runbook}))
            log("ALERT %s — runbook %s", title, runbooks or "none")

        # INV: one failing sink never keeps a delivery from the others
        for sink in (to_file, to_log, *self.sinks):
            try:
                sink(delivery.title, delivery.markdown, str(delivery.severity))
            except Exception:
                logger.exception("alert sink %s failed; the other sinks still got %s", _name(sink), delivery.title)


def _name(sink: SinkFn) -> str:
    return getattr(sink, "__qualname__", None) or type(sink).__name__


def _render(
    title: str,
    type_: str,
    severity: Severity,
    counts: dict[str, int],
    alerts: list[Alert],
    now: datetime,
    bead: int,
    window: timedelta,
    repeats: bool,
) -> str:
    from seam.respond import render_template

    rows = [
        {
            "type": t,
            "count": n,
            "severity": str(ALERT_TYPES[t].severity),
            "runbook": ALERT_TYPES[t].runbook or "none",
            "summary": ALERT_TYPES[t].summary,
        }
        for t, n in counts.items()
    ]
    return render_template(
        "alert",
        {
            "title": title,
            "type": type_,
            "severity": str(severity),
            "repeats": repeats,
            "window_minutes": int(window.total_seconds() // 60),
            "types": rows,
            "alerts": [{"type": a.type, "message": a.message, "facts": sorted(a.facts.items())} for a in alerts],
            "generated_at": now.isoformat(timespec="seconds"),
            "sources": [f"bead {bead}"] if bead else [],
        },
    )
