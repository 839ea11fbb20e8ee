"""Approval codes under attack: nothing readable rests in the seam, a presented code is spent, one code is one
order even with two takers, guessing across proposals locks every approval, a decided proposal stays decided."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
from pathlib import Path

import pytest

from seam.approval import codes, proposals
from seam.approval.keys import CodeKey
from seam.broker.fake import FakeBroker
from seam.clock import FakeClock
from seam.config import load_config
from seam.errors import ConfigError, GuardViolation
from seam.paths import SeamPaths
from seam.runtime import Runtime
from seam.store import ProposalStatus
from tests.conftest import READY_SIGNAL, make_seam, run_on_a_terminal


class Desk:
    """A runtime on a fake clock and broker; the channel is the human's console (it keeps the digits shown)."""

    def __init__(self, root: Path, config_yaml: str = "") -> None:
        self.paths: SeamPaths = make_seam(root, config_yaml)
        self.clock = FakeClock()
        self.shown: dict[str, str] = {}
        self.runtime = Runtime.open(
            self.paths,
            load_config(self.paths, env={}),
            clock=self.clock,
            broker_client=FakeBroker(clock=self.clock),
            channels=[lambda proposal, code, _at: self.shown.__setitem__(proposal.id, code)],
        )
        assert self.runtime.approval is not None and self.runtime.broker is not None
        self.approval = self.runtime.approval
        self.fake = self.runtime.broker.broker
        assert isinstance(self.fake, FakeBroker)
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.runtime.start(timers=False))

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    def propose(self, proposal_id: str) -> str:
        self.run(
            self.approval.propose_open(proposal_id, hashlib.sha256(proposal_id.encode()).hexdigest(), READY_SIGNAL)
        )
        return self.shown[proposal_id]

    def decide(self, proposal_id: str, code: str, decision: str = "approve"):  # type: ignore[no-untyped-def]
        return self.run(self.approval.decide(proposal_id, code, decision, via="test"))

    def close(self) -> None:
        self.run(self.runtime.stop())
        self.loop.close()
        self.runtime.close()


@pytest.fixture
def desk(tmp_path: Path):  # type: ignore[no-untyped-def]
    d = Desk(tmp_path / "desk")
    yield d
    d.close()


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# ---- 1. nothing readable rests under the seam root ----------------------------------------------------------


def test_a_live_code_is_in_no_file_under_the_seam_root(desk: Desk) -> None:
    # the attack: a regex over seam.db-wal bytes returned a live code, and an approve with it placed a bracket
    code = desk.propose("p-1")
    files = [p for p in desk.paths.root.rglob("*") if p.is_file()]
    assert any(p.name == "seam.db-wal" for p in files)
    for path in files:
        assert code.encode() not in path.read_bytes(), f"the live code rests readable in {path}"
    stored = desk.runtime.store.codes.get("p-1")
    assert stored is not None and stored.digest != hashlib.sha256(code.encode()).hexdigest()


def test_the_code_key_lives_outside_the_seam_and_is_the_owners_alone(desk: Desk) -> None:
    key = CodeKey.for_seam(desk.paths)
    assert desk.paths.root not in key.path.parents
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.path.parent.stat().st_mode) == 0o700


def test_a_key_folder_inside_the_seam_is_refused(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "s")
    with pytest.raises(ConfigError, match="inside the seam"):
        CodeKey.for_seam(paths, folder=paths.root / "intents" / "keys")


def test_the_seams_private_files_are_0600_and_its_folders_0700(desk: Desk) -> None:
    desk.propose("p-perm")  # the store, its WAL and shared memory exist now
    (desk.paths.env_file).write_text("SEAM_IB_ACCOUNT=DU1\n")
    os.chmod(desk.paths.env_file, 0o644)
    desk.paths.protect()
    desk.paths.config_file.write_text("# a configuration\n")
    os.chmod(desk.paths.config_file, 0o644)
    desk.paths.protect()
    for path in desk.paths.private_files():
        assert path.exists(), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (desk.paths.root, desk.paths.intents, *desk.paths.folders()):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_new_store_is_created_0600_with_its_wal(tmp_path: Path) -> None:
    d = Desk(tmp_path / "fresh")
    try:
        d.propose("p-new")
        for name in ("seam.db", "seam.db-wal", "seam.db-shm"):
            assert stat.S_IMODE((d.paths.root / name).stat().st_mode) == 0o600, name
    finally:
        d.close()


# ---- 2. a code written into an intent is spent, whatever the outcome -----------------------------------------


def test_a_code_refused_by_the_halt_is_spent_and_cannot_be_used_again(desk: Desk) -> None:
    # the attack: the approve failed at the halt guard, the agent reused the code 12 s later: 3 orders
    desk.runtime.store.halt_on("drill", by="test")
    code = desk.propose("p-halt")  # proposed while halted: its anchor holds the halt, so the stale gate passes
    with pytest.raises(GuardViolation) as refused:
        desk.decide("p-halt", code)
    assert refused.value.guard == "halt"
    again = desk.decide("p-halt", code)  # the same code, still halted: the same world, the same proposal
    assert again.status == "failed" and "already used" in again.headline
    assert desk.fake.sent == []


def test_a_code_refused_by_the_stale_gate_is_spent(tmp_path: Path) -> None:
    d = Desk(tmp_path / "stale", "approval:\n  code_ttl_seconds: 3600\n")
    try:
        code = d.propose("p-stale")
        d.clock.advance(16 * 60)
        assert d.decide("p-stale", code).status == "conflict"
        assert d.runtime.store.codes.get("p-stale").used  # type: ignore[union-attr]
        assert d.fake.sent == []
    finally:
        d.close()


# ---- 3. one code, one order: spending is a compare-and-set ----------------------------------------------------


def test_two_decisions_racing_with_one_code_send_one_order(desk: Desk) -> None:
    code = desk.propose("p-race")

    async def both():  # type: ignore[no-untyped-def]
        return await asyncio.gather(
            desk.approval.decide("p-race", code, "approve", via="first"),
            desk.approval.decide("p-race", code, "approve", via="second"),
        )

    first, second = desk.run(both())
    assert sorted([first.status, second.status]) == ["failed", "ok"]
    assert len(desk.fake.sent) == 1
    approvals = [b.payload["event"] for b in desk.runtime.store.beads(type_="APPROVAL")]
    assert approvals.count("approved") == 1 and approvals.count("code_spent") == 1


def test_two_stores_taking_one_code_at_once_one_wins(desk: Desk) -> None:
    # two daemons on one seam: each its own connection; the store's compare-and-set lets one through
    code = desk.propose("p-two")
    key = CodeKey.for_seam(desk.paths)
    issued = desk.runtime.store.codes.get("p-two")
    assert issued is not None
    digest = key.digest("p-two", code, issued.bound_hash)
    other = Runtime.console(desk.paths, load_config(desk.paths, env={}))
    try:
        won = []
        for store in (desk.runtime.store, other.store, desk.runtime.store):
            with store.transaction() as tx:
                won.append(store.codes.take(tx, "p-two", digest))
    finally:
        other.close()
    assert won == [True, False, False]


# ---- 4. guessing across proposals locks every approval ---------------------------------------------------------


def test_wrong_codes_across_proposals_lock_every_approval_and_raise_a_critical_alert(tmp_path: Path) -> None:
    d = Desk(tmp_path / "guess", "approval:\n  wrong_codes_per_hour: 4\n  max_tries: 3\n")
    try:
        right = {pid: d.propose(pid) for pid in ("g-1", "g-2", "g-3")}
        for pid in ("g-1", "g-2"):
            for _ in range(2):  # under the per-proposal limit each time
                assert "wrong code" in d.decide(pid, wrong(right[pid])).headline
        locked = d.decide("g-3", right["g-3"])
        assert locked.status == "failed" and "approvals are locked" in locked.headline
        assert d.fake.sent == []
        assert d.runtime.store.flags.approvals_lock() is not None
        alerts = list((d.paths.responses / "alerts").glob("*APPROVALS_LOCKED.md"))
        assert alerts and "CRITICAL" in alerts[0].read_text()
        assert not d.runtime.store.codes.get("g-3").used  # type: ignore[union-attr]  # refused before taking it
    finally:
        d.close()
    # a person lifts the lock at a terminal; then the human's code works
    code, screen = run_on_a_terminal(["approvals", "--unlock", "--seam", str(d.paths.root)], b"y\n")
    assert code == 0 and "Approvals unlocked" in screen, screen
    d2 = Desk.__new__(Desk)
    d2.__init__(tmp_path / "guess")  # type: ignore[misc]
    try:
        d2.shown = {}
        assert d2.decide("g-3", right["g-3"]).status == "ok"
    finally:
        d2.close()


def test_the_window_is_an_hour(tmp_path: Path) -> None:
    d = Desk(tmp_path / "window", "approval:\n  wrong_codes_per_hour: 2\n")
    try:
        right = {pid: d.propose(pid) for pid in ("w-1", "w-2")}
        d.decide("w-1", wrong(right["w-1"]))
        d.clock.advance(3601)
        d.decide("w-2", wrong(right["w-2"]))
        assert d.runtime.store.flags.approvals_lock() is None
    finally:
        d.close()


# ---- 5. a decided proposal stays decided --------------------------------------------------------------------------


def test_a_later_approve_never_rewrites_an_approved_proposal(desk: Desk) -> None:
    code = desk.propose("p-done")
    assert desk.decide("p-done", code).status == "ok"
    desk.fake.inject_position("USDJPY", 50_000, 151.0)  # the book changed: a stale gate would say conflict
    again = desk.decide("p-done", code)
    assert again.status == "failed"
    assert proposals.get(desk.runtime.store, "p-done").status is ProposalStatus.APPROVED
    stale = proposals.get(desk.runtime.store, "p-done")
    from seam.approval import stale as stale_gate

    assert (
        stale_gate.refuse(
            desk.runtime.store,
            desk.runtime.broker.lifecycle,
            stale,
            ["x"],
            "test",  # type: ignore[union-attr]
            desk.clock.now(),
        )
        is False
    )
    assert proposals.get(desk.runtime.store, "p-done").status is ProposalStatus.APPROVED
    assert len(desk.fake.sent) == 1


def test_a_fresh_code_from_the_console_voids_the_old_one(desk: Desk) -> None:
    old = desk.propose("p-re")
    proposal = proposals.get(desk.runtime.store, "p-re")
    fresh = codes.reissue(
        desk.runtime.store, CodeKey.for_seam(desk.paths), proposal, desk.clock.now().replace(year=2100)
    )
    if fresh != old:
        assert "wrong code" in desk.decide("p-re", old).headline
    assert desk.decide("p-re", fresh).status == "ok"


def test_opening_a_0_1_0_seam_erases_its_plain_codes_from_every_file(tmp_path: Path) -> None:
    import sqlite3

    from tests.store.test_db import old_seam

    root = old_seam(tmp_path, "seam-0.1.0-demo")
    with sqlite3.connect(root / "seam.db") as conn:
        plain = [str(row[0]) for row in conn.execute("SELECT code FROM approval_codes")]
    assert len(plain) == 5 and all(len(code) == 6 for code in plain)
    Runtime.console(SeamPaths.at(root), load_config(SeamPaths.at(root), env={})).close()
    for path in (p for p in root.rglob("*") if p.is_file() and p.name.startswith("seam.db")):
        data = path.read_bytes()
        for code in plain:
            assert code.encode() not in data, f"a 0.1.0 code survives in {path.name}"
