"""The halt request file (seam/haltfile.py): a halt blocks capital actions the moment it is asked for, before any
daemon has read it, and only `seam resume` lifts it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from seam.broker.fake import FakeBroker
from seam.broker.types import OrderRequest, OrderType, Side
from seam.cli import main
from seam.clock import FakeClock
from seam.config import load_config
from seam.errors import GuardViolation
from seam.haltfile import clear_halt, halt_requested, is_halt_requested, request_halt
from seam.runtime import Runtime
from tests.conftest import DaemonThread, drop, intent_text, make_seam, run_on_a_terminal, wait_for

ORDER = OrderRequest("after-halt-1", "EURUSD", Side.BUY, 10_000, OrderType.LIMIT, limit_price=0.5)


def _order_through(paths: Path, clock: FakeClock) -> tuple[Exception | None, FakeBroker]:
    """One order through the broker service of a runtime on this seam (its own FakeBroker); the refusal, if any."""
    from seam.paths import SeamPaths

    seam = SeamPaths.at(paths)
    broker = FakeBroker(clock=clock)
    runtime = Runtime.open(seam, load_config(seam, env={}), clock=clock, broker_client=broker, approval=False)
    service = runtime.broker
    assert service is not None

    async def approve_everything(request, approval):  # type: ignore[no-untyped-def]
        return None

    service.approval_hook = approve_everything

    async def scenario() -> Exception | None:
        await runtime.start(timers=False)
        try:
            await service.submit(ORDER)
        except GuardViolation as exc:
            return exc
        finally:
            await runtime.stop()
        return None

    try:
        return asyncio.run(scenario()), broker
    finally:
        runtime.close()


def test_seam_halt_with_no_daemon_running_blocks_the_order_path_at_once(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    paths = make_seam(tmp_path / "seam")
    assert main(["halt", "--seam", str(paths.root), "--reason", "flash crash", "--no-wait"]) == 0
    # written and flushed before the intent: no daemon has read anything yet
    request = halt_requested(paths)
    assert request is not None and request.reason == "flash crash"
    assert json.loads(paths.halt_request.read_text())["reason"] == "flash crash"
    assert [p.name for p in paths.priority.iterdir() if p.name.startswith("halt-")]  # the intent still waits
    refused, broker = _order_through(paths.root, FakeClock())
    assert isinstance(refused, GuardViolation) and refused.guard == "halt"
    assert "flash crash" in refused.message and "nothing was sent" in refused.message
    assert broker.sent == []  # the broker received nothing
    capsys.readouterr()
    assert main(["status", "--seam", str(paths.root)]) == 0
    assert "REQUESTED" in capsys.readouterr().out


def test_without_a_request_the_same_order_goes_through(tmp_path: Path) -> None:
    # the check above can fail: with no halt requested, the order reaches the broker
    paths = make_seam(tmp_path / "seam")
    refused, broker = _order_through(paths.root, FakeClock())
    assert refused is None and [r.ref for r in broker.sent] == ["after-halt-1"]  # type: ignore[union-attr]


def test_a_halt_dropped_into_incoming_by_hand_is_requested_on_file_by_its_handler(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    with DaemonThread(paths, clock=FakeClock()):
        drop(paths, "halt-by-hand.yaml", intent_text("halt-by-hand", "halt", "{reason: by hand}"))
        wait_for(lambda: (paths.responses / "halt-by-hand.md").exists(), 15, what="the halt's answer")
    request = halt_requested(paths)
    assert request is not None and request.intent_id == "halt-by-hand" and request.reason == "by hand"


def test_only_clearing_both_lifts_the_halt_and_a_crash_between_leaves_it_on(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    runtime = Runtime.console(paths, load_config(paths, env={}), clock=FakeClock())
    try:
        runtime.store.halt_on("drill", by="test")
        request_halt(paths, intent_id="h-1", reason="drill", by="test", at=FakeClock().now())
        runtime.store.halt_off(by="test", note="a crash follows: the file stays")
    finally:
        runtime.close()
    refused, broker = _order_through(paths.root, FakeClock())
    assert isinstance(refused, GuardViolation) and "requested" in refused.message and broker.sent == []
    runtime = Runtime.console(paths, load_config(paths, env={}), clock=FakeClock())
    try:
        assert clear_halt(paths, runtime.store, by="test", note="over") is True
    finally:
        runtime.close()
    assert not is_halt_requested(paths)
    refused, broker = _order_through(paths.root, FakeClock())
    assert refused is None and len(broker.sent) == 1


def test_seam_resume_shows_and_clears_a_request_no_daemon_carried_out(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    request_halt(paths, intent_id="h-2", reason="stop everything", by="mcp", at=FakeClock().now())
    code, output = run_on_a_terminal(["resume", "--seam", str(paths.root)], b"y\n")
    assert code == 0, output
    assert "stop everything" in output and "flags/halt" in output and "Halt cleared." in output
    assert not is_halt_requested(paths)


@pytest.mark.parametrize("content", [b"", b"not json", b"{}", b"x" * 10_000])
def test_a_request_file_that_cannot_be_read_still_blocks(tmp_path: Path, content: bytes) -> None:
    paths = make_seam(tmp_path / "seam")
    paths.halt_request.write_bytes(content)
    request = halt_requested(paths)
    assert request is not None and "cannot be read" in request.reason
    refused, broker = _order_through(paths.root, FakeClock())
    assert isinstance(refused, GuardViolation) and refused.guard == "halt" and broker.sent == []
