"""Two daemons on one seam (issue 9, item 3): exactly one owns the broker (its lease), kinds that need a broker
go only to it, the other takes the rest; when the owner dies the other takes the broker over. No client-id
juggling: only the owner ever connects to the gateway."""

from __future__ import annotations

import time
from pathlib import Path

from seam.broker.lease import LeaseKeeper
from seam.clock import SystemClock
from seam.config import load_config
from seam.runtime import Runtime
from seam.store.flags import BrokerLease
from tests.conftest import DaemonProcess, DaemonThread, drop, intent_text, make_seam, wait_for, wait_response
from tests.gateway import GatewayThread, loopback

# a flow-style intent: its head does not tell its kind, so a standby claims it and must hand it back
FLOW_ACCOUNT = "{seam: 1, id: %s, kind: account, payload: {}}\n"


def hold_the_lease_elsewhere(root: Path) -> tuple[Runtime, LeaseKeeper]:
    """Another live daemon holds the broker lease (this test's own process stands in for it)."""
    console = Runtime.console(make_seam(root), load_config(make_seam(root), env={}))
    keeper = LeaseKeeper(console.store, SystemClock(), "the-owner-elsewhere", ttl=60)
    assert keeper.try_take()
    return console, keeper


def owner_of(paths, intent_id: str) -> str | None:  # type: ignore[no-untyped-def]
    console = Runtime.console(paths, load_config(paths, env={}))
    try:
        row = console.store.ledger.get(intent_id)
        return row.owner if row else None
    finally:
        console.close()


def test_a_standby_answers_what_needs_no_broker_and_leaves_the_rest_in_incoming(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam", "intake:\n  rescan_seconds: 0.5\n")
    console, elsewhere = hold_the_lease_elsewhere(paths.root)
    try:
        with DaemonThread(paths) as standby:
            assert standby.daemon.runtime.standing_by()
            drop(paths, "s.yaml", intent_text("standby-status", "status"))
            drop(paths, "a.yaml", intent_text("needs-the-broker", "account"))
            drop(paths, "f.yaml", FLOW_ACCOUNT % "flow-account")
            assert wait_response(paths, "standby-status")["status"] == "ok"
            time.sleep(1.5)  # three rescans: neither broker intent is answered here, neither is lost
            assert not (paths.responses / "needs-the-broker.md").exists()
            assert not (paths.responses / "flow-account.md").exists()
            assert sorted(p.name for p in paths.incoming.iterdir()) == ["a.yaml", "f.yaml"]
            assert not [p for p in paths.processing.rglob("*.yaml")]

            elsewhere.release()  # the owner stopped: the standby takes the broker over and the intents with it
            assert wait_response(paths, "needs-the-broker", timeout=10)["status"] == "ok"
            assert wait_response(paths, "flow-account", timeout=10)["status"] == "ok"
            assert standby.daemon.runtime.owns_broker()
        answered = [
            b.payload
            for b in console.store.beads(type_="INTENT")
            if b.payload.get("event") == "answered" and b.intent_id in ("needs-the-broker", "flow-account")
        ]
        assert len(answered) == 2  # handed back without a bead, answered once by the owner
    finally:
        console.close()


def test_with_two_paper_daemons_only_the_owner_connects_and_the_other_takes_over_when_it_is_killed(
    tmp_path: Path,
) -> None:
    paths = make_seam(tmp_path / "seam", "intake:\n  rescan_seconds: 0.5\n")
    with GatewayThread(loopback(), 4002, "DU123456") as gateway:
        env = {
            "SEAM_BROKER__MODE": "paper",
            "SEAM_BROKER__HOST": gateway.gateway.host,
            "SEAM_BROKER__RECONCILE_MINUTES": "600",
        }
        first = DaemonProcess(paths, env=env)
        second = DaemonProcess(paths, env=env)
        try:
            for n in range(6):
                drop(paths, f"a{n}.yaml", intent_text(f"acct-{n}", "account"))
            for n in range(6):
                assert wait_response(paths, f"acct-{n}", timeout=15)["status"] == "ok"
            assert len(gateway.gateway.logins) == 1, f"logins: {gateway.gateway.logins}"
            lease = _lease(paths)
            owner, standby = (first, second) if lease.pid == first.proc.pid else (second, first)
            assert {owner_of(paths, f"acct-{n}") for n in range(6)} <= {None} | _claimants_of(paths, owner.proc.pid)

            owner.kill()  # SIGKILL: no clean stop, no lease given up
            drop(paths, "after.yaml", intent_text("after-the-kill", "account"))
            assert wait_response(paths, "after-the-kill", timeout=20)["status"] == "ok"
            assert _lease(paths).pid == standby.proc.pid
            assert len(gateway.gateway.logins) == 2  # the standby connected only once it owned the broker
        finally:
            first.stop()
            second.stop()


def _lease(paths) -> BrokerLease:  # type: ignore[no-untyped-def]
    def read() -> BrokerLease | None:
        console = Runtime.console(paths, load_config(paths, env={}))
        try:
            return console.store.flags.lease()
        finally:
            console.close()

    lease: BrokerLease = wait_for(read, what="a broker lease")
    return lease


def _claimants_of(paths, pid: int) -> set[str | None]:  # type: ignore[no-untyped-def]
    return {p.name for p in paths.processing.iterdir() if p.is_dir() and f"-{pid}-" in p.name}


def test_status_names_the_daemon_that_owns_the_broker(tmp_path: Path) -> None:
    import json

    from tests.conftest import seam_cli

    paths = make_seam(tmp_path / "seam")
    result = seam_cli("status", "--json", "--seam", str(paths.root))
    assert json.loads(result.stdout)["broker_owner"] == "none: no daemon holds the broker lease"
    with DaemonThread(paths) as running:
        result = seam_cli("status", "--json", "--seam", str(paths.root))
        lease = running.daemon.store.flags.lease()
    assert lease is not None
    said = json.loads(result.stdout)["broker_owner"]
    assert said.startswith(f"daemon {lease.owner} (pid {lease.pid}"), said
    result = seam_cli("status", "--json", "--seam", str(paths.root))
    assert json.loads(result.stdout)["broker_owner"] == "none: no daemon holds the broker lease"  # given up on stop
