"""The RB-004 drill, automated, in MOCK and in PAPER (the fake IB Gateway over real TCP): a working order,
`seam halt --reason`, the order cancelled, capital actions refused, a CRITICAL alert and a HALT bead,
`seam resume` at a terminal showing the cause, and the resolution time recorded in a DRILL bead."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import pytest

from seam.broker.service import BrokerService
from seam.broker.types import LinkState, OrderRequest, OrderType, Side
from seam.cli import main
from seam.cli.runbook import runbook_text
from seam.errors import GuardViolation
from tests.conftest import DaemonThread, make_seam, run_on_a_terminal, wait_for
from tests.gateway import GatewayThread, loopback

T = TypeVar("T")


class Drill:
    def __init__(self, daemon: DaemonThread) -> None:
        self.daemon = daemon
        self.paths = daemon.paths
        runtime = daemon.daemon.runtime
        wait_for(lambda: runtime.owns_broker(), 15, what="the daemon owns the broker")
        assert runtime.broker is not None
        self.service: BrokerService = runtime.broker
        wait_for(lambda: self.service.supervisor.state is LinkState.CONNECTED, 15, what="the broker link")
        self.store = runtime.store

    def on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self.daemon._loop
        assert loop is not None
        return asyncio.run_coroutine_threadsafe(coro, loop).result(15)


@pytest.fixture(params=["mock", "paper"])
def drill(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Drill]:
    with ExitStack() as stack:
        env: dict[str, str] = {}
        if request.param == "paper":
            gateway = stack.enter_context(GatewayThread(loopback(), 4002, "DU123456"))
            env = {"SEAM_BROKER__MODE": "paper", "SEAM_BROKER__HOST": gateway.gateway.host}
        paths = make_seam(tmp_path / "desk", "intake:\n  rescan_seconds: 0.5\n")
        daemon = stack.enter_context(DaemonThread(paths, env=env))
        yield Drill(daemon)


def test_the_rb_004_drill_halts_cancels_blocks_alerts_and_resumes(drill):
    assert "## Drill" in (runbook_text("RB-004") or "")
    far_below = OrderRequest("drill-1", "EURUSD", Side.BUY, 10_000, OrderType.LIMIT, limit_price=0.5)
    drill.on_loop(drill.service.broker.place_order(far_below))
    assert [o.ref for o in drill.on_loop(drill.service.open_orders())] == ["drill-1"]

    # RB-004 immediate action 1: halt
    started = time.monotonic()
    assert main(["halt", "--seam", str(drill.paths.root), "--reason", "RB-004 drill", "--timeout", "20"]) == 0

    # 2: the working order is cancelled
    wait_for(lambda: not drill.on_loop(drill.service.open_orders()), 10, what="the working order cancelled")
    # every capital action is refused while the flag is on
    with pytest.raises(GuardViolation) as refused:
        drill.on_loop(drill.service.submit(OrderRequest("drill-2", "EURUSD", Side.BUY, 10_000)))
    assert refused.value.guard == "halt"
    # a CRITICAL alert and a HALT bead
    alert = wait_for(lambda: list((drill.paths.responses / "alerts").glob("*HALT_ON.md")), 5, what="HALT_ON alert")
    assert "CRITICAL: HALT_ON" in alert[0].read_text() and "RB-004" in alert[0].read_text()
    halts = [b.payload for b in drill.store.beads(type_="HALT")]
    assert halts[-1]["event"] == "on" and halts[-1]["reason"] == "RB-004 drill"

    # resolution: `seam resume` at a terminal shows the cause, then clears the halt
    code, output = run_on_a_terminal(["resume", "--seam", str(drill.paths.root)], b"y\n")
    assert code == 0, output
    assert "RB-004 drill" in output and "HALT bead" in output and "Halt cleared." in output
    assert drill.store.flags.halt() is None
    seconds = round(time.monotonic() - started, 3)

    mode = str(drill.service.mode)
    drill.store.append("DRILL", {"runbook": "RB-004", "mode": mode, "resolution_seconds": seconds})
    print(f"RB-004 drill ({mode}): resolved in {seconds} s")
    assert [b.payload["runbook"] for b in drill.store.beads(type_="DRILL")] == ["RB-004"]
    assert seconds < 60
