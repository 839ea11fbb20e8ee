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


def test_a_mock_restart_retires_the_positions_the_old_mock_book_held_and_says_why(tmp_path: Path) -> None:
    # found by a new user: restarting MOCK with a position open gave drift and a halt with no word of why, at
    # every start; a MOCK book lives in its daemon's memory, so its positions ended with that daemon
    first = Desk(tmp_path / "desk")
    try:
        code = first.propose("m-1")
        assert first.decide("m-1", code).status == "ok"
        assert first.runtime.broker.lifecycle.get("m-1").state is PositionState.MANAGED  # type: ignore[union-attr]
        first.propose("m-2")  # a pending proposal: nothing at any broker yet, it stays pending
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
        reconciliations = [b.payload for b in runtime.store.beads(type_="RECONCILIATION")]
        assert runtime.broker is not None
        retired = runtime.broker.lifecycle.get("m-1")
        pending = runtime.broker.lifecycle.get("m-2")
        halt = runtime.store.flags.halt()
        moves = [b.payload for b in runtime.store.beads(type_="POSITION", intent_id="m-1")]
    finally:
        runtime.close()
    assert retired.state is PositionState.CLOSED and retired.facts.get("retired") is True
    assert "MOCK broker ended with the daemon that held it" in moves[-1]["reason"]
    assert pending.state is PositionState.PROPOSED
    assert [r["drift"] for r in reconciliations if r["trigger"] == "connect"] == [False, False]  # each start
    assert halt is None  # nothing to halt for: no broker holds anything seam does not know


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
