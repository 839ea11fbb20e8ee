"""Alerts: one taxonomy, every alert recorded, deliveries bundled by type, a cascade as one MULTI_DEGRADED,
at most 10 a minute, CRITICAL at once, and a failing sink that never keeps a delivery from the others."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from seam.clock import FakeClock
from seam.config import LoadedConfig, Secrets, Settings
from seam.monitor.alerts import ALERT_TYPES, Alert, AlertSink, Severity
from seam.runtime import Runtime
from tests.conftest import make_seam

SEAM = Path(__file__).resolve().parents[2] / "seam"
NON_CRITICAL = sorted(
    t.name for t in ALERT_TYPES.values() if t.severity is not Severity.CRITICAL and t.name != "MULTI_DEGRADED"
)


class Desk:
    def __init__(self, root: Path, **limits: float) -> None:
        self.paths = make_seam(root)
        self.clock = FakeClock()
        self.runtime = Runtime.console(self.paths, LoadedConfig(Settings(), Secrets(), {}), clock=self.clock)
        self.store = self.runtime.store
        self.sink = AlertSink(self.store, self.paths.responses / "alerts", self.clock, **limits)  # type: ignore[arg-type]
        self.seen: list[tuple[str, str]] = []
        self.sink.add_sink(lambda title, markdown, severity: self.seen.append((title, severity)))

    def files(self) -> list[Path]:
        return sorted((self.paths.responses / "alerts").glob("*.md"))


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = Desk(tmp_path / "seam")
    yield d
    d.runtime.close()


def test_every_alert_type_raised_in_the_code_is_in_the_taxonomy():
    raised = set()
    for path in SEAM.rglob("*.py"):
        raised |= set(re.findall(r'Alert\(\s*"([A-Z_]+)"', path.read_text()))
    assert raised, "no alert found in the code"
    assert raised <= set(ALERT_TYPES), raised - set(ALERT_TYPES)


def test_a_critical_alert_is_delivered_as_it_is_raised(desk):
    desk.sink.raise_alert(Alert("HALT_ON", "drill", {"halt bead": 3}))
    assert len(desk.files()) == 1 and desk.files()[0].name.endswith("HALT_ON.md")
    text = desk.files()[0].read_text()
    assert "CRITICAL: HALT_ON" in text and "RB-004" in text and "| halt bead | 3 |" in text
    assert "Facts as of" in text
    assert desk.seen == [("CRITICAL: HALT_ON", "CRITICAL")]


def test_a_non_critical_alert_waits_for_the_flush_and_is_recorded_at_once(desk):
    desk.sink.raise_alert(Alert("CONNECTION_LOST", "dropped", {"port": 4002}))
    assert desk.files() == [] and desk.seen == []
    assert [b.payload["alert"] for b in desk.store.beads(type_="ALERT")] == ["CONNECTION_LOST"]
    (delivery,) = desk.sink.flush()
    assert delivery.type == "CONNECTION_LOST" and desk.files()[0].name.endswith("CONNECTION_LOST.md")
    assert desk.sink.flush() == []


def test_a_17_alert_cascade_is_delivered_as_one_multi_degraded(desk):
    for n in range(17):
        desk.sink.raise_alert(Alert(NON_CRITICAL[n % len(NON_CRITICAL)], f"cascade {n}"))
    deliveries = desk.sink.flush()
    assert [d.type for d in deliveries] == ["MULTI_DEGRADED"]
    assert sum(deliveries[0].counts.values()) == 17
    text = desk.files()[0].read_text()
    assert desk.files()[0].name.endswith("MULTI_DEGRADED.md") and "17 alerts" in text
    for type_ in deliveries[0].counts:
        assert type_ in text
    assert any(b.payload["alert"] == "MULTI_DEGRADED" for b in desk.store.beads(type_="ALERT"))


def test_one_type_raised_again_in_the_window_is_counted_not_delivered_again(desk):
    desk.sink.raise_alert(Alert("CONNECTION_LOST", "first"))
    desk.sink.flush()
    for _ in range(5):
        desk.clock.advance(60)
        desk.sink.raise_alert(Alert("CONNECTION_LOST", "again"))
        assert desk.sink.flush() == []
    desk.clock.advance(30 * 60)
    (summary,) = desk.sink.flush()
    assert summary.counts == {"CONNECTION_LOST": 5} and "raised again 5 time(s)" in summary.title
    assert len(desk.store.beads(type_="ALERT")) == 6  # every alert is in the audit


def test_fifty_alerts_in_a_minute_deliver_at_most_ten_messages(tmp_path):
    # a window shorter than a second between flushes: without the throttle every alert would go out alone
    d = Desk(tmp_path / "seam", bundle_minutes=0.001)
    for n in range(50):
        d.sink.raise_alert(Alert(NON_CRITICAL[n % len(NON_CRITICAL)], f"storm {n}"))
        d.sink.flush()
        d.clock.advance(1.1)
    assert len(d.seen) <= 10 and len(d.files()) <= 10
    assert len(d.seen) == 10  # the throttle, not the lack of alerts, is what stopped them
    d.runtime.close()


def test_fifty_alerts_in_a_minute_with_the_default_window_deliver_at_most_ten(desk):
    for n in range(50):
        desk.sink.raise_alert(Alert(NON_CRITICAL[n % len(NON_CRITICAL)], f"storm {n}"))
        if n % 5 == 0:
            desk.sink.flush()
        desk.clock.advance(1.0)
    desk.sink.flush()
    assert 1 <= len(desk.seen) <= 10


def test_a_critical_alert_during_the_storm_is_delivered_at_once(tmp_path):
    d = Desk(tmp_path / "seam", bundle_minutes=0.001)
    for n in range(30):
        d.sink.raise_alert(Alert(NON_CRITICAL[n % len(NON_CRITICAL)], f"storm {n}"))
        d.sink.flush()
        d.clock.advance(0.5)
    before = len(d.seen)
    assert before == 10  # the throttle is full
    d.sink.raise_alert(Alert("RECONCILIATION_DRIFT", "drift in the storm"))
    assert len(d.seen) == before + 1 and d.seen[-1] == ("CRITICAL: RECONCILIATION_DRIFT", "CRITICAL")
    d.runtime.close()


def test_held_alerts_go_out_once_the_throttle_has_room(tmp_path):
    d = Desk(tmp_path / "seam", bundle_minutes=0.001, max_per_minute=1)
    d.sink.raise_alert(Alert("CONNECTION_LOST", "one"))
    d.sink.flush()
    d.clock.advance(1)
    d.sink.raise_alert(Alert("PACING_VIOLATION", "two"))
    assert d.sink.flush() == []  # throttled: held, not dropped
    d.clock.advance(60)
    assert [x.type for x in d.sink.flush()] == ["PACING_VIOLATION"]
    d.runtime.close()


def test_a_failing_sink_is_logged_and_the_others_still_deliver(desk, caplog):
    def broken(title: str, markdown: str, severity: str) -> None:
        raise ConnectionError("telegram is down")

    desk.sink.sinks.insert(0, broken)
    desk.sink.raise_alert(Alert("POSITION_STALLED", "p-1 stalled"))
    assert desk.files() and desk.seen == [("CRITICAL: POSITION_STALLED", "CRITICAL")]
    assert "alert sink" in caplog.text and "failed" in caplog.text


def test_a_failing_file_sink_does_not_keep_the_alert_from_the_others(desk):
    (desk.paths.responses / "alerts").write_text("a file where the folder goes")
    desk.sink.raise_alert(Alert("HALT_ON", "halt"))
    assert desk.seen == [("CRITICAL: HALT_ON", "CRITICAL")]


def test_the_alert_file_has_no_advisory_or_causal_words(desk):
    desk.sink.raise_alert(Alert("RECONCILIATION_DRIFT", "drift", {"difference 1": "EURUSD +10,000 at the broker"}))
    for n in range(3):
        desk.sink.raise_alert(Alert(NON_CRITICAL[n], "cascade"))
    desk.sink.flush()
    banned = re.compile(r"\b(recommend|should|suggest|likely|predict|best|because|consider|worst|better|top)\b", re.I)
    for path in desk.files():
        assert not banned.search(path.read_text()), path.read_text()
