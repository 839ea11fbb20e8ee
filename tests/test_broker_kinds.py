"""The broker kinds through the daemon in MOCK mode (the default): facts in tables, risk reduced, drift halts."""

from __future__ import annotations

import asyncio

from seam.broker.types import OrderRequest, OrderType, Side
from tests.conftest import DaemonThread, drop, intent_text, wait_response


def _fake(daemon: DaemonThread):  # type: ignore[no-untyped-def]
    return daemon.daemon.broker_service.broker


def _on_loop(daemon: DaemonThread, coro):  # type: ignore[no-untyped-def]
    loop = daemon._loop
    assert loop is not None
    return asyncio.run_coroutine_threadsafe(coro, loop).result(5)


def test_account_and_positions_are_answered_with_tables_in_mock_mode(running, seam_paths):
    drop(seam_paths, "a.yaml", intent_text("acct", "account"))
    drop(seam_paths, "p.yaml", intent_text("pos", "positions"))
    account = wait_response(seam_paths, "acct")
    positions = wait_response(seam_paths, "pos")
    assert account["status"] == "ok" and "| net liquidation | 100,000.00 |" in account["body"]
    assert positions["status"] == "ok" and "No open positions." in positions["body"]
    assert "No working orders." in positions["body"]


def test_cancel_cancels_a_working_order_and_says_which(running, seam_paths):
    order = _on_loop(
        running,
        _fake(running).place_order(
            OrderRequest("resting-1", "EURUSD", Side.BUY, 5_000, OrderType.LIMIT, limit_price=1.0500)
        ),
    )
    drop(seam_paths, "c.yaml", intent_text("cancel-it", "cancel", f"{{order_id: '{order.order_id}'}}"))
    front = wait_response(seam_paths, "cancel-it")
    assert front["status"] == "ok", front["body"]
    assert f"# Order {order.order_id} cancelled" in front["body"]
    assert _on_loop(running, _fake(running).open_orders()) == []


def test_cancelling_an_unknown_order_fails_and_says_why(running, seam_paths):
    drop(seam_paths, "c.yaml", intent_text("cancel-nothing", "cancel", "{order_id: '999'}"))
    front = wait_response(seam_paths, "cancel-nothing")
    assert front["status"] == "failed"
    assert "no order 999 at the broker" in front["body"].lower()


def test_reconcile_with_an_untracked_position_reports_drift_and_halts(running, seam_paths):
    _fake(running).inject_position("USDJPY", -30_000, 151.0)
    drop(seam_paths, "r.yaml", intent_text("rec", "reconcile"))
    front = wait_response(seam_paths, "rec")
    assert front["status"] == "ok"
    assert "DRIFT" in front["body"] and "| position | USDJPY | +0 | -30000 |" in front["body"]
    drop(seam_paths, "s.yaml", intent_text("after", "status"))
    assert "| halt flag | ON since" in wait_response(seam_paths, "after")["body"]


def test_halt_cancels_working_orders_at_the_broker(running, seam_paths):
    _on_loop(
        running,
        _fake(running).place_order(
            OrderRequest("resting-2", "EURUSD", Side.SELL, 5_000, OrderType.LIMIT, limit_price=1.2000)
        ),
    )
    drop(seam_paths, "h.yaml", intent_text("halt-cancels", "halt", "{reason: drill}"))
    front = wait_response(seam_paths, "halt-cancels")
    assert front["status"] == "ok"
    assert _on_loop(running, _fake(running).open_orders()) == []
    assert "| working orders cancelled | 1 |" in front["body"]
