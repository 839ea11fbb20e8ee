"""Honest durability with lazily flushed responses: the answer is durable when its ledger row commits; a
response file a crash or power cut took before its flush (missing, empty, torn) is rewritten at start-up."""

from __future__ import annotations

import sqlite3

from seam.paths import SeamPaths
from tests.conftest import DaemonProcess, drop, intent_text, wait_for, wait_response


def _ledger_response(paths: SeamPaths, intent_id: str) -> str:
    with sqlite3.connect(paths.db) as conn:
        return str(conn.execute("SELECT response FROM ledger WHERE id = ?", (intent_id,)).fetchone()[0])


def _answered(paths: SeamPaths, intent_id: str) -> int:
    with sqlite3.connect(paths.db) as conn:
        return int(
            conn.execute(
                "SELECT COUNT(*) FROM beads WHERE intent_id = ? AND json_extract(payload, '$.event') = 'answered'",
                (intent_id,),
            ).fetchone()[0]
        )


def test_a_daemon_killed_between_the_commit_and_the_flush_has_the_response_rewritten_at_start(seam_paths):
    first = DaemonProcess(seam_paths, env={"SEAM_FAILPOINTS": "response_unsynced=crash"})
    drop(seam_paths, "u.yaml", intent_text("unsynced", "halt", "{reason: power cut drill}"))
    wait_for(lambda: first.proc.poll() is not None, what="crash after the write, before the flush")
    first.stop()
    response = seam_paths.responses / "unsynced.md"
    # what a power cut may leave of a file written but never flushed: an empty file (or none at all)
    response.write_bytes(b"")
    second = DaemonProcess(seam_paths)
    try:
        wait_for(lambda: response.read_text() == _ledger_response(seam_paths, "unsynced"), what="rewritten")
        wait_for(lambda: (seam_paths.processed / "u.yaml").exists(), what="filed")
    finally:
        second.stop()
    assert _answered(seam_paths, "unsynced") == 1, "answered twice"
    # rewritten by the start-up restore, or by serving the adopted file from the ledger (whichever came first)
    beads = _beads(seam_paths)
    assert "response_rewritten" in beads or "already_answered" in beads or "rewritten" in second.output()


def test_a_torn_response_from_an_earlier_run_is_rewritten_and_a_missing_one_restored(seam_paths):
    first = DaemonProcess(seam_paths)
    try:
        drop(seam_paths, "a.yaml", intent_text("torn-a"))
        drop(seam_paths, "b.yaml", intent_text("gone-b"))
        wait_response(seam_paths, "torn-a")
        wait_response(seam_paths, "gone-b")
    finally:
        first.kill()
    torn = seam_paths.responses / "torn-a.md"
    torn.write_text(torn.read_text()[:40])
    (seam_paths.responses / "gone-b.md").unlink()
    second = DaemonProcess(seam_paths)
    try:
        wait_for(lambda: torn.read_text() == _ledger_response(seam_paths, "torn-a"), what="torn one rewritten")
        wait_for(lambda: (seam_paths.responses / "gone-b.md").exists(), what="missing one rewritten")
    finally:
        second.stop()
    assert (seam_paths.responses / "gone-b.md").read_text() == _ledger_response(seam_paths, "gone-b")


def _beads(paths: SeamPaths) -> str:
    with sqlite3.connect(paths.db) as conn:
        return " ".join(r[0] for r in conn.execute("SELECT payload FROM beads"))
