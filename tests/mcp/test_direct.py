"""The MCP server that runs the daemon itself hands it each intent at once (`Daemon.deliver`, `Daemon.answer`):
the same checks, beads, ledger row, response file and filing as a dropped file, without a watch or a poll between.
"""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import pytest

from seam.client import check_intent
from seam.clock import FakeClock
from seam.intake.files import original_name
from seam.intent import Kind
from seam.mcp.host import DaemonRole
from seam.mcp.tools import call_kind
from seam.respond import Status, render_response, response_front, split_response
from seam.yamlsafe import dump_yaml
from tests.conftest import READY_PAYLOAD, DaemonThread, make_seam
from tests.mcp.test_server import served, text_of

pytestmark = pytest.mark.anyio

READY = {k: v for k, v in READY_PAYLOAD.items() if k != "type"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _settled(path: Path) -> bool:
    for _ in range(200):
        if path.exists():
            return True
        await asyncio.sleep(0.01)
    return False


async def test_a_direct_answer_is_the_seams_own_with_its_bead_row_response_and_filing(tmp_path: Path) -> None:
    async with served(tmp_path / "seam") as desk:
        daemon = desk.host.direct("status")
        assert daemon is not None and desk.host.role is DaemonRole.IN_PROCESS
        delivered: list[tuple[Path, bytes, bool]] = []
        deliver = daemon.deliver

        def spy(name: str, data: bytes, checked: object) -> Path:
            path = deliver(name, data, checked)  # type: ignore[arg-type]
            delivered.append((path, data, path.exists()))
            return path

        daemon.deliver = spy  # type: ignore[method-assign]
        result = await desk.call("status", {"id": "direct-1"})
        assert not result.is_error and result.structured_content is not None
        signal = await desk.call("signal", {"id": "sig-direct-1", **READY})
        assert not signal.is_error and signal.structured_content["status"] == "pending_approval"  # type: ignore[index]
        (status_path, status_data, status_written), (signal_path, signal_data, signal_written) = delivered
        # a read-only intent is written once answered, as its archive; one that acts is claimed first, so that a
        # crash before its answer leaves it for the next start
        assert status_path.parent == desk.paths.processed and not status_written
        assert signal_path.parent == daemon.claimant.folder and signal_written
        assert await _settled(status_path) and status_path.read_bytes() == status_data
        filed_signal = desk.paths.processed / original_name(signal_path)
        assert filed_signal.read_bytes() == signal_data and not signal_path.exists()
        answer = result.structured_content
        response = (desk.paths.responses / "direct-1.md").read_text(encoding="utf-8")
        assert text_of(result) in response and f"bead: {answer['bead']}" in response
        store = daemon.store
        row = store.ledger.get("direct-1")
        assert row is not None and row.response == response and row.bead == answer["bead"]
        bead = [b for b in store.beads(type_="INTENT", intent_id="direct-1") if b.payload["event"] == "answered"]
        assert len(bead) == 1 and bead[0].session_id == "mcp"


async def test_a_read_only_direct_call_meeting_a_full_disk_answers_nothing_and_says_so(tmp_path: Path) -> None:
    async with served(tmp_path / "seam") as desk:
        daemon = desk.host.direct("status")
        assert daemon is not None

        def full(*_args: object, **_kwargs: object) -> object:
            raise OSError(errno.ENOSPC, "No space left on device")

        daemon.pipeline.finish = full  # type: ignore[method-assign]
        result = await desk.call("status", {"id": "no-room"})
        assert result.is_error and "No space left on device" in text_of(result)
        assert "nothing was done" in text_of(result)
        assert not (desk.paths.responses / "no-room.md").exists()
        assert not list(desk.paths.processed.glob("no-room-*"))  # nothing filed: nothing was answered


async def test_the_halt_and_research_keep_their_lanes_and_a_client_never_answers_directly(tmp_path: Path) -> None:
    async with served(tmp_path / "seam") as desk:
        host = desk.host
        assert {kind for kind in Kind if host.direct(kind.value) is None} == {Kind.HALT, Kind.QUERY, Kind.HUNT}
        halt = await desk.call("halt", {"id": "h-direct", "reason": "drill"})
        assert not halt.is_error and halt.structured_content["status"] == "ok"  # type: ignore[index]
    paths = make_seam(tmp_path / "other")
    with DaemonThread(paths, clock=FakeClock()):
        async with served(paths.root) as desk:
            assert desk.host.role is DaemonRole.CLIENT and desk.host.direct("status") is None
            assert not (await desk.call("status", {"id": "via-watch"})).is_error


async def test_a_direct_signal_and_a_replay_answer_as_the_file_seam_does(tmp_path: Path) -> None:
    async with served(tmp_path / "seam") as desk:
        first = await desk.call("signal", {"id": "sig-direct", **READY})
        again = await desk.call("signal", {"id": "sig-direct", **READY})
        assert first.structured_content and again.structured_content
        assert first.structured_content["status"] == "pending_approval"
        assert again.structured_content["replay_of"] == first.structured_content["bead"]  # parsed from the marked text
        assert "sig-direct" in desk.shown  # the human's channel got a code; the tool output never does
        assert desk.shown["sig-direct"] not in text_of(first) + text_of(again)


async def test_a_delivered_intent_the_daemon_never_answered_is_adopted_and_answered_at_the_next_start(
    tmp_path: Path,
) -> None:
    async with served(tmp_path / "seam") as desk:
        daemon = desk.host.direct("status")
        assert daemon is not None
        data = dump_yaml({"seam": 1, "id": "left-behind", "kind": "signal", "payload": READY_PAYLOAD}).encode()
        valid = check_intent(data, desk.host.config, clock=desk.host.clock)
        claimed = daemon.deliver("left-behind-0a0b0c.yaml", data, valid)  # an intent that acts: claimed first
        # the process "dies" here, before `answer`: the claimed file stays in its folder, unanswered
        daemon._delivered.clear()
    assert claimed.read_bytes() == data and not (desk.paths.responses / "left-behind.md").exists()
    with DaemonThread(desk.paths, clock=FakeClock()):
        for _ in range(200):
            if (desk.paths.responses / "left-behind.md").exists():
                break
            await asyncio.sleep(0.025)
    assert (desk.paths.responses / "left-behind.md").is_file()


def test_response_front_is_what_split_response_reads_back() -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 12, 2, 9, 0, 0, 123000, tzinfo=UTC)
    for intent_id, kind in [("st-1", "status"), ("true", None), ("012389", "signal"), ("a.b_c-d", "approve")]:
        args = {"intent_id": intent_id, "kind": kind, "intent_sha256": "ab" * 32, "bead": 7, "at": at}
        text = render_response(**args, status=Status.OK, body="# Body\n")  # type: ignore[arg-type]
        split = split_response(text)
        assert split is not None and split[0] == response_front(**args, status=Status.OK)  # type: ignore[arg-type]


async def test_call_kind_answers_directly_without_the_sdk(tmp_path: Path) -> None:
    async with served(tmp_path / "seam") as desk:
        result = await call_kind(desk.host, Kind.POSITIONS, {"id": "pos-direct"})
        assert not result.is_error and (desk.paths.responses / "pos-direct.md").is_file()
