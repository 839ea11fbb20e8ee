"""Approve / Reject buttons on a real runtime (MOCK broker): one press by the allowed person is one order;
a stranger's press, a replayed press, an expired or a changed proposal's press do nothing; strict codes go here."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from mocks.fake_telegram import FakeTelegram
from seam.broker.fake import FakeBroker
from seam.clock import FakeClock
from seam.config import load_config
from seam.monitor.telegram import TelegramService, decisions
from seam.runtime import Runtime
from seam.store import ProposalStatus
from tests.conftest import READY_SIGNAL, make_seam
from tests.telegram.conftest import CHAT, PERSON, STRANGER, make_service, until


class Desk:
    """A runtime with a fake broker on a fake clock, and the Telegram service wired to its approvals."""

    def __init__(self, root: Path, fake: FakeTelegram, config_yaml: str = "", *, code_channel: bool = False) -> None:
        self.paths = make_seam(root, config_yaml)
        self.clock = FakeClock()
        self.fake = fake
        self.runtime = Runtime.open(
            self.paths,
            load_config(self.paths, env={}),
            clock=self.clock,
            broker_client=FakeBroker(clock=self.clock),
            channels=[],
        )
        assert self.runtime.approval is not None and self.runtime.broker is not None
        self.approval = self.runtime.approval
        self.broker = self.runtime.broker.broker
        assert isinstance(self.broker, FakeBroker)
        approve, reject = decisions(self.approval)
        self.telegram: TelegramService = make_service(
            self.runtime.store, fake, self.clock, approve=approve, reject=reject
        )
        if code_channel:
            self.approval.channels = [self.telegram.code_channel()]
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.runtime.start(timers=False))
        self.loop.run_until_complete(self.telegram.start())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def offer(self, proposal_id: str) -> dict[str, str]:
        """Propose, offer with buttons, wait for the message; returns decision → callback_data."""
        proposal = self.run(
            self.approval.propose_open(proposal_id, hashlib.sha256(proposal_id.encode()).hexdigest(), READY_SIGNAL)
        )
        self.telegram.offer_proposal(proposal)
        self.run(until(lambda: any(proposal_id in t for t in self.fake.texts(CHAT)), what="the offer"))
        sent = [s for s in self.fake.sent if proposal_id in s.text][-1]
        assert sent.reply_markup is not None
        row = sent.reply_markup["inline_keyboard"][0]
        return {"approve": row[0]["callback_data"], "reject": row[1]["callback_data"]}

    def press(self, data: str, *, chat: int = CHAT, user: int = PERSON) -> dict[str, Any]:
        """A press, and the answer it got."""
        before = len(self.fake.answers)
        self.fake.press(chat, user, data)
        self.run(until(lambda: len(self.fake.answers) > before, what="the callback answered"))
        return self.fake.answers[-1]

    def settled(self) -> None:
        self.run(until(lambda: self.telegram.tables.queued_count() == 0, what="the outbox empty"))

    def status(self, proposal_id: str) -> ProposalStatus:
        return self.approval.get(proposal_id).status

    def close(self) -> None:
        self.run(self.telegram.stop())
        self.run(self.runtime.stop())
        self.loop.close()
        self.runtime.close()


@pytest.fixture
def desk(tmp_path: Path, fake: FakeTelegram):  # type: ignore[no-untyped-def]
    d = Desk(tmp_path / "desk", fake)
    yield d
    d.close()


def test_approve_by_button_places_exactly_one_order_and_edits_the_message(desk: Desk) -> None:
    data = desk.offer("p-1")
    answer = desk.press(data["approve"])
    assert answer["text"].startswith("approved at 09:00 UTC")
    assert len(desk.broker.sent) == 1 and desk.broker.sent[0].ref == "p-1"
    assert desk.status("p-1") is ProposalStatus.APPROVED
    desk.settled()
    message = [s for s in desk.fake.sent if "p-1" in s.text][-1]
    assert message.text.endswith(f"approved at 09:00 UTC by Telegram user {PERSON}")
    assert message.reply_markup is None  # the buttons are gone
    events = [b.payload["event"] for b in desk.runtime.store.beads(type_="APPROVAL", intent_id="p-1")]
    assert "approved" in events


def test_a_replayed_press_does_nothing_and_is_answered_already_used(desk: Desk) -> None:
    data = desk.offer("p-1")
    desk.press(data["approve"])
    assert desk.press(data["approve"])["text"] == "This button was already used; nothing was done."
    assert desk.press(data["reject"])["text"] == "This button was already used; nothing was done."
    assert len(desk.broker.sent) == 1 and desk.status("p-1") is ProposalStatus.APPROVED


@pytest.mark.parametrize(("chat", "user"), [(555, PERSON), (CHAT, STRANGER)], ids=["stranger chat", "stranger user"])
def test_a_strangers_press_does_nothing_and_leaves_a_bead(desk: Desk, chat: int, user: int) -> None:
    data = desk.offer("p-1")
    assert desk.press(data["approve"], chat=chat, user=user)["text"] == "Not authorized; nothing was done."
    assert desk.broker.sent == [] and desk.status("p-1") is ProposalStatus.PENDING
    ignored = [b.payload for b in desk.runtime.store.beads(type_="TELEGRAM") if b.payload["event"] == "ignored"]
    assert len(ignored) == 1 and ignored[0]["kind"] == "callback" and ignored[0]["user_id"] == user
    # the button still works for the person it was offered to
    assert desk.press(data["approve"])["text"].startswith("approved at")
    assert len(desk.broker.sent) == 1


def test_an_expired_button_does_nothing_and_the_message_says_expired(desk: Desk) -> None:
    data = desk.offer("p-1")
    desk.clock.advance(301)
    assert desk.press(data["approve"])["text"] == "Expired at 09:05 UTC; nothing was done."
    assert desk.broker.sent == []
    desk.settled()
    message = [s for s in desk.fake.sent if "p-1" in s.text][-1]
    assert message.text.endswith("expired at 09:05 UTC; nothing was done") and message.reply_markup is None
    assert desk.press(data["approve"])["text"] == "This button was already used; nothing was done."


def test_unpressed_buttons_past_their_expiry_are_edited_to_expired(desk: Desk) -> None:
    desk.offer("p-1")
    desk.clock.advance(301)
    assert desk.telegram.sweep_expired() == 1
    desk.settled()
    message = [s for s in desk.fake.sent if "p-1" in s.text][-1]
    assert message.text.endswith("expired at 09:05 UTC; nothing was done")
    assert desk.telegram.sweep_expired() == 0


def test_a_press_on_a_proposal_changed_since_the_offer_does_nothing(desk: Desk) -> None:
    data = desk.offer("p-1")
    with desk.runtime.store.transaction() as tx:  # the terms the buttons were bound to are no longer the proposal's
        tx.execute("UPDATE telegram_buttons SET bound_hash = 'other terms' WHERE proposal_id = 'p-1'")
    answer = desk.press(data["approve"])
    assert answer["text"] == "The proposal changed since these buttons were sent; nothing was done."
    assert desk.broker.sent == [] and desk.status("p-1") is ProposalStatus.PENDING


def test_a_press_on_a_proposal_decided_elsewhere_does_nothing(desk: Desk) -> None:
    data = desk.offer("p-1")
    _approve, reject = decisions(desk.approval)
    desk.run(reject("p-1", "console"))
    assert desk.press(data["approve"])["text"] == "Proposal is rejected; nothing was done."
    assert desk.broker.sent == []


def test_reject_by_button_closes_the_proposal_and_sends_nothing(desk: Desk) -> None:
    data = desk.offer("p-1")
    assert desk.press(data["reject"])["text"].startswith("rejected at 09:00 UTC")
    assert desk.broker.sent == [] and desk.status("p-1") is ProposalStatus.REJECTED


def test_strict_mode_codes_go_to_telegram_and_nowhere_else(
    tmp_path: Path, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    desk = Desk(tmp_path / "strict", fake, "approval:\n  strict: true\n", code_channel=True)
    try:
        desk.run(desk.approval.propose_open("p-1", hashlib.sha256(b"p-1").hexdigest(), READY_SIGNAL))
        desk.run(until(lambda: any("Approval code" in t for t in fake.texts(CHAT)), what="the code message"))
        desk.settled()
        (text,) = [t for t in fake.texts(CHAT) if "Approval code" in t]
        found = re.search(r"Approval code (\d{6}) for proposal p-1", text)
        assert found is not None
        code = found.group(1)
        beads = str([b.payload for b in desk.runtime.store.beads()])
        assert code not in beads and code not in caplog.text
        for path in desk.paths.root.rglob("*"):
            if path.is_file():
                assert code.encode() not in path.read_bytes(), f"the code rests readable in {path}"
        # the code from Telegram approves, through the approve path
        decided = desk.run(desk.approval.decide("p-1", code, "approve", via="test"))
        assert decided.status == "ok" and len(desk.broker.sent) == 1
    finally:
        desk.close()


def test_the_offer_channel_offers_every_new_proposal_with_buttons(desk: Desk) -> None:
    desk.approval.channels = [desk.telegram.offer_channel()]
    desk.run(desk.approval.propose_open("p-2", hashlib.sha256(b"p-2").hexdigest(), READY_SIGNAL))
    desk.run(until(lambda: any("Proposal p-2" in t for t in desk.fake.texts(CHAT)), what="the offer"))
    (sent,) = [s for s in desk.fake.sent if "Proposal p-2" in s.text]
    assert sent.reply_markup is not None
    approve = sent.reply_markup["inline_keyboard"][0][0]
    assert approve["text"] == "Approve" and len(approve["callback_data"]) <= 64  # the Bot API's limit
    assert "p-2" not in approve["callback_data"]  # opaque: the proposal is mapped server-side
    assert desk.press(approve["callback_data"])["text"].startswith("approved at")
    assert len(desk.broker.sent) == 1


def test_a_press_whose_decision_fails_is_still_answered(desk: Desk) -> None:
    async def broken(proposal_id: str, via: str):  # type: ignore[no-untyped-def]
        raise RuntimeError("the approval path broke")

    data = desk.offer("p-1")
    desk.telegram._approve = broken
    answer = desk.press(data["approve"])
    assert answer["text"] == "seam could not handle this press; the daemon's log has the error."
    assert desk.broker.sent == []
    assert desk.press(data["approve"])["text"] == "This button was already used; nothing was done."
