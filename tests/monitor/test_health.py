"""Health from outside the daemon: MISSED after 3 intervals (plus jitter and a 10 s delivery tolerance), no false
alert for beats delivered 10 s late or early, `seam heartbeat-check` alerting once per outage with exit 1,
`seam health` and `status` showing the state, and `seam resume` showing what caused a halt."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from seam.cli import main
from seam.handlers.base import HandlerContext
from seam.handlers.system import status_facts
from seam.monitor.health import halt_cause, heartbeat_check, read_health
from tests.monitor.harness import MonitorHarness


@pytest.fixture
def h(tmp_path: Path) -> Iterator[MonitorHarness]:
    harness = MonitorHarness(tmp_path / "seam")
    asyncio.run(harness.runtime.start(timers=False))
    asyncio.run(harness.heartbeat.beat())
    yield harness
    harness.close()


def test_no_beat_for_three_intervals_is_missed_and_not_a_second_sooner(h):
    h.clock.advance(3 * 30 + 5 + 10)  # three intervals, the jitter, the delivery tolerance
    assert read_health(h.store, h.clock).state == "HEALTHY"
    h.clock.advance(1)
    health = read_health(h.store, h.clock)
    assert health.state == "MISSED" and "no beat for 106 s" in health.detail


def test_beats_delivered_10_seconds_late_or_early_never_read_as_missed(h):
    async def beats(late: float) -> None:
        h.late = late
        for _ in range(10):
            await h.sleep(h.heartbeat.next_delay())
            # just before the beat: the longest gap a reader can see
            assert read_health(h.store, h.clock).state != "MISSED"
            assert heartbeat_check(h.store, h.clock, h.runtime.alerts) == (read_health(h.store, h.clock), False)
            await h.heartbeat.beat()

    asyncio.run(beats(10.0))
    asyncio.run(beats(-10.0))
    assert not [b for b in h.store.beads(type_="ALERT") if b.payload["alert"] == "HEARTBEAT_MISSED"]


def test_heartbeat_check_alerts_once_per_outage_and_again_after_the_beats_return(h):
    h.clock.advance(200)
    health, alerted = heartbeat_check(h.store, h.clock, h.runtime.alerts)
    assert health.state == "MISSED" and alerted
    for _ in range(5):  # cron every minute: no second alert for the same outage
        h.clock.advance(60)
        assert heartbeat_check(h.store, h.clock, h.runtime.alerts)[1] is False
    alerts = [b for b in h.store.beads(type_="ALERT") if b.payload["alert"] == "HEARTBEAT_MISSED"]
    assert len(alerts) == 1 and alerts[0].payload["severity"] == "CRITICAL"
    assert list((h.paths.responses / "alerts").glob("*HEARTBEAT_MISSED.md"))
    asyncio.run(h.heartbeat.beat())  # the daemon is back
    assert heartbeat_check(h.store, h.clock, h.runtime.alerts) == (read_health(h.store, h.clock), False)
    h.clock.advance(200)  # and gone again: a new outage, a new alert
    assert heartbeat_check(h.store, h.clock, h.runtime.alerts)[1] is True


def test_a_daemon_that_stopped_on_purpose_is_not_missed(h):
    asyncio.run(h.heartbeat.stopped())
    h.clock.advance(3600)
    assert read_health(h.store, h.clock).state == "STOPPED"
    assert heartbeat_check(h.store, h.clock, h.runtime.alerts)[1] is False


def test_the_seam_heartbeat_check_command_exits_1_when_missed(h, monkeypatch, capsys):
    # the command reads the market clock; SEAM_CLOCK_START puts it an hour after the last beat
    last = h.store.beads(type_="HEARTBEAT")[-1].at
    from datetime import datetime, timedelta

    later = datetime.fromisoformat(last) + timedelta(hours=1)
    monkeypatch.setenv("SEAM_CLOCK_START", later.isoformat())
    h.runtime.close()
    assert main(["heartbeat-check", "--seam", str(h.paths.root)]) == 1
    assert "MISSED" in capsys.readouterr().out
    assert main(["heartbeat-check", "--seam", str(h.paths.root)]) == 1
    assert "already alerted for this outage" in capsys.readouterr().out
    h.runtime = MonitorHarness(h.paths.root, clock=h.clock).runtime


def test_seam_health_prints_the_state_and_every_check(h, monkeypatch, capsys):
    monkeypatch.setenv("SEAM_CLOCK_START", h.store.beads(type_="HEARTBEAT")[-1].at)
    assert main(["health", "--seam", str(h.paths.root)]) == 0
    text = capsys.readouterr().out
    assert "HEALTHY" in text
    for check in ("process", "broker_link", "order_status", "fills", "market_data", "reconciliation", "stalled"):
        assert check in text


def test_seam_health_on_a_seam_without_beats_says_so(tmp_path, capsys):
    from tests.conftest import make_seam

    paths = make_seam(tmp_path / "quiet")
    assert main(["health", "--seam", str(paths.root)]) == 0
    assert "no heartbeat yet" in capsys.readouterr().out


def test_the_status_facts_include_the_heartbeat(h):
    ctx = HandlerContext(h.runtime.settings, h.paths, h.store, h.clock)
    facts = status_facts(ctx)
    last = h.store.beads(type_="HEARTBEAT")[-1].seq
    assert facts["heartbeat"] == f"HEALTHY (last beat: bead {last}; each check: `seam health`)"
    h.clock.advance(500)
    assert status_facts(ctx)["heartbeat"].startswith("MISSED")


def test_resume_shows_the_drift_that_set_the_halt(h):
    from seam.broker.types import Position

    async def drift() -> None:
        h.broker.inject_position("GBPUSD", 20_000, 1.26)
        await h.service.reconcile(trigger="test")
        assert isinstance(Position, type)

    asyncio.run(drift())
    halt = h.store.flags.halt()
    assert halt is not None
    lines = halt_cause(h.store, halt)
    assert "reconciliation drift" in lines[0] and any("GBPUSD" in line for line in lines[1:]), lines


def test_the_heartbeat_check_delivers_its_missed_alert_to_telegram_itself(h, monkeypatch, capsys):
    # the daemon that delivers Telegram's queue is the one that died: the check sends the alert on its own
    from datetime import datetime, timedelta

    from mocks.fake_telegram import FakeTelegram

    last = h.store.beads(type_="HEARTBEAT")[-1].at
    monkeypatch.setenv("SEAM_CLOCK_START", (datetime.fromisoformat(last) + timedelta(hours=1)).isoformat())
    h.runtime.close()
    with FakeTelegram() as fake:
        monkeypatch.setenv("SEAM_TELEGRAM__ENABLED", "true")
        monkeypatch.setenv("SEAM_TELEGRAM__BASE_URL", fake.base_url)
        monkeypatch.setenv("SEAM_TELEGRAM_TOKEN", fake.token)
        monkeypatch.setenv("SEAM_TELEGRAM_CHAT_ID", "1001")
        assert main(["heartbeat-check", "--seam", str(h.paths.root)]) == 1
        assert "1 queued message(s) delivered" in capsys.readouterr().out
        (text,) = fake.texts(1001)
        assert text.startswith("CRITICAL: HEARTBEAT_MISSED")
    h.runtime = MonitorHarness(h.paths.root, clock=h.clock).runtime
