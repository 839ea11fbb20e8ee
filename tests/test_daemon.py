"""The daemon end to end, with the real watchdog observer on real folders."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

from seam.cli import main as cli_main
from seam.daemon import GROUP_MAX
from seam.handlers import unavailable
from seam.intent import Kind
from seam.paths import SeamPaths
from seam.pipeline import Pipeline
from seam.respond import Outcome, Status
from seam.route import default_registry
from seam.store import Store
from tests.conftest import (
    DaemonProcess,
    DaemonThread,
    answers_since,
    drop,
    intent_text,
    last_bead_seq,
    make_seam,
    wait_for,
    wait_response,
)


def answered_beads(paths: SeamPaths, intent_id: str | None = None) -> list[tuple[int, str | None, str]]:
    with sqlite3.connect(paths.db) as conn:
        rows = conn.execute(
            "SELECT seq, intent_id, payload FROM beads WHERE type = 'INTENT' "
            "AND json_extract(payload, '$.event') = 'answered' ORDER BY seq"
        ).fetchall()
    return [r for r in rows if intent_id is None or r[1] == intent_id]


def beads_of_type(paths: SeamPaths, type_: str) -> int:
    with sqlite3.connect(paths.db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM beads WHERE type = ?", (type_,)).fetchone()[0])


# ---- intake -------------------------------------------------------------------------------------


def test_a_file_renamed_in_from_outside_the_seam_is_answered_once(running, seam_paths, tmp_path):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(intent_text("outside-1"))
    os.rename(outside, seam_paths.incoming / "outside-1.yaml")
    assert wait_response(seam_paths, "outside-1")["status"] == "ok"
    wait_for(lambda: (seam_paths.processed / "outside-1.yaml").exists(), what="filed")
    assert len(answered_beads(seam_paths, "outside-1")) == 1


def test_a_file_written_in_place_with_pauses_is_processed_once_after_it_is_closed(running, seam_paths):
    path = seam_paths.incoming / "inplace.yaml"
    with path.open("w") as handle:  # what the MCP filesystem server does: create, write, write, close
        handle.write("seam: 1\nid: inplace\n")
        handle.flush()
        time.sleep(0.4)  # a writer pausing mid-file; the daemon must not read a third of it
        handle.write("kind: halt\n")
        handle.flush()
        time.sleep(0.4)
        handle.write("payload: {reason: written in place}\n")
    front = wait_response(seam_paths, "inplace")
    assert front["status"] == "ok", front["body"]
    assert "written in place" in front["body"]
    wait_for(lambda: (seam_paths.processed / "inplace.yaml").exists(), what="filed")
    assert len(answered_beads(seam_paths)) == 1
    assert not (seam_paths.responses / "inplace.md.tmp").exists()


def test_intents_waiting_before_start_up_are_all_answered(seam_paths):
    for i in range(40):
        drop(seam_paths, f"backlog-{i}.yaml", intent_text(f"backlog-{i}"))
    with DaemonThread(seam_paths):
        for i in range(40):
            assert wait_response(seam_paths, f"backlog-{i}")["status"] == "ok"
    assert len(answered_beads(seam_paths)) == 40
    assert not list(seam_paths.incoming.iterdir())


class _DeafObserver:
    """A real observer pointed at an empty folder: every event for incoming/ is lost."""

    @staticmethod
    def factory(folder: Path):
        def make(incoming: Path, hint):
            observer = Observer()
            observer.schedule(FileSystemEventHandler(), str(folder), recursive=False)
            return observer

        return make


def test_the_rescan_finds_files_whose_events_were_lost(seam_paths, tmp_path):
    deaf = tmp_path / "deaf"
    deaf.mkdir()
    with DaemonThread(seam_paths, observer_factory=_DeafObserver.factory(deaf)):
        drop(seam_paths, "missed.yaml", intent_text("missed"))
        assert wait_response(seam_paths, "missed", timeout=5)["status"] == "ok"


def test_the_polling_observer_also_delivers(tmp_path):
    paths = make_seam(
        tmp_path / "polled", "intake:\n  polling: true\n  polling_interval_seconds: 0.1\n  rescan_seconds: 60\n"
    )
    with DaemonThread(paths):
        drop(paths, "polled.yaml", intent_text("polled"))
        assert wait_response(paths, "polled", timeout=5)["status"] == "ok"


IGNORED_NAMES = [
    "draft.tmp",
    ".hidden.yaml",
    "intent.yaml~",
    ".syncthing.intent.yaml.tmp",
    "intent.yaml.swp",
    "intent.yaml.partial",
    "notes.txt",
    "#intent.yaml#",
]


def test_temporary_editor_and_sync_files_are_ignored(running, seam_paths):
    for number, name in enumerate(IGNORED_NAMES):
        (seam_paths.incoming / name).write_text(intent_text(f"ignored-{number}"))
    drop(seam_paths, "after.yaml", intent_text("after"))
    wait_response(seam_paths, "after")
    time.sleep(0.7)  # longer than a rescan: give the daemon every chance to (wrongly) pick them up
    assert sorted(p.name for p in seam_paths.incoming.iterdir()) == sorted(IGNORED_NAMES)
    assert not list(seam_paths.responses.glob("ignored-*"))


# ---- idempotency --------------------------------------------------------------------------------


def test_same_id_same_payload_returns_the_first_response_without_running_again(running, seam_paths):
    drop(seam_paths, "h1.yaml", intent_text("dup-halt", "halt", "{reason: drill}"))
    first = wait_response(seam_paths, "dup-halt")
    text = (seam_paths.responses / "dup-halt.md").read_text()
    # the same intent, formatted differently, under another file name
    drop(seam_paths, "h2.yaml", "seam: 1\nkind: halt\nid: dup-halt\npayload:\n  reason: drill\n  cancel_orders: true\n")
    wait_for(lambda: (seam_paths.processed / "h2.yaml").exists(), what="second copy filed")
    again = (seam_paths.responses / "dup-halt.md").read_text()
    # the first answer, whole, under a replay mark (tests/test_replays.py)
    assert again.startswith(text.split("\n---\n", 1)[0] + "\nreplay_of: ")
    assert again.endswith(text.split("\n---\n\n", 1)[1])
    assert first["status"] == "ok"
    assert beads_of_type(seam_paths, "HALT") == 1
    assert len(answered_beads(seam_paths, "dup-halt")) == 1


def test_same_id_different_payload_is_a_conflict_and_the_first_response_stays(running, seam_paths):
    drop(seam_paths, "c1.yaml", intent_text("same-id", "halt", "{reason: first}"))
    wait_response(seam_paths, "same-id")
    original = (seam_paths.responses / "same-id.md").read_text()
    drop(seam_paths, "c2.yaml", intent_text("same-id", "halt", "{reason: second}"))
    conflict = wait_for(lambda: [p for p in seam_paths.responses.glob("same-id.*.md")], what="conflict response")
    text = conflict[0].read_text()
    assert "status: conflict" in text
    assert "different payload" in text
    assert (seam_paths.responses / "same-id.md").read_text() == original
    wait_for(lambda: (seam_paths.failed / "c2.yaml").exists(), what="conflict filed under failed/")
    assert beads_of_type(seam_paths, "HALT") == 1


def test_a_failed_intent_may_be_retried_with_the_same_id(running, seam_paths):
    # a cancel of an order the broker does not have fails (nothing the intent could fix): the id stays free
    drop(seam_paths, "r1.yaml", intent_text("retry-me", "cancel", "{order_id: no-such-order}"))
    assert wait_response(seam_paths, "retry-me")["status"] == "failed"
    drop(seam_paths, "r2.yaml", intent_text("retry-me", "cancel", "{order_id: no-such-order}"))
    wait_for(lambda: len(answered_beads(seam_paths, "retry-me")) == 2, what="second run")
    assert "no order no-such-order at the broker" in wait_response(seam_paths, "retry-me")["body"].lower()


def test_a_kind_whose_handler_has_not_landed_says_so_and_fails(seam_paths):
    # an embedder's registry may route a kind to the not-available handler: the answer says so, plainly
    registry = default_registry()
    registry.replace(Kind.MEMORY, unavailable.handle_not_available)
    with DaemonThread(seam_paths, registry=registry):
        drop(seam_paths, "q.yaml", intent_text("q-1", "memory", "{question: approvals}"))
        front = wait_response(seam_paths, "q-1")
    assert front["status"] == "failed"
    assert "not part of this release" in front["body"]


# ---- lanes, timeouts, concurrency ----------------------------------------------------------------


def _slow_status(seconds: float):
    async def handle(ctx, intent):
        await asyncio.sleep(seconds)
        return Outcome(Status.OK, "failed", {"reason": "slow", "what_to_do": "nothing"})

    return handle


def test_a_halt_dropped_behind_a_backlog_is_answered_first(seam_paths):
    registry = default_registry()
    registry.replace(Kind.STATUS, _slow_status(0.2))
    paths = seam_paths
    paths.config_file.write_text("handlers:\n  concurrency: 2\n")
    with DaemonThread(paths, registry=registry):
        for i in range(12):
            drop(paths, f"slow-{i}.yaml", intent_text(f"slow-{i}"))
        drop(paths, "halt.yaml", intent_text("halt-now", "halt", "{reason: priority}"))
        started = time.monotonic()
        assert wait_response(paths, "halt-now", timeout=5)["status"] == "ok"
        halt_latency = time.monotonic() - started
        unanswered = sum(1 for i in range(12) if not (paths.responses / f"slow-{i}.md").exists())
        assert unanswered >= 6, "the halt waited behind the backlog"
        assert halt_latency < 1.0


def test_a_halt_waiting_at_start_up_goes_ahead_of_the_backlog(seam_paths):
    for i in range(150):
        drop(seam_paths, f"b-{i}.yaml", intent_text(f"b-{i}"))
    drop(seam_paths, "zz-halt.yaml", intent_text("halt-at-start", "halt", "{reason: priority}"))
    with DaemonThread(seam_paths):
        wait_for(lambda: len(answered_beads(seam_paths)) == 151, what="all answered")
    order = [intent_id for _, intent_id, _ in answered_beads(seam_paths)]
    assert order.index("halt-at-start") < 15


def _answers_per_commit(monkeypatch):
    """Wrap Store.transaction: how many answered beads each committed transaction appended."""
    real = Store.transaction
    counts: list[int] = []

    @contextmanager
    def counted(self):
        with real(self) as tx:
            before = last_bead_seq(tx)
            yield tx
            answered = answers_since(tx, before)
        if answered:
            counts.append(answered)

    monkeypatch.setattr(Store, "transaction", counted)
    return counts


def test_a_backlog_of_answers_that_reserve_nothing_commits_them_in_groups(seam_paths, monkeypatch):
    counts = _answers_per_commit(monkeypatch)
    for i in range(60):
        drop(seam_paths, f"g-{i}.yaml", intent_text(f"g-{i}"))
    for i in range(5):
        drop(seam_paths, f"r-{i}.yaml", intent_text(f"r-{i}", "nonsense"))
    with DaemonThread(seam_paths):
        wait_for(lambda: len(answered_beads(seam_paths)) == 65, what="all answered")
        wait_for(lambda: len(list(seam_paths.processed.iterdir())) == 60, what="all filed")
    answered = [intent_id for _, intent_id, _ in answered_beads(seam_paths)]
    assert sorted(answered) == sorted([f"g-{i}" for i in range(60)] + [f"r-{i}" for i in range(5)])
    for i in range(60):
        front = wait_response(seam_paths, f"g-{i}", timeout=1)
        assert front["status"] == "ok" and front["bead"] == answered_beads(seam_paths, f"g-{i}")[0][0]
    assert all(wait_response(seam_paths, f"r-{i}", timeout=1)["status"] == "rejected" for i in range(5))
    assert sum(counts) == 65
    assert max(counts) > 1 and len(counts) < 65, counts  # some answers shared one commit
    assert max(counts) <= GROUP_MAX
    assert cli_main(["beads", "verify", "--seam", str(seam_paths.root)]) == 0  # the chain holds across the groups


def test_a_defect_answering_one_intent_of_a_group_stays_with_that_intent(seam_paths, monkeypatch, caplog):
    real = Pipeline._record

    def broken_for_one(self, tx, p, draft):
        if p.key == "g-7":
            raise RuntimeError("a defect answering g-7")
        return real(self, tx, p, draft)

    monkeypatch.setattr(Pipeline, "_record", broken_for_one)
    for i in range(30):
        drop(seam_paths, f"g-{i}.yaml", intent_text(f"g-{i}"))
    with DaemonThread(seam_paths):
        wait_for(lambda: len(answered_beads(seam_paths)) == 29, what="the others answered")
        wait_for(lambda: len(list(seam_paths.processed.iterdir())) == 29, what="the others filed")
    assert "g-7" not in [intent_id for _, intent_id, _ in answered_beads(seam_paths)]
    assert not (seam_paths.responses / "g-7.md").exists()
    left = [p.name for p in seam_paths.processing.rglob("*.yaml")]
    assert len(left) == 1 and left[0].endswith("g-7.yaml"), left  # kept for the restart, not lost
    assert any("a defect answering g-7" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_a_handler_that_runs_past_its_time_limit_fails_and_says_so(seam_paths):
    registry = default_registry()
    registry.replace(Kind.STATUS, _slow_status(5))
    seam_paths.config_file.write_text("handlers:\n  timeouts: {status: 0.2}\n")
    with DaemonThread(seam_paths, registry=registry):
        drop(seam_paths, "t.yaml", intent_text("too-slow"))
        front = wait_response(seam_paths, "too-slow")
    assert front["status"] == "failed"
    assert "did not finish within 0.2 s" in front["body"]


def test_a_slow_handler_does_not_hold_up_quick_intents(seam_paths):
    registry = default_registry()
    registry.replace(Kind.ACCOUNT, _slow_status(1.5))
    with DaemonThread(seam_paths, registry=registry):
        drop(seam_paths, "slow.yaml", intent_text("slow-account", "account"))
        time.sleep(0.1)
        for i in range(5):
            drop(seam_paths, f"quick-{i}.yaml", intent_text(f"quick-{i}"))
        for i in range(5):
            wait_response(seam_paths, f"quick-{i}", timeout=2)
        assert not (seam_paths.responses / "slow-account.md").exists()
        wait_response(seam_paths, "slow-account", timeout=5)


# ---- crash safety and several daemons ------------------------------------------------------------


def test_a_daemon_killed_after_claiming_leaves_the_intent_finished_exactly_once_at_restart(seam_paths):
    first = DaemonProcess(seam_paths, env={"SEAM_FAILPOINTS": "after_claim=hang"})
    try:
        drop(seam_paths, "k.yaml", intent_text("killed-mid-way", "halt", "{reason: crash drill}"))
        wait_for(lambda: "failpoint after_claim reached" in first.output(), what="claim")
        claimed = list(seam_paths.processing.glob("*/*.k.yaml"))
        assert len(claimed) == 1
    finally:
        first.kill()  # SIGKILL: no cleanup of any kind
    assert not (seam_paths.responses / "killed-mid-way.md").exists()
    second = DaemonProcess(seam_paths)
    try:
        assert wait_response(seam_paths, "killed-mid-way")["status"] == "ok"
        wait_for(lambda: (seam_paths.processed / "k.yaml").exists(), what="filed")
    finally:
        second.stop()
    assert beads_of_type(seam_paths, "HALT") == 1
    assert len(answered_beads(seam_paths, "killed-mid-way")) == 1
    assert not list(seam_paths.processing.glob("*/*.yaml"))


def test_a_crash_after_the_terminal_bead_only_files_the_intent_at_restart(seam_paths):
    first = DaemonProcess(seam_paths, env={"SEAM_FAILPOINTS": "after_commit=crash"})
    drop(seam_paths, "c.yaml", intent_text("crashed-late", "halt", "{reason: crash drill}"))
    wait_for(lambda: first.proc.poll() is not None, what="crash")
    first.stop()
    assert not (seam_paths.responses / "crashed-late.md").exists()
    second = DaemonProcess(seam_paths)
    try:
        assert wait_response(seam_paths, "crashed-late")["status"] == "ok"
        wait_for(lambda: (seam_paths.processed / "c.yaml").exists(), what="filed")
    finally:
        second.stop()
    assert beads_of_type(seam_paths, "HALT") == 1, "the handler ran a second time"
    assert len(answered_beads(seam_paths, "crashed-late")) == 1


def test_two_daemons_on_one_seam_process_every_intent_exactly_once(seam_paths):
    daemons = [DaemonProcess(seam_paths), DaemonProcess(seam_paths)]
    try:
        for i in range(150):
            drop(seam_paths, f"two-{i}.yaml", intent_text(f"two-{i}"))
        wait_for(lambda: len(answered_beads(seam_paths)) >= 150, timeout=30, what="all answered")
        time.sleep(0.3)
    finally:
        for daemon in daemons:
            daemon.stop()
    ids = [intent_id for _, intent_id, _ in answered_beads(seam_paths)]
    assert sorted(ids) == sorted(f"two-{i}" for i in range(150))
    assert len(list(seam_paths.processed.iterdir())) == 150
    logs = [d.output() for d in daemons]
    assert all(" status=ok " in log for log in logs), "one daemon did all the work; the test proves little"


def test_two_copies_of_one_intent_at_once_run_the_handler_once(running, seam_paths):
    text = intent_text("twin", "halt", "{reason: twins}")
    drop(seam_paths, "twin-a.yaml", text)
    drop(seam_paths, "twin-b.yaml", text)
    filed = [seam_paths.processed / "twin-a.yaml", seam_paths.processed / "twin-b.yaml"]
    wait_for(lambda: all(p.exists() for p in filed), what="both filed")
    assert beads_of_type(seam_paths, "HALT") == 1
    assert len(answered_beads(seam_paths, "twin")) == 1
