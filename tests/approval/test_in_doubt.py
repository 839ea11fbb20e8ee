"""A daemon killed inside the approve window (issue 9, item 6): the intent to submit is recorded before the
order goes; at the next start the order's reference is looked up at the broker, what it holds is adopted, where
it holds nothing the proposal waits for a human again; and the approve intent, run again, is told which.

The process's death is played by an exception that nothing in seam catches (a BaseException) raised at the
order path's failpoints; the broker (a FakeBroker kept across the two runtimes) is the truth that survives.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from seam.approval import codes
from seam.broker.fake import FakeBroker
from seam.broker.lease import LEASE_SECONDS
from seam.clock import FakeClock
from seam.config import load_config
from seam.paths import SeamPaths
from seam.runtime import Runtime
from seam.store import ProposalStatus, SubmissionState
from tests.conftest import READY_SIGNAL, make_seam


class Killed(BaseException):
    """The process died here: no handler, no cleanup, no answer."""


class Seam:
    """One seam and one broker that outlives the daemons run on it."""

    def __init__(self, root: Path) -> None:
        self.paths: SeamPaths = make_seam(root)
        self.clock = FakeClock()
        self.broker = FakeBroker(clock=self.clock)
        self.shown: dict[str, str] = {}
        self.loop = asyncio.new_event_loop()
        self.runtime = self._open()

    def _open(self) -> Runtime:
        runtime = Runtime.open(
            self.paths,
            load_config(self.paths, env={}),
            clock=self.clock,
            broker_client=self.broker,
            channels=[lambda proposal, code, _at: self.shown.__setitem__(proposal.id, code)],
        )
        self.loop.run_until_complete(runtime.start(timers=False))
        return runtime

    @property
    def approval(self):  # type: ignore[no-untyped-def]
        assert self.runtime.approval is not None
        return self.runtime.approval

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    def propose(self, proposal_id: str) -> str:
        digest = hashlib.sha256(proposal_id.encode()).hexdigest()
        self.run(self.approval.propose_open(proposal_id, digest, READY_SIGNAL))
        return self.shown[proposal_id]

    def approve(self, proposal_id: str, code: str, intent_id: str):  # type: ignore[no-untyped-def]
        return self.run(self.approval.decide(proposal_id, code, "approve", via=intent_id, intent_id=intent_id))

    def kill_and_restart(self) -> None:
        """The daemon's process is gone (its listener on the broker with it); a new one starts on the seam once
        the dead one's broker lease has run out (both live in this test's process, so its pid cannot tell)."""
        self.broker._listeners.clear()
        self.broker._connected = False
        self.runtime.close()
        self.clock.advance(LEASE_SECONDS + 1)
        self.runtime = self._open()

    def submission(self, ref: str):  # type: ignore[no-untyped-def]
        return self.runtime.store.submissions.get(ref)

    def close(self) -> None:
        self.run(self.runtime.stop())
        self.runtime.close()
        self.loop.close()


@pytest.fixture
def seam(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Seam(tmp_path / "seam")
    yield s
    s.close()


def die_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    def failpoint(name: str) -> None:
        if name == point:
            raise Killed(name)

    monkeypatch.setattr("seam.approval.service.failpoint", failpoint)


def beads_of(seam: Seam, type_: str, event: str) -> list[dict]:
    return [b.payload for b in seam.runtime.store.beads(type_=type_) if b.payload.get("event") == event]


def test_killed_after_the_broker_took_the_order_the_restart_adopts_it_and_the_approve_says_it_went(seam, monkeypatch):
    code = seam.propose("w-after")
    die_at(monkeypatch, "approve_after_submit")
    with pytest.raises(Killed):
        seam.approve("w-after", code, "approve-w-after")
    assert len(seam.broker.sent) == 1  # the bracket reached the broker; seam recorded nothing of it
    assert seam.submission("w-after").state is SubmissionState.INTENDED
    monkeypatch.undo()

    seam.kill_and_restart()

    assert seam.submission("w-after").state is SubmissionState.FOUND
    assert [p["ref"] for p in beads_of(seam, "ORDER", "adopted")] == ["w-after"]
    record = seam.runtime.broker.lifecycle.get("w-after")
    assert record.state == "MANAGED"  # the market entry filled at the broker; its stop and target work
    assert seam.runtime.store.flags.halt() is None  # no drift: the adopted orders are seam's
    assert not [b for b in seam.runtime.store.beads(type_="RECONCILIATION") if b.payload["drift"]]

    again = seam.approve("w-after", code, "approve-w-after")  # the intent, run again after the restart
    assert again.status == "ok", again.headline
    assert "the order went to the broker" in again.headline and "restarted" in again.headline
    assert len(seam.broker.sent) == 1  # nothing was sent twice


def test_killed_before_the_order_went_the_restart_finds_nothing_and_the_proposal_waits_again(seam, monkeypatch):
    code = seam.propose("w-before")
    die_at(monkeypatch, "approve_before_submit")
    with pytest.raises(Killed):
        seam.approve("w-before", code, "approve-w-before")
    assert seam.broker.sent == []
    store = seam.runtime.store
    assert store.proposals.get("w-before").status is ProposalStatus.APPROVED  # the false state it used to keep
    monkeypatch.undo()

    seam.kill_and_restart()

    store = seam.runtime.store
    assert seam.submission("w-before").state is SubmissionState.NOT_SENT
    assert store.proposals.get("w-before").status is ProposalStatus.PENDING
    assert seam.runtime.broker.lifecycle.get("w-before").state == "PROPOSED"
    assert [p["proposal"] for p in beads_of(seam, "APPROVAL", "not_sent")] == ["w-before"]
    assert store.flags.halt() is None

    told = seam.approve("w-before", code, "approve-w-before")  # the interrupted intent, run again
    assert told.status == "failed"
    assert "nothing was sent" in told.headline and "--new-code w-before" in told.headline
    assert seam.broker.sent == []

    # a person asks for a fresh code; a new approve intent approves it, once
    fresh = codes.reissue(store, seam.approval.key, seam.approval.get("w-before"), seam.clock.now() + _minutes(5))
    approved = seam.approve("w-before", fresh, "approve-w-before-2")
    assert approved.status == "ok", approved.headline
    assert len(seam.broker.sent) == 1
    assert seam.submission("w-before").state is SubmissionState.SENT


def test_with_the_link_down_at_restart_the_outcome_is_unknown_until_the_broker_can_be_asked(seam, monkeypatch):
    code = seam.propose("w-down")
    die_at(monkeypatch, "approve_after_submit")
    with pytest.raises(Killed):
        seam.approve("w-down", code, "approve-w-down")
    monkeypatch.undo()
    seam.broker._listeners.clear()
    seam.runtime.close()
    real_connect = seam.broker.connect

    async def refused():  # type: ignore[no-untyped-def]
        from seam.errors import BrokerUnavailable

        raise BrokerUnavailable("gateway not answering")

    seam.broker.connect = refused  # type: ignore[method-assign]
    seam.broker._connected = False
    seam.clock.advance(LEASE_SECONDS + 1)
    seam.runtime = seam._open()

    told = seam.approve("w-down", code, "approve-w-down")
    assert told.status == "failed"
    assert "not known yet" in told.headline and "Nothing will be sent again" in told.headline
    assert seam.submission("w-down").state is SubmissionState.INTENDED

    seam.broker.connect = real_connect  # type: ignore[method-assign]
    seam.run(seam.runtime.broker.supervisor.manual_reconnect())
    assert seam.submission("w-down").state is SubmissionState.FOUND
    assert len(seam.broker.sent) == 1


def test_killed_after_the_code_was_spent_the_approve_run_again_says_nothing_was_sent(seam, monkeypatch):
    code = seam.propose("w-spent")
    original_take = seam.approval._take

    def spend_then_die(proposal, presented, intent_id):  # type: ignore[no-untyped-def]
        original_take(proposal, presented, intent_id)
        raise Killed("after the code was spent")

    monkeypatch.setattr(seam.approval, "_take", spend_then_die)
    with pytest.raises(Killed):
        seam.approve("w-spent", code, "approve-w-spent")
    monkeypatch.undo()
    seam.kill_and_restart()

    told = seam.approve("w-spent", code, "approve-w-spent")
    assert told.status == "failed"
    assert "this approve spent its code" in told.headline and "nothing was sent" in told.headline
    other = seam.approve("w-spent", code, "someone-else")  # the same code in another intent: simply used
    assert "already used" in other.headline
    assert seam.broker.sent == []
    assert seam.runtime.store.proposals.get("w-spent").status is ProposalStatus.PENDING


def test_a_broker_refusal_of_an_approved_order_closes_the_proposal_and_says_so(seam):
    code = seam.propose("w-refused")
    from seam.errors import BrokerError

    def refuse() -> None:
        raise BrokerError("IB error 201: order rejected")

    seam.broker.fail_next = refuse
    with pytest.raises(BrokerError):
        seam.approve("w-refused", code, "approve-w-refused")
    assert seam.submission("w-refused").state is SubmissionState.NOT_SENT
    assert seam.runtime.store.proposals.get("w-refused").status is ProposalStatus.FAILED
    assert seam.runtime.broker.lifecycle.get("w-refused").state == "REJECTED"
    told = seam.approve("w-refused", code, "approve-w-refused")
    assert told.status == "failed" and "refused by the broker" in told.headline


def _minutes(n: int):  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(minutes=n)


def test_killed_between_a_close_and_cancelling_its_stop_and_target_the_restart_cancels_them(seam, monkeypatch):
    code = seam.propose("w-close")
    assert seam.approve("w-close", code, "approve-w-close").status == "ok"
    assert seam.runtime.broker.lifecycle.get("w-close").state == "MANAGED"
    seam.run(seam.approval.propose_close("c-close", "c" * 64, "w-close", "done"))

    async def killed(position_id):  # type: ignore[no-untyped-def]
        raise Killed("between the close and the cancel of its protection")

    monkeypatch.setattr(seam.approval, "_cancel_protection", killed)
    with pytest.raises(Killed):
        seam.approve("c-close", seam.shown["c-close"], "approve-c-close")
    working = [o for o in seam.broker._orders.values() if o.ref == "w-close" and not o.state.done]
    assert len(working) == 2  # the stop and the target still work: either could open a position nobody approved
    monkeypatch.undo()

    seam.kill_and_restart()

    assert [o for o in seam.broker._orders.values() if o.ref == "w-close" and not o.state.done] == []
    told = seam.approve("c-close", seam.shown["c-close"], "approve-c-close")
    assert told.status == "ok" and "the order went to the broker" in told.headline


def test_a_stop_that_filled_while_no_daemon_ran_is_applied_at_the_next_start(seam, monkeypatch):
    code = seam.propose("w-gone")
    assert seam.approve("w-gone", code, "approve-w-gone").status == "ok"
    assert seam.runtime.broker.lifecycle.get("w-gone").state == "MANAGED"
    seam.broker._listeners.clear()  # the daemon is gone ...
    seam.broker._connected = False
    seam.runtime.close()
    seam.broker._connected = True
    seam.broker.jump_price("EURUSD", -60)  # ... while the market falls through the stop, which fills at the broker
    seam.broker._connected = False
    assert [o for o in seam.broker._orders.values() if o.ref == "w-gone" and not o.state.done] == []
    seam.clock.advance(LEASE_SECONDS + 1)
    seam.runtime = seam._open()

    record = seam.runtime.broker.lifecycle.get("w-gone")
    assert record.state == "CLOSED", record
    # closed by its exit fill, with its autopsy (this test's FakeBroker outlives the daemon, so the position is
    # not one a MOCK restart retires: the fill is applied first)
    assert [b.payload["position"] for b in seam.runtime.store.beads(type_="AUTOPSY")] == ["w-gone"]
    assert seam.runtime.store.flags.halt() is None  # no drift: seam knows what the broker did
