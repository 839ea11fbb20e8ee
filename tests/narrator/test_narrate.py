"""`narrate` (briefing, health, weekly_review) and `memory` over beads appended to a real store, in process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from seam.clock import FakeClock
from seam.config import load_config
from seam.errors import IntentError
from seam.handlers.base import HandlerContext
from seam.handlers.narrate import handle_memory, handle_narrate
from seam.respond import Outcome, render_body
from seam.runtime import Runtime
from seam.validate import CheckContext, validate_bytes
from tests.conftest import intent_text, make_seam

START = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def ctx(tmp_path):
    paths = make_seam(tmp_path / "seam")
    clock = FakeClock(START)
    runtime = Runtime.console(paths, load_config(paths, env={}), clock=clock)
    yield HandlerContext(runtime.settings, paths, runtime.store, clock)
    runtime.close()


def run(ctx: HandlerContext, kind: str, payload: str) -> tuple[Outcome, str]:
    intent = validate_bytes(
        intent_text(f"{kind}-1", kind, payload).encode(), CheckContext.from_settings(ctx.settings, ctx.clock.now())
    )
    handler = handle_narrate if kind == "narrate" else handle_memory
    outcome = asyncio.run(handler(ctx, intent))
    body = render_body(outcome, {"generated_at": ctx.clock.now().isoformat(), "intent_name": intent.id})
    return outcome, body


def beat(ctx: HandlerContext, state: str = "HEALTHY", checks: dict[str, Any] | None = None) -> int:
    payload = {"state": state, "checks": checks or {}, "interval_s": 30, "daemon": "d1"}
    return ctx.store.append("HEARTBEAT", payload).seq


AUTOPSY = {
    "position": "because-eurusd-1",  # an agent's id holding a guarded word is echoed, not refused
    "pair": "EURUSD",
    "side": "BUY",
    "units": 100_000,
    "entry": 1.085,
    "exit": 1.088,
    "pips": 30.0,
    "r_multiple": 1.0,
    "duration_seconds": 3600,
    "slippage_pips": 0.0,
    "exit_order": "o-9",
    "commission": None,
}


def test_health_says_when_no_heartbeat_was_ever_recorded(ctx):
    outcome, body = run(ctx, "narrate", "{template: health}")
    assert outcome.template == "health"
    assert "Heartbeat: no heartbeat recorded." in body
    assert "| broker link | no daemon is running |" in body


def test_health_shows_the_latest_heartbeat_state_and_its_checks(ctx):
    beat(ctx, "HEALTHY")
    ctx.clock.advance(30)
    last = beat(ctx, "DEGRADED", {"order_status": {"state": "DEGRADED", "detail": "no update for 6 min"}})
    outcome, body = run(ctx, "narrate", "{template: health}")
    assert f"Heartbeat **DEGRADED** at {ctx.clock.now().isoformat(timespec='milliseconds')} (bead {last})" in body
    assert "| order_status | DEGRADED | no update for 6 min |" in body
    assert f"bead {last}" in outcome.context["sources"]


def test_the_briefing_lists_the_last_24_hours_proposals_decisions_trades_alerts_and_halts(ctx):
    old = ctx.store.append("ALERT", {"alert": "OLD_ONE", "severity": "WARNING", "runbook": "RB-001"}).seq
    ctx.clock.advance(25 * 3600)
    ctx.store.append("PROPOSAL", {"proposal": "p-1", "kind": "open", "pair": "EURUSD", "side": "BUY", "units": 100_000})
    ctx.store.append("APPROVAL", {"proposal": "p-1", "event": "approved", "ref": "p-1"})
    trade = ctx.store.append("AUTOPSY", AUTOPSY).seq
    alert = ctx.store.append("ALERT", {"alert": "CONNECTION_LOST", "severity": "WARNING", "runbook": "RB-001"}).seq
    ctx.store.halt_on("because the news is out", by="halt intent h-1")
    outcome, body = run(ctx, "narrate", "{template: briefing}")
    assert "| p-1 | open | EURUSD | BUY | 100,000 |" in body
    assert "| p-1 | approved |" in body
    assert "| because-eurusd-1 | EURUSD | BUY | 100,000 | 1.085 | 1.088 | 30.0 | 300.0 |" in body
    assert "| CONNECTION_LOST | WARNING | RB-001 |" in body and "OLD_ONE" not in body
    assert "| on | halt intent h-1 | because the news is out |" in body
    assert "halt flag | ON since" in body
    assert f"bead {trade}" in outcome.context["sources"] and f"bead {alert}" in outcome.context["sources"]
    assert f"bead {old}" not in outcome.context["sources"]


def test_the_weekly_review_totals_pips_and_usd_counts_the_gates_and_keeps_to_its_range(ctx):
    ctx.store.append("AUTOPSY", {**AUTOPSY, "position": "before-range"})  # 2026-11-18, before `since`
    ctx.clock.advance(2 * 86_400)  # 2026-11-20
    ctx.store.append("PROPOSAL", {"proposal": "p-2", "kind": "open", "pair": "USDJPY", "side": "SELL", "units": 50_000})
    ctx.store.append("APPROVAL", {"proposal": "p-2", "event": "wrong_code", "tries": 1, "locked": False})
    ctx.store.append("APPROVAL", {"proposal": "p-2", "event": "approved", "ref": "p-2"})
    ctx.store.append("ORDER", {"event": "submitted", "ref": "p-2", "orders": ["o-1"], "pair": "USDJPY"})
    ctx.store.append("AUTOPSY", AUTOPSY)
    jpy = {**AUTOPSY, "position": "p-2", "pair": "USDJPY", "side": "SELL", "units": 50_000, "entry": 150.0}
    ctx.store.append("AUTOPSY", {**jpy, "exit": 149.7, "pips": 30.0})
    ctx.store.append("HALT", {"event": "off", "by": "console", "note": "resumed", "was_on": True})
    outcome, body = run(ctx, "narrate", "{template: weekly_review, since: 2026-11-19, until: 2026-11-25}")
    assert outcome.context["window"].startswith("2026-11-19T00:00:00+00:00 to 2026-11-26T00:00:00")
    assert "before-range" not in body
    # 100,000 EURUSD up 0.003 = 300.00 USD; 50,000 USDJPY sold 150.0, bought 149.7 = 15,000 JPY / 149.7
    assert "| p-2 | USDJPY | SELL | 50,000 | 150.0 | 149.7 | 30.0 | 100.2 |" in body
    assert "Total: 2 trade(s), 60.0 pips, 400.2 USD" in body
    assert "| human code accepted (approved) | 1 |" in body
    assert "| wrong codes | 1 |" in body
    assert "| orders submitted | 1 |" in body
    assert "| evidence bundle built (signal or close became a proposal) | 1 |" in body
    assert "| off | console | resumed |" in body


def test_a_range_whose_start_is_after_its_end_is_rejected_naming_the_field(ctx):
    with pytest.raises(IntentError) as refused:
        run(ctx, "narrate", "{template: weekly_review, since: 2026-11-20, until: 2026-11-19}")
    assert refused.value.problems[0].path == "payload.since"


def test_memory_finds_a_heartbeat_gap_over_90_seconds(ctx):
    beat(ctx)
    ctx.clock.advance(30)
    before = beat(ctx)
    ctx.clock.advance(200)  # the daemon was away: no beat for 200 s
    after = beat(ctx)
    ctx.clock.advance(30)
    beat(ctx)
    outcome, body = run(ctx, "memory", "{question: heartbeat_gaps, window: 24h}")
    assert [(g["from_bead"], g["to_bead"], g["seconds"]) for g in outcome.context["gaps"]] == [(before, after, 200.0)]
    assert "4 HEARTBEAT bead(s) · 1 gap(s)" in body
    assert f"| 200.0 | {before} → {after} |" in body
    assert outcome.context["sources"] == [f"bead {before}", f"bead {after}"]


def test_memory_uses_the_threshold_and_the_window_it_is_given(ctx):
    beat(ctx)
    ctx.clock.advance(60)
    beat(ctx)
    ctx.clock.advance(2 * 3600)
    outcome, _ = run(ctx, "memory", "{question: heartbeat_gaps, over_seconds: 45, window: 24h}")
    assert len(outcome.context["gaps"]) == 1
    outcome, _ = run(ctx, "memory", "{question: heartbeat_gaps, over_seconds: 45, window: 1h}")
    assert outcome.context["gaps"] == [] and outcome.context["beats"] == 0


def test_memory_finds_connection_gaps_from_a_disconnect_to_the_next_connect(ctx):
    ctx.store.append("IBKR_SESSION", {"event": "CONNECT", "port": 4002})
    ctx.clock.advance(60)
    down = ctx.store.append("IBKR_SESSION", {"event": "DISCONNECT", "reason": "the gateway closed the connection"}).seq
    ctx.clock.advance(5)
    ctx.store.append("IBKR_SESSION", {"event": "RECONNECT", "attempt": 1, "after_seconds": 5})
    up = ctx.store.append("IBKR_SESSION", {"event": "CONNECT", "port": 4002}).seq
    ctx.clock.advance(100)
    open_gap = ctx.store.append("IBKR_SESSION", {"event": "DISCONNECT", "reason": "lost"}).seq
    ctx.clock.advance(10)
    outcome, body = run(ctx, "memory", "{question: connection_gaps, window: 7d}")
    gaps = [(g["from_bead"], g["to_bead"], g["seconds"]) for g in outcome.context["gaps"]]
    assert gaps == [(down, up, 5.0), (open_gap, None, 10.0)]
    assert "| 10.0 so far | lost |" in body


def test_memory_tells_each_approval_and_its_outcome(ctx):
    ctx.store.append("APPROVAL", {"proposal": "p-1", "event": "wrong_code", "tries": 1, "locked": False})
    ctx.store.append("APPROVAL", {"proposal": "p-1", "event": "approved", "ref": "p-1"})
    sent = ctx.store.append("ORDER", {"event": "submitted", "ref": "p-1", "orders": ["o-1"]}).seq
    ctx.store.append("APPROVAL", {"proposal": "p-2", "event": "rejected", "via": "console"})
    outcome, body = run(ctx, "memory", "{question: approvals, window: 7d}")
    stories = {s["proposal"]: s for s in outcome.context["stories"]}
    assert stories["p-1"]["decision"] == "approved" and stories["p-1"]["orders"] == f"submitted (bead {sent})"
    assert stories["p-2"]["decision"] == "rejected" and stories["p-2"]["orders"] == "none"
    assert "| p-1 | wrong_code (bead 1), approved (bead 2) | approved |" in body


def test_memory_counts_beads_by_type_or_of_one_type(ctx):
    beat(ctx)
    beat(ctx)
    ctx.store.append("ALERT", {"alert": "X"})
    outcome, body = run(ctx, "memory", "{question: beads}")
    assert outcome.context["counts"] == {"ALERT": 1, "HEARTBEAT": 2}
    assert "| HEARTBEAT | 2 |" in body
    outcome, body = run(ctx, "memory", "{question: beads, bead_type: ALERT}")
    assert outcome.context["counts"] == {"ALERT": 1} and "of type ALERT" in body
