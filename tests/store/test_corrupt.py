"""A seam knows it had a store: a lost, emptied, swapped or damaged seam.db is refused in one plain line."""

from __future__ import annotations

import random
import re
import shutil
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from seam.errors import StoreError
from seam.paths import SeamPaths
from seam.store import Store
from seam.store.beads import Beads
from seam.store.db import sidecar_path
from tests.conftest import drop, intent_text, make_seam, seam_cli, seam_in_process
from tests.store.test_db import old_seam

# a missing store's advice names the sidecar: there is no seam.db left to move
WHAT_TO_DO = r"restore seam\.db from a backup, or move (it|seam\.db\.id) away to start an empty seam deliberately"
BEADS = 3000  # enough for the file to have hundreds of pages, so its middle is beads and their indexes


def seam_with_beads(root: Path, count: int = BEADS) -> SeamPaths:
    """A seam whose store holds `count` beads, closed, so its WAL is checkpointed into seam.db."""
    paths = make_seam(root)
    store = Store(paths.db)
    with store.transaction() as tx:
        for number in range(count):
            store.append("HEARTBEAT", {"n": number, "state": "HEALTHY", "checks": {"link": "ok"}}, conn=tx)
    store.close()
    assert not Path(f"{paths.db}-wal").exists(), "the WAL was not checkpointed at close"
    return paths


def stored_id(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0])
    finally:
        conn.close()


def sidecar_id(db: Path) -> str:
    lines = [line for line in sidecar_path(db).read_text().splitlines() if line and not line.startswith("#")]
    assert len(lines) == 1
    return lines[0]


# -- the damage an adversarial run did --------------------------------------------------------------


def truncate(db: Path) -> None:
    with db.open("wb"):  # `: > seam.db`
        pass


def overwrite_middle_pages(db: Path) -> None:
    """Random bytes over a few whole pages in the middle of the file, so page headers are gone."""
    page = 4096
    pages = db.stat().st_size // page
    assert pages > 100, "the store is too small to have middle pages"
    rng = random.Random(20261121)
    with db.open("r+b") as handle:
        for offset in (pages // 2 - 2, pages // 2, pages // 2 + 3):
            handle.seek(offset * page)
            handle.write(rng.randbytes(page))


def remove(db: Path) -> None:
    db.unlink()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "middle-pages-overwritten": overwrite_middle_pages,
    "missing": remove,
}


@pytest.fixture(params=sorted(DAMAGE))
def damaged(request: pytest.FixtureRequest, tmp_path: Path) -> SeamPaths:
    paths = seam_with_beads(tmp_path / "seam")
    DAMAGE[request.param](paths.db)
    return paths


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_opening_a_damaged_store_raises_a_store_error_naming_what_to_do(damaged: SeamPaths) -> None:
    size_before = damaged.db.stat().st_size if damaged.db.exists() else None
    with pytest.raises(StoreError, match=WHAT_TO_DO):
        Store(damaged.db)
    # refusing wrote nothing: an emptied store is not turned into a fresh one, a missing one not created
    assert (damaged.db.stat().st_size if damaged.db.exists() else None) == size_before


def test_watch_refuses_a_damaged_store_in_one_line_and_answers_nothing(damaged: SeamPaths) -> None:
    drop(damaged, "s1.yaml", intent_text("s1"))
    result = seam_cli("watch", "--once", "--seam", str(damaged.root))
    assert result.returncode != 0
    assert re.search(WHAT_TO_DO, one_line(result.stderr))
    assert not (damaged.responses / "s1.md").exists()
    assert (damaged.incoming / "s1.yaml").exists()


def test_beads_verify_refuses_a_damaged_store_in_one_line_with_exit_1(damaged: SeamPaths) -> None:
    result = seam_in_process("beads", "verify", "--seam", str(damaged.root))
    assert result.returncode == 1
    assert "chain intact" not in result.stdout
    assert re.search(WHAT_TO_DO, one_line(result.stderr))


def test_the_messages_say_what_is_wrong(tmp_path: Path) -> None:
    for name, damage, what in (
        ("t", truncate, "is empty"),
        ("o", overwrite_middle_pages, "is damaged"),
        ("m", remove, "is missing"),
    ):
        paths = seam_with_beads(tmp_path / name)
        damage(paths.db)
        with pytest.raises(StoreError, match=what):
            Store(paths.db)


def test_verify_turns_damage_into_a_store_error_when_the_open_check_is_off(tmp_path: Path) -> None:
    paths = seam_with_beads(tmp_path / "seam")
    overwrite_middle_pages(paths.db)
    store = Store(paths.db, check=False)
    try:
        with pytest.raises(StoreError, match=WHAT_TO_DO):
            store.verify()
        # and the chain walk itself, which reads the damaged pages without SQLite's check first
        with pytest.raises(StoreError, match=WHAT_TO_DO):
            Beads(store.db).verify()
    finally:
        store.close()


# -- the store's identity ---------------------------------------------------------------------------


def test_a_fresh_seam_has_a_private_sidecar_holding_its_store_id(tmp_path: Path) -> None:
    made = seam_in_process("init", str(tmp_path / "fresh"))
    assert made.returncode == 0, made.stderr
    db = tmp_path / "fresh" / "seam.db"
    assert sidecar_path(db) == tmp_path / "fresh" / "seam.db.id"
    assert stat.S_IMODE(sidecar_path(db).stat().st_mode) == 0o600
    assert sidecar_id(db) == stored_id(db)
    again = seam_in_process("init", str(tmp_path / "fresh"))
    assert again.returncode == 0, again.stderr
    assert sidecar_id(db) == stored_id(db)


def test_a_fresh_seam_still_answers_and_verifies(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    assert seam_in_process("init", str(root)).returncode == 0
    drop(SeamPaths.at(root), "s1.yaml", intent_text("s1"))
    watched = seam_cli("watch", "--once", "--seam", str(root))
    assert watched.returncode == 0, watched.stderr
    assert (root / "responses" / "s1.md").exists()
    verified = seam_in_process("beads", "verify", "--seam", str(root))
    assert verified.returncode == 0, verified.stderr
    assert "chain intact" in verified.stdout


def test_a_0_1_0_seam_without_a_sidecar_is_adopted_and_then_protected(tmp_path: Path) -> None:
    root = old_seam(tmp_path, "seam-0.1.0-demo")
    db = root / "seam.db"
    assert not sidecar_path(db).exists()
    store = Store(db)
    try:
        assert store.verify().ok and store.verify().count == 63
    finally:
        store.close()
    assert stat.S_IMODE(sidecar_path(db).stat().st_mode) == 0o600
    assert sidecar_id(db) == stored_id(db)
    Store(db).close()  # adopted: opens again as it is
    truncate(db)
    with pytest.raises(StoreError, match="is empty"):
        Store(db)


def test_another_seams_store_is_refused(tmp_path: Path) -> None:
    ours, theirs = seam_with_beads(tmp_path / "ours", 3), seam_with_beads(tmp_path / "theirs", 3)
    shutil.copyfile(theirs.db, ours.db)
    with pytest.raises(StoreError, match=f"another seam.*{WHAT_TO_DO}"):
        Store(ours.db)


def test_a_store_without_an_id_is_refused_where_the_sidecar_remembers_one(tmp_path: Path) -> None:
    paths = seam_with_beads(tmp_path / "seam", 3)
    old = old_seam(tmp_path, "seam-0.1.0-init")  # a store with no id, such as a backup from before this release
    shutil.copyfile(old / "seam.db", paths.db)
    with pytest.raises(StoreError, match=f"has no store id.*{WHAT_TO_DO}"):
        Store(paths.db)
    conn = sqlite3.connect(paths.db)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone() is None  # refused, not adopted
    finally:
        conn.close()


def test_a_lost_sidecar_is_written_again_from_the_store(tmp_path: Path) -> None:
    # a crash between the store's first commit and the sidecar's write leaves a store with an id and no sidecar
    paths = seam_with_beads(tmp_path / "seam", 3)
    before = sidecar_id(paths.db)
    sidecar_path(paths.db).unlink()
    Store(paths.db).close()
    assert sidecar_id(paths.db) == before == stored_id(paths.db)


def test_a_sidecar_that_holds_no_id_is_refused(tmp_path: Path) -> None:
    paths = seam_with_beads(tmp_path / "seam", 3)
    sidecar_path(paths.db).write_text("# nothing here\n")
    with pytest.raises(StoreError, match="holds no store id"):
        Store(paths.db)
