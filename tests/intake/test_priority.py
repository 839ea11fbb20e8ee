"""intents/priority/: a drop folder for halts with a watch of its own, `seam halt`, and what does not look like
an intent waiting behind what does."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import threading
import time

from seam import client
from seam.config import load_config
from seam.handlers import system
from seam.intake.files import looks_well_formed
from seam.intake.scheduler import SUSPECT_IN_FLIGHT, _NormalQueue
from seam.intent import Kind
from seam.paths import SeamPaths
from seam.respond import Outcome, Status
from seam.route import default_registry
from seam.runtime import Runtime
from tests.conftest import DaemonThread, drop, intent_text, make_seam, seam_cli, wait_for, wait_response


def _slow_status(seconds: float):
    async def handle(ctx, intent):
        await asyncio.sleep(seconds)
        return Outcome(Status.OK, "failed", {"reason": "slow", "what_to_do": "nothing"})

    return handle


def _answered_order(paths: SeamPaths) -> list[str]:
    with sqlite3.connect(paths.db) as conn:
        rows = conn.execute(
            "SELECT intent_id FROM beads WHERE type = 'INTENT' AND json_extract(payload, '$.event') = 'answered' "
            "ORDER BY seq"
        ).fetchall()
    return [r[0] for r in rows]


def test_a_new_seam_has_the_priority_folder_and_an_old_one_gains_it(tmp_path):
    paths = make_seam(tmp_path / "new")
    assert paths.priority.is_dir()
    shutil.rmtree(paths.priority)  # a seam made before the folder existed
    assert paths.is_initialised()
    with DaemonThread(paths):
        assert paths.priority.is_dir()
        assert oct(paths.priority.stat().st_mode & 0o777) == "0o700"


def test_a_halt_in_the_priority_folder_goes_ahead_of_a_backlog_in_incoming(seam_paths):
    registry = default_registry()
    registry.replace(Kind.STATUS, _slow_status(0.2))
    seam_paths.config_file.write_text("handlers:\n  concurrency: 2\n")
    with DaemonThread(seam_paths, registry=registry):
        for i in range(12):
            drop(seam_paths, f"slow-{i}.yaml", intent_text(f"slow-{i}"))
        drop(seam_paths, "stop.yaml", intent_text("halt-priority", "halt", "{reason: priority folder}"))
        os.rename(seam_paths.incoming / "stop.yaml", seam_paths.priority / "stop.yaml")
        started = time.monotonic()
        assert wait_response(seam_paths, "halt-priority", timeout=5)["status"] == "ok"
        assert time.monotonic() - started < 1.0
        unanswered = sum(1 for i in range(12) if not (seam_paths.responses / f"slow-{i}.md").exists())
        assert unanswered >= 6, "the halt waited behind the backlog"
        wait_for(lambda: (seam_paths.processed / "stop.yaml").exists(), what="filed")


def _stalls_the_loop(started: threading.Event, released: threading.Event):
    async def handle(ctx, intent):
        started.set()
        # a defect or a burst of work on the daemon's event loop: nothing on the loop moves until the test has seen
        # the halt answered (bounded, so a failing test still stops its daemon)
        released.wait(10)
        return Outcome(Status.OK, "failed", {"reason": "stalled", "what_to_do": "nothing"})

    return handle


def test_a_halt_is_answered_while_the_daemons_event_loop_is_stalled(seam_paths, monkeypatch):
    # the halt lane is a thread with a loop of its own: claim, flag, beads, answer and response need nothing from
    # the daemon's loop; only the broker's cancel-all runs there, and the answer waits for it a bounded time
    monkeypatch.setattr(system, "CANCEL_WAIT_SECONDS", 0.2)
    stalled, released = threading.Event(), threading.Event()
    registry = default_registry()
    registry.replace(Kind.STATUS, _stalls_the_loop(stalled, released))
    with DaemonThread(seam_paths, registry=registry):
        try:
            drop(seam_paths, "stall.yaml", intent_text("stall"))
            assert stalled.wait(5)
            (seam_paths.priority / "stop.yaml").write_text(
                intent_text("halt-stalled", "halt", "{reason: stalled loop}")
            )
            started = time.monotonic()
            answer = wait_response(seam_paths, "halt-stalled", timeout=3.5)
            assert time.monotonic() - started < 2.0, "the halt waited for the stalled loop"
            assert not (seam_paths.responses / "stall.md").exists()  # the loop is still stalled
            assert answer["status"] == "ok"
            body = (seam_paths.responses / "halt-stalled.md").read_text()
            assert "still running after 0.2 s" in body  # the cancel-all is the loop's, and it says so
        finally:
            released.set()
        runtime = Runtime.console(seam_paths, load_config(seam_paths, env={}))
        try:
            assert runtime.store.flags.halt() is not None
            # once the loop moves again, the cancel-all it was handed runs and is beaded
            wait_for(
                lambda: any(b.payload.get("event") == "cancel_all" for b in runtime.store.beads(type_="ORDER")),
                timeout=10,
                what="the cancel-all bead",
            )
        finally:
            runtime.close()


def test_another_kind_dropped_into_the_priority_folder_is_still_answered(running, seam_paths):
    (seam_paths.priority / "status.yaml").write_text(intent_text("status-in-priority"))
    assert wait_response(seam_paths, "status-in-priority")["status"] == "ok"
    (seam_paths.priority / "junk.yaml").write_bytes(b"- not\n- an intent\n")
    assert wait_response(seam_paths, "junk")["status"] == "rejected"


def test_a_halt_waiting_in_the_priority_folder_at_start_up_is_answered(seam_paths):
    (seam_paths.priority / "early.yaml").write_text(intent_text("halt-early", "halt", "{reason: before start}"))
    with DaemonThread(seam_paths):
        assert wait_response(seam_paths, "halt-early")["status"] == "ok"


def test_the_client_writes_halts_into_the_priority_folder_and_the_rest_into_incoming(seam_paths):
    config = load_config(seam_paths, env={})
    halt = client.submit(seam_paths, config, intent_text("h-1", "halt", "{reason: client}").encode())
    status = client.submit(seam_paths, config, intent_text("s-1").encode())
    assert halt.path.parent == seam_paths.priority
    assert status.path.parent == seam_paths.incoming
    shutil.rmtree(seam_paths.priority)  # an older seam: halts still go in, through incoming/
    assert client.drop_folder(seam_paths, "halt") == seam_paths.incoming


def test_seam_halt_writes_into_the_priority_folder_and_prints_the_answer(running, seam_paths):
    result = seam_cli("halt", "--seam", str(seam_paths.root), "--reason", "from the command line", "--id", "cli-halt")
    assert result.returncode == 0, result.stderr
    assert "status: ok" in result.stdout
    assert "from the command line" in result.stdout
    assert (seam_paths.processed).glob("cli-halt-*.yaml")
    front = wait_response(seam_paths, "cli-halt")
    assert front["kind"] == "halt"


def test_files_that_look_like_intents_are_told_from_garbage():
    assert looks_well_formed(intent_text("ok-1").encode())
    assert looks_well_formed(b'{"seam": 1, "id": "j", "kind": "status", "payload": {}}')
    assert not looks_well_formed(b"seam: 1\nid: g\nkind: status\npayload: {unclosed: [1, 2\n  - x: ]\n")
    assert not looks_well_formed(b"seam: 7\nid: g\nkind: launch\nextra: true\n")
    assert not looks_well_formed(b"- seam\n- 1\n- status\n")
    assert not looks_well_formed(b'{"seam": 1, "id": "g", "kind": "status", "payl')
    assert not looks_well_formed(os.urandom(256))
    assert not looks_well_formed(b"seam: 1\nkind: " + b"[" * 3000)


def test_suspect_files_wait_behind_intents_and_only_a_few_run_at_once_and_none_starts_beside_one():
    async def scenario() -> list[str]:
        queue = _NormalQueue()
        for i in range(5):
            queue.put_nowait(f"junk-{i}", suspect=True)
        taken = [await queue.get() for _ in range(SUSPECT_IN_FLIGHT)]
        queue.put_nowait("good")
        taken.append(await queue.get())
        waiting = asyncio.ensure_future(queue.get())
        await asyncio.sleep(0.01)
        assert not waiting.done(), "more suspects ran at once than allowed"
        queue.finished((None, taken[0]))
        await asyncio.sleep(0.01)
        assert not waiting.done(), "a suspect started while a well-formed intent was being handled"
        queue.finished((None, "good"))
        taken.append(await asyncio.wait_for(waiting, 1))
        return taken

    taken = asyncio.run(scenario())
    assert taken[SUSPECT_IN_FLIGHT] == "good"
    assert taken[-1] == f"junk-{SUSPECT_IN_FLIGHT}"


def test_no_suspect_file_starts_while_the_intake_is_still_looking_at_names():
    async def scenario() -> None:
        looking = True
        queue = _NormalQueue(looking=lambda: looking)
        queue.put_nowait("junk-0", suspect=True)
        waiting = asyncio.ensure_future(queue.get())
        await asyncio.sleep(0.02)
        assert not waiting.done(), "a suspect started while the intake was still looking at names"
        queue.put_nowait("good")  # a well-formed intent does not wait for the intake
        assert await asyncio.wait_for(waiting, 1) == "good"
        waiting = asyncio.ensure_future(queue.get())
        queue.finished((None, "good"))
        await asyncio.sleep(0.02)
        assert not waiting.done(), "a suspect started while the intake was still looking at names"
        looking = False
        queue.wake()
        assert await asyncio.wait_for(waiting, 1) == "junk-0"

    asyncio.run(scenario())


def test_a_well_formed_intent_behind_garbage_is_answered_before_most_of_it(seam_paths):
    for i in range(60):
        drop(seam_paths, f"g-{i:03d}.yaml", f"seam: 7\nid: g-{i:03d}\nkind: launch\n")
    drop(seam_paths, "good.yaml", intent_text("good-one"))
    with DaemonThread(seam_paths):
        wait_for(lambda: len(_answered_order(seam_paths)) == 61, timeout=30, what="all answered")
    assert _answered_order(seam_paths).index("good-one") < 10


def test_the_normal_lane_waits_while_a_halt_is_in_flight_and_not_longer_than_the_hold():
    from seam.runtime import HaltGate, _GatedPool

    gate = HaltGate()
    pool = _GatedPool(1, gate)
    try:
        gate.hold()
        started = time.monotonic()
        step = pool.submit(time.monotonic)
        time.sleep(0.2)
        assert not step.done(), "a normal step ran while a halt was in flight"
        gate.release()
        assert step.result(2) - started >= 0.2
        gate.hold()  # a halt that never releases holds a step back at most HOLD_SECONDS
        began = time.monotonic()
        assert pool.submit(lambda: "ran").result(5) == "ran"
        assert time.monotonic() - began >= HaltGate.HOLD_SECONDS * 0.9
    finally:
        gate.release()
        pool.shutdown()
