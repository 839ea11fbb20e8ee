"""Alert storms, delivered to the fake Bot API over HTTP: 50 alerts in a minute give at most 10 messages, a 17-alert
cascade gives one MULTI_DEGRADED message, and a CRITICAL raised while the throttle is full arrives at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mocks.fake_telegram import FakeTelegram
from seam.clock import FakeClock
from seam.monitor.alerts import ALERT_TYPES, Alert, AlertSink, Severity
from seam.store import Store
from tests.telegram.conftest import CHAT, make_service

NON_CRITICAL = sorted(
    t.name for t in ALERT_TYPES.values() if t.severity is not Severity.CRITICAL and t.name != "MULTI_DEGRADED"
)


def _sink(store: Store, fake: FakeTelegram, clock: FakeClock, tmp_path: Path, **limits: float) -> AlertSink:
    sink = AlertSink(store, tmp_path / "alerts", clock, **limits)  # type: ignore[arg-type]
    sink.add_sink(make_service(store, fake, clock).alert_sink)
    return sink


def _deliver(store: Store, fake: FakeTelegram, clock: FakeClock) -> int:
    return asyncio.run(make_service(store, fake, clock).deliver_queued())


def test_fifty_alerts_in_a_minute_reach_telegram_as_at_most_ten_messages(
    store: Store, fake: FakeTelegram, clock: FakeClock, tmp_path: Path
) -> None:
    # a window shorter than the time between flushes: without the throttle each alert would go out alone
    sink = _sink(store, fake, clock, tmp_path, bundle_minutes=0.001)
    for n in range(50):
        sink.raise_alert(Alert(NON_CRITICAL[n % len(NON_CRITICAL)], f"storm {n}"))
        sink.flush()
        clock.advance(1.1)
    _deliver(store, fake, clock)
    assert len(fake.texts(CHAT)) == 10  # and not fewer: the throttle is what held the other 40
    assert len(store.beads(type_="ALERT")) >= 50  # every alert is in the audit


def test_a_cascade_of_17_alerts_reaches_telegram_as_one_multi_degraded(
    store: Store, fake: FakeTelegram, clock: FakeClock, tmp_path: Path
) -> None:
    sink = _sink(store, fake, clock, tmp_path)
    for n in range(17):
        sink.raise_alert(Alert(NON_CRITICAL[n % len(NON_CRITICAL)], f"cascade {n}"))
    sink.flush()
    _deliver(store, fake, clock)
    (text,) = fake.texts(CHAT)
    assert text.startswith("DEGRADED: MULTI_DEGRADED (17 alerts")


def test_a_critical_alert_in_the_storm_reaches_telegram_at_once(
    store: Store, fake: FakeTelegram, clock: FakeClock, tmp_path: Path
) -> None:
    sink = _sink(store, fake, clock, tmp_path, bundle_minutes=0.001)
    for n in range(30):
        sink.raise_alert(Alert(NON_CRITICAL[n % len(NON_CRITICAL)], f"storm {n}"))
        sink.flush()
        clock.advance(0.5)
    _deliver(store, fake, clock)
    assert len(fake.texts(CHAT)) == 10  # the throttle is full
    sink.raise_alert(Alert("RECONCILIATION_DRIFT", "drift in the storm"))  # no flush: CRITICAL skips the bundler
    _deliver(store, fake, clock)
    texts = fake.texts(CHAT)
    assert len(texts) == 11 and texts[-1].startswith("CRITICAL: RECONCILIATION_DRIFT")
