"""The store's schema: every table made at open, older seams migrated forward, newer ones refused."""

from __future__ import annotations

import sqlite3
import tarfile
from pathlib import Path

import pytest

from seam.errors import StoreError
from seam.store import SCHEMA_VERSION, Store
from seam.store.db import MIGRATIONS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ALL_TABLES = {
    "meta",
    "beads",
    "ledger",
    "flags",
    "proposals",
    "approval_codes",
    "lifecycle",
    "submissions",
    "ledger_counts",
    "telegram_outbox",
    "telegram_buttons",
    "telegram_poll",
}


def old_seam(tmp_path: Path, name: str) -> Path:
    """A seam as release 0.1.0 left it (kept in tests/fixtures), unpacked into a fresh folder."""
    with tarfile.open(FIXTURES / f"{name}.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    return tmp_path / name


def tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def stored_version(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0])


def test_a_new_store_has_every_table_at_the_current_version(tmp_path: Path) -> None:
    Store(tmp_path / "seam.db").close()
    assert tables(tmp_path / "seam.db") == ALL_TABLES
    assert stored_version(tmp_path / "seam.db") == str(SCHEMA_VERSION)


def test_migration_versions_increase_by_one_from_one() -> None:
    assert [version for version, _what, _statements in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_a_seam_initialised_by_0_1_0_gains_the_tables_it_lacked(tmp_path: Path) -> None:
    root = old_seam(tmp_path, "seam-0.1.0-init")
    assert "proposals" not in tables(root / "seam.db") and stored_version(root / "seam.db") == "1"
    store = Store(root / "seam.db")
    try:
        assert store.proposals.pending() == [] and store.codes.live_for_pending() == {}
        assert store.positions.all() == [] and store.flags.halt() is None
    finally:
        store.close()
    assert tables(root / "seam.db") == ALL_TABLES
    assert stored_version(root / "seam.db") == str(SCHEMA_VERSION)


def test_a_used_0_1_0_seam_keeps_its_beads_ledger_and_proposals(tmp_path: Path) -> None:
    root = old_seam(tmp_path, "seam-0.1.0-demo")
    store = Store(root / "seam.db")
    try:
        assert store.verify().ok and store.verify().count == 63
        assert [p.id for p in store.proposals.pending()] == ["old-pending-2"]
        assert {r.id for r in store.positions.all()} >= {"t1-long", "t2-short", "t3-short"}
        assert store.ledger.counts()["ok"] > 0
        assert store.flags.halt() is None  # the demo cleared its drill's halt
        link = store.flags.link()
        assert link is not None and link.state == "connected"
    finally:
        store.close()


def schema_text(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT sql FROM sqlite_master ORDER BY name")]


def test_opening_a_migrated_seam_again_changes_nothing(tmp_path: Path) -> None:
    root = old_seam(tmp_path, "seam-0.1.0-demo")
    Store(root / "seam.db").close()
    migrated = schema_text(root / "seam.db")
    store = Store(root / "seam.db")
    try:
        assert store.verify().count == 63
    finally:
        store.close()
    assert schema_text(root / "seam.db") == migrated


def test_a_store_made_by_a_newer_release_is_refused_not_misread(tmp_path: Path) -> None:
    Store(tmp_path / "seam.db").close()
    with sqlite3.connect(tmp_path / "seam.db") as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StoreError, match="newer seam release"):
        Store(tmp_path / "seam.db")


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "seam.db").write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StoreError, match="cannot open the bead store"):
        Store(tmp_path / "seam.db")


def test_the_ledger_counts_follow_every_insert_update_and_delete(tmp_path):
    from seam.store import LedgerRow, LedgerStatus

    store = Store(tmp_path / "seam.db")
    try:
        with store.transaction() as tx:
            for i in range(3):
                store.ledger.put(
                    tx, LedgerRow(f"i-{i}", "h", "status", LedgerStatus.IN_PROGRESS, None, None, None, None)
                )
        with store.transaction() as tx:
            store.ledger.put(tx, LedgerRow("i-0", "h", "status", LedgerStatus.OK, None, "i-0.md", "x", 1))
            store.ledger.put(tx, LedgerRow("i-1", "h", "status", LedgerStatus.REJECTED, None, "i-1.md", "x", 2))
        assert store.ledger.counts() == {"in_progress": 1, "ok": 1, "rejected": 1}
        with store.transaction() as tx:
            tx.execute("DELETE FROM ledger WHERE id = 'i-2'")
        grouped = dict(store.db.query("SELECT status, COUNT(*) FROM ledger GROUP BY status"))
        assert store.ledger.counts() == grouped == {"ok": 1, "rejected": 1}
    finally:
        store.close()


def test_reads_inside_a_snapshot_see_one_state_of_the_store(tmp_path: Path) -> None:
    import threading

    store = Store(tmp_path / "seam.db")
    try:
        store.append("NOTE", {"n": 1})
        with store.snapshot():
            before = store.last_seq()
            writer = threading.Thread(target=store.append, args=("NOTE", {"n": 2}))  # another thread commits
            writer.start()
            writer.join()
            # the read after the other thread's commit still sees the state the snapshot began with
            assert store.last_seq() == before and store.last_of("NOTE").payload == {"n": 1}  # type: ignore[union-attr]
            with store.snapshot():  # nested: the outer one stands
                assert store.last_seq() == before
            with pytest.raises(sqlite3.OperationalError):  # reads only: a write on this thread is refused
                store.append("NOTE", {"n": 3})
        assert store.last_seq() == before + 1 and store.last_of("NOTE").payload == {"n": 2}  # type: ignore[union-attr]
    finally:
        store.close()
