"""Reconciliation says why positions seam tracks are missing at the broker, per mode (a MOCK restart, a mode change)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from seam.broker.fake import FakeBroker
from seam.broker.lifecycle import PositionRecord, PositionState
from seam.broker.reconcile import explain
from seam.clock import FakeClock
from seam.config import load_config
from seam.runtime import Runtime
from tests.approval.test_codes import Desk


def test_a_mock_restart_with_an_open_position_says_why_it_is_missing(tmp_path: Path) -> None:
    # found by a new user: restarting MOCK with a position open gave drift and a halt with no word of why
    first = Desk(tmp_path / "desk")
    try:
        code = first.propose("m-1")
        assert first.decide("m-1", code).status == "ok"
        assert first.runtime.broker.lifecycle.get("m-1").state is PositionState.MANAGED  # type: ignore[union-attr]
    finally:
        first.close()
    clock = FakeClock()
    clock.advance(60)  # the second daemon starts a minute later, with a fresh (empty) MOCK book
    runtime = Runtime.open(
        first.paths,
        load_config(first.paths, env={}),
        clock=clock,
        broker_client=FakeBroker(clock=clock),
        approval=False,
    )
    try:
        asyncio.run(_start_and_stop(runtime))
        [bead] = [b for b in runtime.store.beads(type_="RECONCILIATION") if b.payload["drift"]]
    finally:
        runtime.close()
    assert bead.payload["trigger"] == "connect"
    [why] = bead.payload["explained"]
    assert "m-1" in why and "earlier MOCK daemon" in why and "memory" in why
    alerts = sorted((first.paths.responses / "alerts").glob("*RECONCILIATION_DRIFT.md"))
    assert alerts and "earlier MOCK daemon" in alerts[-1].read_text()


async def _start_and_stop(runtime: Runtime) -> None:
    await runtime.start(timers=False)
    await runtime.stop()


def _record(mode: str | None, *, updated_minutes_ago: int = 5) -> PositionRecord:
    now = FakeClock().now()
    facts = {"mode": mode} if mode else {}
    return PositionRecord(
        "p-1", "EURUSD", "BUY", 10_000, PositionState.MANAGED, None, now - timedelta(minutes=updated_minutes_ago), facts
    )


def test_a_position_opened_in_another_mode_is_explained_as_such() -> None:
    [why] = explain([_record("mock")], "paper", FakeClock().now())
    assert "opened in MOCK mode" in why and "runs PAPER" in why


def test_a_position_of_this_paper_daemon_needs_no_excuse() -> None:
    assert explain([_record("paper")], "paper", FakeClock().now()) == []


def test_a_mock_position_updated_by_this_daemon_is_not_blamed_on_a_restart() -> None:
    started = FakeClock().now() - timedelta(minutes=10)
    assert explain([_record("mock", updated_minutes_ago=5)], "mock", started) == []
