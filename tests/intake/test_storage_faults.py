"""A full or failing disk (issue 9 item 7): an intent that meets ENOSPC or EIO while it is claimed, committed
or answered waits in this daemon's processing/ folder and is retried on a timer until it is answered exactly
once, without a restart; every response the ledger holds is rewritten from it when its file is missing.

The faults are real errors raised at the real calls: `os.rename` for the claim, the store's write
transaction for the bead commit (SQLite's own SQLITE_FULL), the response's atomic write. Beads are counted
through a read-only SQLite connection.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import seam.intake.scheduler as scheduler
import seam.respond as respond
from seam.paths import SeamPaths
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

# The rescan is a minute away: only the retry timer can bring a stranded intent back in these tests.
NO_RESCAN = "intake:\n  rescan_seconds: 60\n"
RETRY_LINE = "is tried again in"


def _read_only(paths: SeamPaths) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{paths.db}?mode=ro", uri=True)


def _events(paths: SeamPaths, intent_id: str, event: str) -> int:
    with _read_only(paths) as conn:
        return int(
            conn.execute(
                "SELECT COUNT(*) FROM beads WHERE type = 'INTENT' AND intent_id = ? "
                "AND json_extract(payload, '$.event') = ?",
                (intent_id, event),
            ).fetchone()[0]
        )


def _ledger_text(paths: SeamPaths, intent_id: str) -> str:
    with _read_only(paths) as conn:
        row = conn.execute("SELECT response FROM ledger WHERE id = ?", (intent_id,)).fetchone()
    assert row is not None and row[0], f"no answer for {intent_id} in the ledger"
    return str(row[0])


def _nothing_left_in_processing(paths: SeamPaths) -> bool:
    return not [p for p in paths.processing.rglob("*") if p.is_file() and p.name != ".owner.lock"]


class _Faults:
    """Raises `OSError(code)` the first `times` times `applies(*args)` is true, then lets the call through."""

    def __init__(self, real: Callable[..., Any], code: int, times: int, applies: Callable[..., bool]) -> None:
        self.real, self.code, self.left, self.applies = real, code, times, applies
        self.raised = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.left > 0 and self.applies(*args):
            self.left -= 1
            self.raised += 1
            raise OSError(self.code, os.strerror(self.code))
        return self.real(*args, **kwargs)


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "RETRY_FIRST_SECONDS", 0.1, raising=False)


@pytest.fixture
def paths(tmp_path: Path) -> SeamPaths:
    return make_seam(tmp_path / "seam", NO_RESCAN)


def _answered_once_and_filed(paths: SeamPaths, intent_id: str, filed: Path) -> dict[str, Any]:
    front = wait_response(paths, intent_id, timeout=10)
    # filing links the file into its folder and then unlinks the claimed name (seam/intake/files.py file_away):
    # it is done when both have happened, not the instant the new name appears
    wait_for(lambda: filed.exists() and _nothing_left_in_processing(paths), what=f"{filed.name} filed")
    assert _events(paths, intent_id, "answered") == 1
    assert filed.exists() and _nothing_left_in_processing(paths)
    return front


# ---- (1) the response write ----------------------------------------------------------------------


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_a_response_write_that_fails_is_retried_until_the_intent_is_answered_once(
    paths: SeamPaths, quick_retries: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, code: int
) -> None:
    full = _Faults(respond.write_atomic, code, 3, lambda path, *_: path.name == "full-1.md")
    monkeypatch.setattr(respond, "write_atomic", full)
    caplog.set_level(logging.WARNING)
    with DaemonThread(paths) as running:
        # the start-up check of responses/ against the ledger runs beside the intake; met while the answer's file
        # is missing it rewrites it too (meeting one of the faults, silently): wait for it, to count retries alone
        wait_for(lambda: running.daemon.intake.responses_checked, what="the start-up check of responses/")
        drop(paths, "full.yaml", intent_text("full-1"))
        front = _answered_once_and_filed(paths, "full-1", paths.processed / "full.yaml")
    assert front["status"] == "ok"
    assert full.raised == 3
    # what it wrote is the ledger's answer, and each retry is one line (no hot loop, no traceback)
    assert (paths.responses / "full-1.md").read_text(encoding="utf-8") == _ledger_text(paths, "full-1")
    retries = [r for r in caplog.records if RETRY_LINE in r.getMessage()]
    assert len(retries) == 3, [(r.threadName, r.getMessage()) for r in caplog.records]
    assert all("writing its response" in r.getMessage() and r.exc_info is None for r in retries)
    assert os.strerror(code) in retries[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info is not None]


def test_a_rejected_intent_whose_response_write_failed_is_not_answered_again(
    paths: SeamPaths, quick_retries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = _Faults(respond.write_atomic, errno.ENOSPC, 2, lambda path, *_: path.name == "bad-1.md")
    monkeypatch.setattr(respond, "write_atomic", full)
    with DaemonThread(paths):
        drop(paths, "bad.yaml", intent_text("bad-1", "nonsense"))
        front = _answered_once_and_filed(paths, "bad-1", paths.failed / "bad.yaml")
    assert front["status"] == "rejected"
    assert full.raised == 2


# ---- (2) the bead commit and the claim rename -------------------------------------------------------


def _disk_full() -> sqlite3.OperationalError:
    """SQLite's own SQLITE_FULL ("database or disk is full"), raised by SQLite."""
    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA max_page_count = 1")
    try:
        conn.execute("CREATE TABLE t (x)")
    except sqlite3.OperationalError as exc:
        assert exc.sqlite_errorcode == sqlite3.SQLITE_FULL
        return exc
    finally:
        conn.close()
    raise AssertionError("SQLite did not run out of room")


def test_a_bead_commit_that_fails_on_a_full_disk_is_retried_until_answered_once(
    paths: SeamPaths, quick_retries: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = Store.transaction
    failures = {"left": 3}

    @contextmanager
    def full_at_commit(self: Store) -> Iterator[sqlite3.Connection]:
        with real(self) as tx:
            before = tx.execute("SELECT COALESCE(MAX(seq), 0) FROM beads").fetchone()[0]
            yield tx
            # the commits of the intent's answer, on whichever thread runs them (a worker's, or the loop's for
            # a lone intent): what a full disk does at COMMIT (rolled back)
            answering = tx.execute("SELECT 1 FROM beads WHERE seq > ? AND type = 'INTENT'", (before,)).fetchone()
            if failures["left"] and answering:
                failures["left"] -= 1
                raise _disk_full()

    monkeypatch.setattr(Store, "transaction", full_at_commit)
    caplog.set_level(logging.WARNING)
    with DaemonThread(paths):
        drop(paths, "commit.yaml", intent_text("commit-1"))
        front = _answered_once_and_filed(paths, "commit-1", paths.processed / "commit.yaml")
    assert front["status"] == "ok"
    assert failures["left"] == 0
    retries = [r.getMessage() for r in caplog.records if RETRY_LINE in r.getMessage()]
    assert len(retries) == 3 and all("database or disk is full" in m for m in retries), retries


def test_a_full_disk_at_a_groups_shared_commit_leaves_each_of_its_intents_answered_once(
    paths: SeamPaths, quick_retries: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = Store.transaction
    failed: list[int] = []

    @contextmanager
    def full_at_a_shared_commit(self: Store) -> Iterator[sqlite3.Connection]:
        with real(self) as tx:
            before = last_bead_seq(tx)
            yield tx
            answers = answers_since(tx, before)
            if not failed and answers > 1:  # the first commit that holds several answers: rolled back
                failed.append(answers)
                raise _disk_full()

    monkeypatch.setattr(Store, "transaction", full_at_a_shared_commit)
    caplog.set_level(logging.WARNING)
    for i in range(40):
        drop(paths, f"s-{i}.yaml", intent_text(f"s-{i}"))
    with DaemonThread(paths):
        for i in range(40):
            wait_response(paths, f"s-{i}", timeout=10)
        wait_for(
            lambda: len(list(paths.processed.iterdir())) == 40 and _nothing_left_in_processing(paths), what="filed"
        )
    assert failed, "no commit held several answers"
    assert all(_events(paths, f"s-{i}", "answered") == 1 for i in range(40))
    retries = [r.getMessage() for r in caplog.records if RETRY_LINE in r.getMessage()]
    # each intent of the group waited the fault out on its own, saying so once, with no traceback
    assert len(retries) == failed[0] and all("committing its answer" in m for m in retries), retries
    assert not [r for r in caplog.records if r.exc_info is not None]


def test_a_claim_rename_that_fails_is_retried_on_a_timer_not_at_the_rescan(
    paths: SeamPaths, quick_retries: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    renames = _Faults(
        os.rename, errno.ENOSPC, 3, lambda src, *_: Path(src).parent == paths.incoming and Path(src).name == "c.yaml"
    )
    monkeypatch.setattr(os, "rename", renames)
    caplog.set_level(logging.WARNING)
    with DaemonThread(paths):
        drop(paths, "c.yaml", intent_text("claim-1"))
        front = _answered_once_and_filed(paths, "claim-1", paths.processed / "c.yaml")
    assert front["status"] == "ok"
    assert renames.raised == 3
    retries = [r.getMessage() for r in caplog.records if RETRY_LINE in r.getMessage()]
    assert len(retries) == 3 and all("incoming/c.yaml: claiming it failed" in m for m in retries), retries


def test_a_halt_whose_claim_fails_is_retried_on_its_lane(
    paths: SeamPaths, quick_retries: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    renames = _Faults(os.rename, errno.EIO, 2, lambda src, *_: Path(src).name == "halt.yaml")
    monkeypatch.setattr(os, "rename", renames)
    with DaemonThread(paths):
        drop(paths, "halt.yaml", intent_text("halt-1", "halt", "{reason: disk drill}"))
        front = _answered_once_and_filed(paths, "halt-1", paths.processed / "halt.yaml")
    assert front["status"] == "ok"
    assert renames.raised == 2


# ---- (3) a deleted response --------------------------------------------------------------------------


def test_a_deleted_response_is_rewritten_from_the_ledger_at_the_next_rescan(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam", "intake:\n  rescan_seconds: 0.3\n")
    with DaemonThread(paths):
        drop(paths, "d.yaml", intent_text("deleted-1"))
        wait_response(paths, "deleted-1")
        wait_for((paths.processed / "d.yaml").exists, what="filed")
        response = paths.responses / "deleted-1.md"
        response.unlink()
        wait_for(response.exists, timeout=5, what="the response rewritten")
        assert response.read_bytes() == _ledger_text(paths, "deleted-1").encode("utf-8")
        wait_for(lambda: _events(paths, "deleted-1", "response_rewritten") == 1, what="the rewrite's bead")
    assert _events(paths, "deleted-1", "answered") == 1


def test_at_start_up_a_missing_or_altered_response_is_rewritten_and_a_replay_is_left(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam", NO_RESCAN)
    with DaemonThread(paths):
        for name in ("gone", "edited", "replayed"):
            drop(paths, f"{name}.yaml", intent_text(name))
            wait_response(paths, name)
        drop(paths, "replayed-again.yaml", intent_text("replayed"))  # its file becomes a marked replay
        wait_for((paths.processed / "replayed-again.yaml").exists, what="the replay filed")
    replay = (paths.responses / "replayed.md").read_text(encoding="utf-8")
    assert "replay_of:" in replay
    (paths.responses / "gone.md").unlink()
    (paths.responses / "edited.md").write_text("---\nid: edited\n---\n\nsomething else\n", encoding="utf-8")
    with DaemonThread(paths):
        for name in ("gone", "edited"):
            path = paths.responses / f"{name}.md"
            wait_for(lambda p=path, n=name: p.exists() and p.read_text() == _ledger_text(paths, n), what=name)
    assert (paths.responses / "replayed.md").read_text(encoding="utf-8") == replay
    assert _events(paths, "gone", "response_rewritten") == _events(paths, "edited", "response_rewritten") == 1
    assert _events(paths, "replayed", "response_rewritten") == 0
    assert [_events(paths, n, "answered") for n in ("gone", "edited", "replayed")] == [1, 1, 1]


# ---- (4), (5) killed between the commit and the response -------------------------------------------


def test_a_daemon_killed_between_the_commit_and_the_response_leaves_one_answer_at_restart(
    paths: SeamPaths,
) -> None:
    first = DaemonProcess(paths, env={"SEAM_FAILPOINTS": "after_commit=hang"})
    try:
        drop(paths, "f.yaml", intent_text("killed-1", "cancel", "{order_id: no-such-order}"))  # answered `failed`
        wait_for(lambda: "failpoint after_commit reached" in first.output(), what="the commit")
    finally:
        first.kill()  # SIGKILL between the commit and the response
    assert not (paths.responses / "killed-1.md").exists()
    assert _events(paths, "killed-1", "answered") == 1
    second = DaemonProcess(paths)
    try:
        front = wait_response(paths, "killed-1")
        wait_for((paths.failed / "f.yaml").exists, what="filed")
    finally:
        second.stop()
    assert front["status"] == "failed"
    assert (paths.responses / "killed-1.md").read_text(encoding="utf-8") == _ledger_text(paths, "killed-1")
    assert _events(paths, "killed-1", "answered") == 1, "the failed intent was answered a second time"
    assert _nothing_left_in_processing(paths)


def test_after_a_restart_a_rejected_intent_whose_response_was_never_written_is_not_answered_again(
    paths: SeamPaths,
) -> None:
    first = DaemonProcess(paths, env={"SEAM_FAILPOINTS": "after_commit=crash"})
    drop(paths, "r.yaml", intent_text("rejected-1", "nonsense"))
    wait_for(lambda: first.proc.poll() is not None, what="the crash after the commit")
    first.stop()
    assert not (paths.responses / "rejected-1.md").exists()
    second = DaemonProcess(paths)
    try:
        front = wait_response(paths, "rejected-1")
        wait_for((paths.failed / "r.yaml").exists, what="filed")
    finally:
        second.stop()
    assert front["status"] == "rejected"
    assert _events(paths, "rejected-1", "answered") == 1, "the rejected intent was answered a second time"


def test_a_new_file_with_a_failed_intents_id_is_still_retried(paths: SeamPaths) -> None:
    with DaemonThread(paths):
        drop(paths, "n1.yaml", intent_text("again-1", "cancel", "{order_id: no-such-order}"))
        wait_for((paths.failed / "n1.yaml").exists, what="first filed")
        drop(paths, "n2.yaml", intent_text("again-1", "cancel", "{order_id: no-such-order}"))
        wait_for((paths.failed / "n2.yaml").exists, what="second filed")
    assert _events(paths, "again-1", "answered") == 2


# ---- the failpoints a `seam watch` process takes: ENOSPC, then EIO, at each write --------------------


def test_a_daemon_process_meeting_enospc_and_eio_at_each_write_answers_once_without_a_restart(
    paths: SeamPaths,
) -> None:
    faults = "claim_rename=enospc*1,answer_commit=eio*1,response_write=enospc*2"
    daemon = DaemonProcess(paths, env={"SEAM_FAILPOINTS": faults})
    try:
        drop(paths, "p.yaml", intent_text("process-1", "nonsense"))  # rejected: a retry-able id
        front = _answered_once_and_filed(paths, "process-1", paths.failed / "p.yaml")
    finally:
        daemon.stop()
    assert front["status"] == "rejected"
    output = daemon.output()
    assert output.count(RETRY_LINE) == 4, output
    assert "Traceback" not in output
