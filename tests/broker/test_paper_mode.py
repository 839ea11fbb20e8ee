"""`seam watch` in PAPER mode against the fake IB Gateway over real TCP, with the real IB client library.

PAPER mode insists on port 4002, so each test binds its gateway to a loopback address of its own
(127.x.y.z:4002) and parallel tests never collide.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.conftest import DaemonProcess, drop, intent_text, make_seam, wait_for, wait_response
from tests.gateway import GatewayThread
from tests.gateway import loopback as _loopback


@pytest.fixture
def paper_gateway() -> Iterator[GatewayThread]:
    with GatewayThread(_loopback(), 4002, "DU123456") as gateway:
        yield gateway


def test_watch_in_paper_mode_answers_account_and_positions_from_the_gateway(tmp_path, paper_gateway):
    paths = make_seam(tmp_path / "paper")
    paper_gateway.call(paper_gateway.gateway.inject_position, "DU123456", "GBPUSD", 20_000, 1.2600)
    env = {
        "SEAM_BROKER__MODE": "paper",
        "SEAM_BROKER__HOST": paper_gateway.gateway.host,
        "SEAM_BROKER__RECONCILE_MINUTES": "600",
    }
    daemon = DaemonProcess(paths, env=env)
    try:
        drop(paths, "a.yaml", intent_text("paper-account", "account"))
        drop(paths, "p.yaml", intent_text("paper-positions", "positions"))
        account = wait_response(paths, "paper-account", timeout=15)
        positions = wait_response(paths, "paper-positions", timeout=15)
    finally:
        daemon.stop()
    assert account["status"] == "ok", account["body"]
    assert "DU1***56" in account["body"] and "DU123456" not in account["body"]
    assert "net liquidation" in account["body"] and "PAPER" in account["body"]
    assert positions["status"] == "ok", positions["body"]
    assert "| GBPUSD | +20,000 |" in positions["body"]
    assert "connect" in daemon.output().lower() or "watching" in daemon.output()


def test_a_paper_daemon_refuses_a_gateway_logged_in_to_a_live_account(tmp_path):
    with GatewayThread(_loopback(), 4002, "U7654321") as gateway:
        paths = make_seam(tmp_path / "wrong")
        env = {
            "SEAM_BROKER__MODE": "paper",
            "SEAM_BROKER__HOST": gateway.gateway.host,
            "SEAM_BROKER__BACKOFF_SECONDS": "[60]",
        }
        daemon = DaemonProcess(paths, env=env)
        try:
            drop(paths, "a.yaml", intent_text("wrong-account", "account"))
            front = wait_response(paths, "wrong-account", timeout=15)
            alerts = wait_for(
                lambda: list((paths.responses / "alerts").glob("*ACCOUNT_MISMATCH.md")),
                10,
                what="the CRITICAL alert file",
            )
        finally:
            daemon.stop()
    assert front["status"] == "failed"
    assert "a paper account (DU...)" in front["body"]
    assert "CRITICAL" in alerts[0].read_text()
    assert gateway.gateway.orders_received == []


def test_through_the_gateway_an_order_lost_in_flight_is_found_by_reference_not_sent_again(tmp_path, paper_gateway):
    from seam.broker.types import OrderRequest, OrderType, Side
    from seam.config import LoadedConfig, Secrets, Settings
    from seam.errors import BrokerUnavailable
    from seam.runtime import Runtime

    paths = make_seam(tmp_path / "dup")
    host = paper_gateway.gateway.host
    settings = Settings.model_validate(
        {
            "broker": {
                "mode": "paper",
                "host": host,
                "client_id": 7,
                "connect_timeout_seconds": 3,
                "reconcile_minutes": 600,
            }
        }
    )
    request = OrderRequest("prop-77", "EURUSD", Side.BUY, 10_000, OrderType.LIMIT, limit_price=1.0000)
    holder: list[Runtime] = []

    async def scenario() -> None:
        # built on the loop that runs it: the IB client library binds to the loop that creates it
        runtime = Runtime.open(paths, LoadedConfig(settings, Secrets()), approval=False)
        holder.append(runtime)
        service = runtime.broker
        assert service is not None

        async def approve_everything(request: object, approval: object) -> None:
            """This test is about the reference, not the code."""

        service.approval_hook = approve_everything
        await service.start(timers=False)
        service.lifecycle.open("prop-77", "EURUSD", "BUY", 10_000)
        paper_gateway.call(paper_gateway.gateway.drop_after_next_order)
        try:
            await service.submit(request)
        except BrokerUnavailable:
            pass
        else:
            raise AssertionError("the dropped connection was not reported")
        assert await service.supervisor.manual_reconnect()
        orders = await service.submit(request)
        assert [o.ref for o in orders] == ["prop-77"]
        await service.stop()

    try:
        asyncio.run(asyncio.wait_for(scenario(), 20))
        refs = paper_gateway.call(paper_gateway.gateway.order_refs)
        assert refs.count("prop-77") == 1, refs
        events = [b.payload["event"] for b in holder[0].store.beads(type_="ORDER")]
        assert events == ["unclear", "found_existing"]
    finally:
        for runtime in holder:
            runtime.close()
