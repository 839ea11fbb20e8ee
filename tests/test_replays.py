"""Replays (issue item 20): the same intent sent again gets its first answer, marked as a replay."""

from __future__ import annotations

import sqlite3

from seam import client
from seam.config import load_config
from seam.paths import SeamPaths
from seam.respond import split_response
from tests.conftest import DaemonThread, drop, intent_text, make_seam, seam_cli, wait_for, wait_response


def _answered(paths: SeamPaths, intent_id: str) -> int:
    with sqlite3.connect(paths.db) as conn:
        return int(
            conn.execute(
                "SELECT COUNT(*) FROM beads WHERE type = 'INTENT' AND intent_id = ? "
                "AND json_extract(payload, '$.event') = 'answered'",
                (intent_id,),
            ).fetchone()[0]
        )


def _replayed(paths: SeamPaths, name: str) -> None:
    wait_for(lambda: (paths.processed / name).exists(), what=f"{name} filed")


def _status_then_halt_then_the_same_status(paths: SeamPaths) -> tuple[str, str]:
    """The first answer's text and the text responses/<id>.md holds after the same status came again."""
    drop(paths, "s1.yaml", intent_text("desk-status"))
    assert "| halt flag | off |" in wait_response(paths, "desk-status")["body"]
    first = (paths.responses / "desk-status.md").read_text()
    drop(paths, "h.yaml", intent_text("stop-now", "halt", "{reason: drill}"))
    assert wait_response(paths, "stop-now")["status"] == "ok"
    drop(paths, "s2.yaml", intent_text("desk-status"))
    _replayed(paths, "s2.yaml")
    return first, (paths.responses / "desk-status.md").read_text()


def test_a_status_sent_again_after_the_facts_changed_is_marked_as_a_replay(running, seam_paths):
    first, again = _status_then_halt_then_the_same_status(seam_paths)
    first_front, _ = split_response(first) or ({}, "")
    front, body = split_response(again) or ({}, "")
    # the same answer: its bead, time and facts (the halt that came after it is not in it), nothing re-run
    assert (front["bead"], front["at"], front["status"]) == (first_front["bead"], first_front["at"], "ok")
    assert "| halt flag | off |" in body
    assert _answered(seam_paths, "desk-status") == 1
    # ... and it says so, for programs and for people
    assert front["replay_of"] == first_front["bead"]
    assert front["replayed_at"] >= first_front["at"] and front["replay_bead"] > front["bead"]
    assert body.startswith("> **Replay:**")
    assert f"answered earlier at {first_front['at']} (bead {first_front['bead']})" in body
    assert "this is that answer again, not a new one — use a new id for a fresh answer" in body
    assert "`intents/processed/s2.yaml`" in body
    # a new id gets fresh facts
    drop(seam_paths, "s3.yaml", intent_text("desk-status-2"))
    assert "| halt flag | ON since" in wait_response(seam_paths, "desk-status-2")["body"]


def test_the_marked_replay_keeps_the_first_answer_whole(running, seam_paths):
    first, again = _status_then_halt_then_the_same_status(seam_paths)
    _, first_body = split_response(first) or ({}, "")
    first_front_lines = first.split("\n---\n", 1)[0]
    assert again.startswith(first_front_lines + "\nreplay_of: ")  # every line of the first front matter, unchanged
    assert again.endswith("\n\n" + first_body)  # the first body, unchanged, under the mark
    # a third copy: still one answer, the mark names the latest copy
    drop(seam_paths, "s4.yaml", intent_text("desk-status"))
    _replayed(seam_paths, "s4.yaml")
    third = (seam_paths.responses / "desk-status.md").read_text()
    assert third.endswith("\n\n" + first_body) and "`intents/processed/s4.yaml`" in third
    assert third.count("> **Replay:**") == 1
    assert _answered(seam_paths, "desk-status") == 1


def test_a_response_file_that_never_reached_its_readers_is_written_unmarked(running, seam_paths):
    # what a crash between the commit and the write leaves: an answer in the ledger, no file
    drop(seam_paths, "a.yaml", intent_text("lost"))
    wait_response(seam_paths, "lost")
    first = (seam_paths.responses / "lost.md").read_text()
    (seam_paths.responses / "lost.md").unlink()
    drop(seam_paths, "b.yaml", intent_text("lost"))
    _replayed(seam_paths, "b.yaml")
    assert (seam_paths.responses / "lost.md").read_text() == first


def test_the_client_and_seam_submit_say_a_replay_is_one(tmp_path):
    paths = make_seam(tmp_path / "seam")
    config = load_config(paths, env={})
    intent = tmp_path / "s.yaml"
    intent.write_text(intent_text("cli-status"))
    with DaemonThread(paths):
        fresh = client.submit_and_wait(paths, config, intent.read_bytes(), timeout=10)
        assert fresh.replay_of is None
        again = client.submit_and_wait(paths, config, intent.read_bytes(), timeout=10)
        assert again.replay_of == fresh.bead and again.at == fresh.at
        assert "use a new id for a fresh answer" in again.body
        result = seam_cli("submit", str(intent), "--seam", str(paths.root), "--timeout", "10")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"replay_of: {fresh.bead}" in result.stdout
    assert f"answered earlier at {fresh.at.isoformat(timespec='milliseconds')} (bead {fresh.bead})" in result.stdout


def test_a_rejected_response_says_to_fix_it_and_that_unchanged_it_is_rejected_again(running, seam_paths):
    drop(seam_paths, "bad.yaml", intent_text("bad-halt", "halt", "{reason: x, cancel_orders: NO}"))
    body = wait_response(seam_paths, "bad-halt")["body"]
    assert "Fix this field, then send the fixed intent" in body
    assert "the same id may be used for the fixed one; sent unchanged, it is rejected again" in body
    assert "Replay" not in body


def test_a_failed_intent_says_it_may_be_retried_with_the_same_id_and_the_retry_is_no_replay(running, seam_paths):
    drop(seam_paths, "n1.yaml", intent_text("later", "cancel", "{order_id: no-such-order}"))
    first = wait_response(seam_paths, "later")
    assert first["status"] == "failed"
    assert "Retry with the same id once the cause is cleared" in first["body"]
    drop(seam_paths, "n2.yaml", intent_text("later", "cancel", "{order_id: no-such-order}"))
    wait_for(lambda: _answered(seam_paths, "later") == 2, what="the retry run")
    wait_for(lambda: (seam_paths.failed / "n2.yaml").exists(), what="the retry filed")
    again = wait_response(seam_paths, "later")
    assert "replay_of" not in again and "Replay" not in again["body"]
