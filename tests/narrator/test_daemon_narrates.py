"""End to end through a real daemon: narrate and memory answer from beads, the word guard turns a seam-produced
"because" into a loud `failed` answer (the daemon lives on), and an agent's own "because" is answered normally."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from seam.clock import FakeClock
from seam.config import load_config
from seam.errors import ConfigError
from seam.intent import Kind
from seam.narrator import DEFAULT_WORDS, GUARD, set_words
from seam.respond import Outcome, Status
from seam.route import default_registry
from seam.runtime import Runtime
from tests.conftest import DaemonThread, drop, intent_text, make_seam, wait_for, wait_response


def _seam_with_a_heartbeat_gap(paths) -> tuple[int, int]:
    clock = FakeClock(datetime.now(UTC) - timedelta(hours=1))
    runtime = Runtime.console(paths, load_config(paths, env={}), clock=clock)
    store = runtime.store
    try:
        store.append("HEARTBEAT", {"state": "HEALTHY", "checks": {}, "interval_s": 30, "daemon": "t"})
        clock.advance(30)
        before = store.append("HEARTBEAT", {"state": "HEALTHY", "checks": {}, "interval_s": 30, "daemon": "t"}).seq
        clock.advance(150)
        after = store.append("HEARTBEAT", {"state": "DEGRADED", "checks": {}, "interval_s": 30, "daemon": "t"}).seq
    finally:
        runtime.close()
    return before, after


def test_memory_and_narrate_answer_through_a_running_daemon(seam_paths):
    before, after = _seam_with_a_heartbeat_gap(seam_paths)
    with DaemonThread(seam_paths):
        drop(seam_paths, "m.yaml", intent_text("gaps-1", "memory", "{question: heartbeat_gaps, window: 24h}"))
        drop(seam_paths, "n.yaml", intent_text("health-1", "narrate", "{template: health}"))
        gaps = wait_response(seam_paths, "gaps-1")
        health = wait_response(seam_paths, "health-1")
    assert gaps["status"] == "ok", gaps["body"]
    assert f"| 150.0 | {before} → {after} |" in gaps["body"]
    assert health["status"] == "ok", health["body"]
    assert "Heartbeat **" in health["body"] and "| broker link |" in health["body"]


async def _says_because(ctx, intent):
    return Outcome(Status.OK, "error", {"reason": "Answered because seam said so.", "what_to_do": "Nothing."})


async def _echoes_the_note(ctx, intent):
    note = intent.payload_dict()["params"]["note"]
    return Outcome(Status.OK, "decision", {"headline": "Noted", "facts": {"note": note}, "changes": [], "orders": []})


def test_a_seam_phrase_holding_because_fails_loudly_and_the_daemon_answers_the_next_intent(seam_paths):
    registry = default_registry()
    registry.replace(Kind.STATUS, _says_because)
    registry.replace(Kind.NARRATE, _echoes_the_note)
    with DaemonThread(seam_paths, registry=registry):
        drop(seam_paths, "s.yaml", intent_text("loud-1", "status"))
        refused = wait_response(seam_paths, "loud-1")
        wait_for((seam_paths.failed / "s.yaml").exists, what="the refused intent filed under failed/")
        # the agent's own words (its id, its payload's text) are echoed as they came
        note = "{template: briefing, params: {note: entered because London opened}}"
        drop(seam_paths, "n.yaml", intent_text("because-1", "narrate", note))
        echoed = wait_response(seam_paths, "because-1")
        drop(seam_paths, "r.yaml", intent_text("r-1", "status", "{because: 1}"))
        rejected = wait_response(seam_paths, "r-1")
    assert refused["status"] == "failed"
    assert "| `narrator.words` | because | error |" in refused["body"]
    assert "seam said so" not in refused["body"]
    assert echoed["status"] == "ok", echoed["body"]
    assert "| note | entered because London opened |" in echoed["body"]
    assert rejected["status"] == "rejected" and "`payload.because`" in rejected["body"]


def test_a_halt_whose_reason_says_because_is_answered_and_its_alert_written(seam_paths):
    # the reason is the agent's words: the halt, its answer and its CRITICAL alert file all go through
    with DaemonThread(seam_paths):
        drop(seam_paths, "h.yaml", intent_text("halt-because", "halt", "{reason: because the news is out}"))
        assert wait_response(seam_paths, "halt-because")["status"] == "ok"
    alerts = list((seam_paths.responses / "alerts").glob("*HALT_ON*.md"))
    assert alerts and "because the news is out" in alerts[0].read_text()


@pytest.fixture
def default_words_after():
    yield
    set_words(DEFAULT_WORDS)


def test_the_daemon_takes_its_guarded_words_from_the_settings(tmp_path, default_words_after):
    paths = make_seam(tmp_path / "seam", "narrator:\n  words: [zebra]\n")
    with DaemonThread(paths):
        assert GUARD.words == ("zebra",)
    with pytest.raises(ConfigError) as refused:
        set_words(["because", "status"])  # the status template says "Status"
    assert refused.value.key == "narrator.words" and "'status'" in refused.value.message
    assert GUARD.words == ("zebra",)  # the list in force stayed
