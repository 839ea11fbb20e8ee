"""Hostile files in the intake folders, against a real daemon: each is refused or answered once, and
nothing dropped into intents/ can unlock, move or read the seam's own store.

Found by an adversarial run: a hard link to seam.db (the daemon opened the store's inode as an
intent, and closing that descriptor dropped SQLite's locks, so another reader deleted the WAL under
it and a committed answer vanished), a 250-byte file name (the claim rename failed with
ENAMETOOLONG forty times a second, forever) and a 100 MB file (reported as "262145 bytes"). Found
while fixing them: an owner lock planted as a link to seam.db (opened to test it), a file name that is
not UTF-8 (claimed, then stranded in processing/), and the restart after a crash inside the filing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seam.paths import SeamPaths
from tests.conftest import DaemonProcess, DaemonThread, drop, intent_text, make_seam, wait_for, wait_response

OWNER = "hostile-test-owner"


class _Records(logging.Handler):
    """The daemon's warnings and errors, to count what it said about a file."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def mentioning(self, text: str) -> list[str]:
        return [r.getMessage() for r in self.records if text in r.getMessage()]

    def tracebacks(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.exc_info]


@pytest.fixture
def log() -> Iterator[_Records]:
    records = _Records()
    logging.getLogger("seam").addHandler(records)
    try:
        yield records
    finally:
        logging.getLogger("seam").removeHandler(records)


@pytest.fixture
def paths(tmp_path: Path) -> SeamPaths:
    seam = make_seam(tmp_path / "seam", "intake:\n  rescan_seconds: 0.5\n")
    seam.env_file.write_text("SEAM_MCP_TOKEN=not-a-real-token\n")
    return seam


def ledger(paths: SeamPaths) -> dict[str, str]:
    with sqlite3.connect(paths.db) as conn:
        return dict(conn.execute("SELECT id, status FROM ledger").fetchall())


def ledger_seen_elsewhere(paths: SeamPaths) -> dict[str, str]:
    """The ledger as another process (`seam status`, a backup) reads it. Closing the last connection
    SQLite believes is open checkpoints and deletes the WAL: harmless only while the daemon holds its
    locks; without them, what the daemon commits afterwards goes to a deleted WAL, unseen and lost."""
    script = (
        "import json, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "print(json.dumps(dict(c.execute('SELECT id, status FROM ledger').fetchall()))); c.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(paths.db)], check=True, timeout=30, capture_output=True, text=True
    )
    seen: dict[str, str] = json.loads(done.stdout)
    return seen


def drop_long(paths: SeamPaths, name: str, data: bytes) -> None:
    """Staged under a short name (a temporary name built from a 250-byte one would not fit), renamed in."""
    staged = paths.tmp / "long-name.partial"
    staged.write_bytes(data)
    os.rename(staged, paths.incoming / name)


def rejection(paths: SeamPaths, name: str) -> str:
    front = wait_response(paths, name)
    assert front["status"] == "rejected", front["body"]
    return str(front["body"])


# ---- hard links ----------------------------------------------------------------------------------


def test_a_hard_link_to_the_store_is_refused_unopened_and_the_ledger_keeps_every_answer(paths, log):
    with DaemonThread(paths):
        drop(paths, "before.yaml", intent_text("before"))
        assert wait_response(paths, "before")["status"] == "ok"
        store = os.stat(paths.db)
        os.link(paths.db, paths.incoming / "x.yaml")

        body = rejection(paths, "x")
        # the refusal is kept under the file's stem (it has no readable id), so a restart sees it answered
        assert ledger_seen_elsewhere(paths) == {"before": "ok", "x": "rejected"}
        drop(paths, "after.yaml", intent_text("after"))
        assert wait_response(paths, "after")["status"] == "ok"
        # committed, and not to a lost WAL
        assert ledger_seen_elsewhere(paths) == {"before": "ok", "x": "rejected", "after": "ok"}

    assert "this is the seam's own store (seam.db)" in body
    assert (os.stat(paths.db).st_dev, os.stat(paths.db).st_ino) == (store.st_dev, store.st_ino)
    assert ledger(paths) == {"before": "ok", "x": "rejected", "after": "ok"}
    with sqlite3.connect(paths.db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not list(paths.incoming.iterdir())
    assert os.path.samefile(paths.failed / "x.yaml", paths.db)  # filed as one more name, the store untouched
    assert not log.tracebacks()


def test_a_hard_link_to_the_store_left_in_processing_is_adopted_and_refused_unopened(paths):
    with DaemonThread(paths):
        drop(paths, "before.yaml", intent_text("before"))
        assert wait_response(paths, "before")["status"] == "ok"
        os.link(paths.db, paths.processing / "stray.yaml")  # adopted at the next rescan

        body = rejection(paths, "stray")
        assert ledger_seen_elsewhere(paths) == {"before": "ok", "stray": "rejected"}
        drop(paths, "after.yaml", intent_text("after"))
        assert wait_response(paths, "after")["status"] == "ok"
        assert ledger_seen_elsewhere(paths) == {"before": "ok", "stray": "rejected", "after": "ok"}

    assert "this is the seam's own store (seam.db)" in body
    assert ledger(paths) == {"before": "ok", "stray": "rejected", "after": "ok"}


@pytest.mark.parametrize(
    ("own", "what"),
    [("config_file", "configuration (seam.yaml)"), ("env_file", "secrets (.env)")],
)
def test_a_hard_link_to_the_seams_configuration_or_secrets_is_refused_as_its_own_file(paths, own, what):
    original: Path = getattr(paths, own)
    before = original.read_bytes()
    with DaemonThread(paths):
        os.link(original, paths.incoming / "own.yaml")
        body = rejection(paths, "own")
        wait_for(lambda: (paths.failed / "own.yaml").exists(), what="filed")

    assert f"this is the seam's own {what}" in body
    assert original.read_bytes() == before and os.path.samefile(paths.failed / "own.yaml", original)
    assert "not-a-real-token" not in (paths.responses / "own.md").read_text()


def test_a_hard_link_to_a_halt_outside_the_seam_is_refused_unopened_and_never_run(paths, tmp_path):
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(intent_text("linked-halt", "halt", "{reason: secret 51c0}"))
    before = (outside.read_bytes(), outside.stat().st_mtime_ns)
    with DaemonThread(paths):
        os.link(outside, paths.incoming / "linked.yaml")
        body = rejection(paths, "linked")  # named by the file's stem: its id was never read
        wait_for(lambda: (paths.failed / "linked.yaml").exists(), what="filed")

    assert "a hard link to another file" in body
    assert "secret 51c0" not in body
    assert not (paths.responses / "linked-halt.md").exists()
    assert (outside.read_bytes(), outside.stat().st_mtime_ns) == before
    with sqlite3.connect(paths.db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM beads WHERE type = 'HALT'").fetchone() == (0,)


@pytest.mark.parametrize("plant", [os.link, os.symlink], ids=["hard-link", "symlink"])
def test_a_folder_whose_owner_lock_links_to_the_store_is_not_adopted_and_the_store_stays_whole(paths, plant):
    with DaemonThread(paths):
        drop(paths, "before.yaml", intent_text("before"))
        assert wait_response(paths, "before")["status"] == "ok"
        planted = paths.processing / "planted"  # looks like the folder of a daemon that died
        planted.mkdir()
        (planted / "000001.planted.yaml").write_text(intent_text("planted"))
        plant(paths.db, planted / ".owner.lock")

        drop(paths, "look.yaml", intent_text("look"))  # `status` asks which daemons are alive: it tries the lock
        assert wait_response(paths, "look")["status"] == "ok"
        time.sleep(0.7)  # longer than a rescan, which tries the locks of folders it might adopt
        assert ledger_seen_elsewhere(paths) == {"before": "ok", "look": "ok"}
        drop(paths, "after.yaml", intent_text("after"))
        assert wait_response(paths, "after")["status"] == "ok"
        assert ledger_seen_elsewhere(paths) == {"before": "ok", "look": "ok", "after": "ok"}

    assert (planted / "000001.planted.yaml").exists()  # not a daemon's folder: left alone
    assert not (paths.responses / "planted.md").exists()
    assert os.path.samefile(planted / ".owner.lock", paths.db)


def test_a_daemon_that_died_while_filing_is_finished_at_restart_without_a_second_answer(paths):
    first = DaemonProcess(paths, env={"SEAM_FAILPOINTS": "filing_linked=crash"})
    drop(paths, "f.yaml", intent_text("filed-late"))
    wait_for(lambda: first.proc.poll() is not None, what="the crash between filing's link and unlink")
    first.stop()
    [left] = paths.processing.glob("*/*.f.yaml")
    assert os.path.samefile(left, paths.processed / "f.yaml")  # two names for one file: a hard link now
    answer = (paths.responses / "filed-late.md").read_text()

    second = DaemonProcess(paths)
    try:
        drop(paths, "marker.yaml", intent_text("marker"))
        assert wait_response(paths, "marker")["status"] == "ok"
    finally:
        second.stop()
    assert not list(paths.processing.glob("*/*.yaml"))
    assert sorted(p.name for p in paths.processed.iterdir()) == ["f.yaml", "marker.yaml"]
    assert not list(paths.failed.iterdir())
    assert sorted(p.name for p in paths.responses.iterdir()) == ["filed-late.md", "marker.md"]
    assert (paths.responses / "filed-late.md").read_text() == answer
    assert os.stat(paths.processed / "f.yaml").st_nlink == 1


# ---- long names ----------------------------------------------------------------------------------


def test_a_250_byte_file_name_is_claimed_once_and_rejected_under_its_intent_id(paths, log):
    name = "a" * 245 + ".yaml"  # 250 bytes: valid on ext4, too long for the claim's sequence prefix
    with DaemonThread(paths):
        drop_long(paths, name, intent_text("long-name").encode())
        body = rejection(paths, "long-name")
        filed = wait_for(lambda: list(paths.failed.iterdir()), what="filed")

    assert "the file name is 250 bytes; seam accepts names of at most 200 bytes" in body
    assert [p.read_text() for p in filed] == [intent_text("long-name")]
    assert f"Filed as `intents/failed/{filed[0].name}`" in body
    assert not list(paths.incoming.iterdir()) and not list(paths.processing.glob("*/*.yaml"))
    assert len(log.mentioning("to be answered rejected")) == 1, log.mentioning("to be answered rejected")
    assert not log.tracebacks()


def test_a_254_byte_name_without_a_readable_id_is_answered_under_a_shortened_stem(paths, log):
    name = "desk-" + "é" * 122 + ".yaml"  # two-byte characters: a cut through one would be easy
    assert len(os.fsencode(name)) == 254
    with DaemonThread(paths):
        drop_long(paths, name, b"not: [an intent\n")
        answered = wait_for(lambda: list(paths.responses.glob("desk-*.md")), what="a response")
        body = rejection(paths, answered[0].stem)
        filed = wait_for(lambda: list(paths.failed.iterdir()), what="filed")

    assert len(answered) == 1 and re.fullmatch(r"desk-_{1,59}\.md", answered[0].name), answered
    assert "the file name is 254 bytes; seam accepts names of at most 200 bytes" in body
    assert filed[0].name.startswith("desk-é") and filed[0].read_bytes() == b"not: [an intent\n"
    assert f"Filed as `intents/failed/{filed[0].name}`" in body
    assert not list(paths.incoming.iterdir())
    assert not log.tracebacks()


def test_a_name_that_is_not_utf8_is_claimed_and_rejected_not_stranded_in_processing(paths, log):
    with DaemonThread(paths):
        drop_long(paths, "\udcff\udcfe-noid.yaml", b"not: [an intent\n")  # the bytes ff fe: no response could show them
        body = rejection(paths, "noid")
        wait_for(lambda: (paths.failed / "-noid.yaml").exists(), what="filed")

    assert "the file name is not UTF-8 text" in body
    assert not list(paths.incoming.iterdir()) and not list(paths.processing.glob("*/*.yaml"))
    assert not log.tracebacks()


def test_a_claim_that_keeps_failing_is_logged_once_and_tried_again_only_at_the_rescan(paths, log):
    with DaemonThread(paths, owner=OWNER):
        squats = [paths.processing / OWNER / f"{seq:06d}.stuck.yaml" for seq in range(1, 31)]
        for squat in squats:  # directories on the names the claims would take: every rename fails (EISDIR)
            squat.mkdir()
        drop(paths, "stuck.yaml", intent_text("stuck"))
        wait_for(lambda: log.mentioning("cannot claim"), what="the claim's failure logged")
        time.sleep(1.2)  # two rescans: a hot loop (forty tries a second) would have used up all 30 squats

        assert (paths.incoming / "stuck.yaml").exists()
        assert len(log.mentioning("cannot claim")) == 1
        assert not log.tracebacks()
        for squat in squats:
            squat.rmdir()
        assert wait_response(paths, "stuck")["status"] == "ok"  # the next rescan claims it


# ---- sizes ---------------------------------------------------------------------------------------


def test_a_100_mb_file_is_rejected_stating_its_real_size_and_the_cap(paths):
    staged = paths.tmp / "huge.yaml"
    staged.write_bytes(intent_text("huge").encode())
    os.truncate(staged, 100 * 1024 * 1024)  # sparse: 100 MB on paper, no time spent writing it
    with DaemonThread(paths):
        os.rename(staged, paths.incoming / "huge.yaml")
        body = rejection(paths, "huge")

    assert "the file is 104857600 bytes; the limit is 262144 bytes" in body


# ---- a file seam cannot read never stops the intake ---------------------------------------------------


class _UnreadableChecker:
    """Stands for a file seam may not read (another user's, an I/O error): its check raises, as the kernel
    would for it. (The tests run as root, for whom no permission ever refuses.)"""

    def __init__(self, real: object, name: str) -> None:
        self.real = real
        self.name = name

    def check(self, path: Path):  # type: ignore[no-untyped-def]
        if path.name == self.name:
            raise PermissionError(13, "Permission denied", str(path))
        return self.real.check(path)  # type: ignore[attr-defined]


def test_a_file_whose_check_raises_is_taken_and_the_intake_goes_on(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    with DaemonThread(paths) as running:
        intake = running.daemon.intake
        intake._checker = _UnreadableChecker(intake._checker, "unreadable.yaml")  # type: ignore[assignment]
        drop(paths, "unreadable.yaml", intent_text("unreadable-1"))
        drop(paths, "after.yaml", intent_text("after-1"))
        assert wait_response(paths, "after-1")["status"] == "ok"  # the intake did not stop
        assert wait_response(paths, "unreadable-1")["status"] == "ok"  # taken anyway; root could read it


def test_a_claimed_file_seam_cannot_read_is_rejected_saying_so(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    with DaemonThread(paths) as running:
        not_a_folder = paths.root / "plain-file"
        not_a_folder.write_text("x")
        data, refusal = running.daemon.pipeline.read_claimed(not_a_folder / "x.yaml")  # ENOTDIR: an OSError
    assert data == b"" and refusal is not None
    assert "cannot read this file" in str(refusal)
