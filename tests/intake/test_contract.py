"""The intake's contract, the same on every watch: "events" (Linux's raw inotify), "watchdog" (watchdog's tuned
inotify emitter), "platform" (watchdog's own observer, as macOS runs it with FSEvents) and "polling" (synced and
network folders)."""

from __future__ import annotations

import os
import time

import pytest

from seam.intake.watch import WATCHES
from tests.conftest import DaemonThread, drop, intent_text, make_seam, wait_for, wait_response

CONFIG = "intake:\n  rescan_seconds: 30\n  polling_interval_seconds: 0.1\n"


@pytest.fixture(params=WATCHES)
def watched(request, tmp_path):
    paths = make_seam(tmp_path / "seam", CONFIG)
    with DaemonThread(paths, watch=request.param) as daemon:
        yield paths, daemon


def test_a_file_renamed_into_incoming_is_answered_once_and_filed(watched):
    paths, _ = watched
    drop(paths, "renamed.yaml", intent_text("renamed"))
    assert wait_response(paths, "renamed", timeout=5)["status"] == "ok"
    wait_for(lambda: (paths.processed / "renamed.yaml").exists(), what="filed")
    assert not list(paths.incoming.iterdir())


def test_a_file_written_in_place_is_taken_only_once_it_is_closed(watched):
    paths, _ = watched
    with (paths.incoming / "inplace.yaml").open("w") as handle:
        handle.write("seam: 1\nid: inplace\n")
        handle.flush()
        time.sleep(0.3)
        handle.write("kind: status\npayload: {}\n")
    assert wait_response(paths, "inplace", timeout=5)["status"] == "ok"


def test_a_halt_in_the_priority_folder_is_answered(watched):
    paths, _ = watched
    staged = paths.tmp / "halt.yaml"
    staged.write_text(intent_text("contract-halt", "halt", "{reason: contract}"))
    os.rename(staged, paths.priority / "halt.yaml")
    assert wait_response(paths, "contract-halt", timeout=5)["status"] == "ok"
    wait_for(lambda: (paths.processed / "halt.yaml").exists(), what="filed")


def test_garbage_is_answered_rejected_and_a_good_intent_behind_it_ok(watched):
    paths, _ = watched
    for i in range(10):
        drop(paths, f"junk-{i}.yaml", b"\x00\xff not yaml at all {{{")
    drop(paths, "good.yaml", intent_text("good-after-junk"))
    assert wait_response(paths, "good-after-junk", timeout=5)["status"] == "ok"
    for i in range(10):
        assert wait_response(paths, f"junk-{i}", timeout=10)["status"] == "rejected"


def test_ignored_names_are_never_taken(watched):
    paths, _ = watched
    (paths.incoming / "draft.tmp").write_text(intent_text("ignored"))
    (paths.incoming / ".hidden.yaml").write_text(intent_text("ignored-2"))
    drop(paths, "after.yaml", intent_text("after-ignored"))
    assert wait_response(paths, "after-ignored", timeout=5)["status"] == "ok"
    assert (paths.incoming / "draft.tmp").exists() and (paths.incoming / ".hidden.yaml").exists()
