"""The bead store: append-only, hash-chained, and `seam beads verify` names the first bad bead."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from seam.clock import FakeClock
from seam.store import Store
from tests.conftest import make_seam, seam_cli, seam_in_process


@pytest.fixture
def store_with_beads(tmp_path):
    paths = make_seam(tmp_path / "seam")
    store = Store(paths.db, clock=FakeClock())
    for number in range(1, 8):
        store.append("INTENT", {"n": number}, intent_id=f"i-{number}")
    store.close()
    return paths


def test_an_intact_chain_verifies(store_with_beads):
    result = seam_cli("beads", "verify", "--seam", str(store_with_beads.root))
    assert result.returncode == 0, result.stderr
    assert "chain intact" in result.stdout and "7 bead(s)" in result.stdout


def test_the_store_refuses_updates_and_deletes(store_with_beads):
    with sqlite3.connect(store_with_beads.db) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE beads SET payload = '{}' WHERE seq = 2")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM beads WHERE seq = 2")


def _tamper(db, statement: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER beads_append_only_update")
    conn.execute("DROP TRIGGER beads_append_only_delete")
    conn.execute(statement)
    conn.commit()
    conn.close()


def test_verify_names_an_altered_bead(store_with_beads):
    _tamper(store_with_beads.db, """UPDATE beads SET payload = '{"n":99}' WHERE seq = 4""")
    result = seam_in_process("beads", "verify", "--seam", str(store_with_beads.root))
    assert result.returncode == 1
    assert "bead 4" in result.stdout and "altered" in result.stdout


def test_verify_names_a_removed_bead(store_with_beads):
    _tamper(store_with_beads.db, "DELETE FROM beads WHERE seq = 5")
    result = seam_in_process("beads", "verify", "--seam", str(store_with_beads.root))
    assert result.returncode == 1
    assert "bead 5 is missing" in result.stdout


def test_verify_names_a_bead_whose_hash_was_recomputed_but_not_its_successor(store_with_beads):
    # a careful forger rewrites bead 3 and its own hash; bead 4 still points at the old hash
    store = Store(store_with_beads.db)
    bead = store.beads(after=2, limit=1)[0]
    store.close()
    from seam.store.beads import bead_hash as _bead_hash
    from seam.store.beads import canonical_json

    forged = canonical_json({"n": 1000})
    new_hash = _bead_hash(3, bead.type, bead.at, bead.intent_id, bead.session_id, forged, bead.prev_hash)
    _tamper(store_with_beads.db, f"UPDATE beads SET payload = '{forged}', hash = '{new_hash}' WHERE seq = 3")
    result = seam_in_process("beads", "verify", "--seam", str(store_with_beads.root))
    assert result.returncode == 1
    assert "bead 4 does not chain to bead 3" in result.stdout


def test_concurrent_writers_never_fork_the_chain(tmp_path):
    store = Store(tmp_path / "c.db", synchronous="normal")

    def write(worker: int) -> None:
        for number in range(50):
            store.append("HEARTBEAT", {"worker": worker, "n": number})

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other = Store(tmp_path / "c.db")  # a second process's view
    result = other.verify()
    store.close()
    other.close()
    assert result.ok and result.count == 200


def test_tail_prints_the_latest_beads(store_with_beads):
    result = seam_in_process("beads", "tail", "--no-follow", "-n", "3", "--seam", str(store_with_beads.root))
    assert result.returncode == 0
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 3
    assert "i-7" in lines[-1] and "i-5" in lines[0]
