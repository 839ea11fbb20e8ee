"""Telegram in a real daemon: the runtime starts it in the owner of the broker, offers proposals with buttons, delivers
alerts, answers /status and /halt through the seam, and in strict mode is where the code goes (and nowhere else)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mocks.fake_telegram import FakeTelegram
from seam.clock import FakeClock
from seam.paths import SeamPaths
from seam.store import ProposalStatus
from tests.conftest import DaemonThread, drop, make_seam, wait_for, wait_response
from tests.telegram.conftest import CHAT, PERSON, STRANGER
from tests.test_approval import READY, intent


def _config(fake: FakeTelegram, extra: str = "") -> str:
    return (
        "telegram:\n"
        "  enabled: true\n"
        f"  base_url: {fake.base_url}\n"
        f"  allowed_user_ids: [{PERSON}]\n"
        "  poll_timeout_seconds: 1\n"
        "  request_timeout_seconds: 2\n" + extra
    )


class TelegramDesk:
    def __init__(self, paths: SeamPaths, fake: FakeTelegram, daemon: DaemonThread) -> None:
        self.paths, self.fake, self.daemon = paths, fake, daemon

    @property
    def runtime(self) -> Any:
        return self.daemon.daemon.runtime

    def send(self, intent_id: str, kind: str, payload: str) -> dict[str, Any]:
        drop(self.paths, f"{intent_id}.yaml", intent(intent_id, kind, payload))
        return wait_response(self.paths, intent_id)

    def offered(self, proposal: str) -> Any:
        """The message that offers `proposal`, with its Approve / Reject buttons."""
        return wait_for(
            lambda: next((s for s in self.fake.sent if proposal in s.text and s.reply_markup), None),
            what=f"the offer of {proposal} in Telegram",
        )

    def button(self, proposal: str, label: str) -> str:
        rows = self.offered(proposal).reply_markup["inline_keyboard"]
        return next(b["callback_data"] for row in rows for b in row if b["text"].lower().startswith(label))


def _desk(tmp_path: Path, fake: FakeTelegram, extra: str = "") -> Iterator[TelegramDesk]:
    paths = make_seam(tmp_path / "desk", _config(fake, extra))
    env = {"SEAM_TELEGRAM_TOKEN": fake.token, "SEAM_TELEGRAM_CHAT_ID": str(CHAT)}
    with DaemonThread(paths, env=env, clock=FakeClock()) as daemon:
        yield TelegramDesk(paths, fake, daemon)


@pytest.fixture
def desk(tmp_path: Path, fake: FakeTelegram) -> Iterator[TelegramDesk]:
    yield from _desk(tmp_path, fake)


@pytest.fixture
def strict_desk(tmp_path: Path, fake: FakeTelegram) -> Iterator[TelegramDesk]:
    yield from _desk(tmp_path, fake, "approval:\n  strict: true\n")


def test_a_proposal_is_offered_and_the_persons_button_places_one_order(desk: TelegramDesk) -> None:
    assert desk.runtime.telegram is not None and desk.runtime.telegram.running
    assert desk.send("sig-1", "signal", READY)["status"] == "pending_approval"
    approve = desk.button("sig-1", "approve")
    desk.fake.press(CHAT, STRANGER, approve)  # someone else in the chat: nothing happens
    desk.fake.press(CHAT, PERSON, approve)
    broker = desk.runtime.broker.broker
    wait_for(lambda: len(broker.sent) == 1, what="the order")
    assert desk.runtime.approval.get("sig-1").status is ProposalStatus.APPROVED
    wait_for(
        lambda: any(s.text.endswith(f"by Telegram user {PERSON}") for s in desk.fake.sent), what="the edited offer"
    )
    assert len(broker.sent) == 1  # the stranger's press placed nothing
    ignored = [b.payload for b in desk.runtime.store.beads(type_="TELEGRAM") if b.payload.get("event") == "ignored"]
    assert ignored and ignored[0]["user_id"] == STRANGER


def test_halt_from_telegram_goes_through_the_seam_and_its_alert_arrives(desk: TelegramDesk) -> None:
    desk.fake.user_message(CHAT, PERSON, "/halt news at 14:30")
    wait_for(lambda: desk.runtime.store.flags.halt() is not None, what="the halt flag")
    halt = desk.runtime.store.flags.halt()
    assert "news at 14:30" in halt.reason and f"telegram user {PERSON}" in halt.reason
    # the halt was an intent in the seam, answered by the daemon like any other
    wait_for(
        lambda: [b for b in desk.runtime.store.beads(type_="INTENT") if b.payload.get("kind") == "halt"],
        what="the halt intent's answer",
    )
    wait_for(lambda: any("HALT_ON" in t for t in desk.fake.texts(CHAT)), what="the CRITICAL alert in Telegram")
    wait_for(lambda: any(t.startswith("# HALT") for t in desk.fake.texts(CHAT)), what="the reply to /halt")
    desk.fake.user_message(CHAT, PERSON, "/status")
    wait_for(lambda: any(t.startswith("# Status") for t in desk.fake.texts(CHAT)), what="the reply to /status")


def test_in_strict_mode_the_code_goes_to_telegram_and_approves(strict_desk: TelegramDesk) -> None:
    desk = strict_desk
    assert desk.send("sig-2", "signal", READY)["status"] == "pending_approval"
    message = wait_for(
        lambda: next((t for t in desk.fake.texts(CHAT) if "sig-2" in t and re.search(r"\b\d{6}\b", t)), None),
        what="the code in Telegram",
    )
    code = re.search(r"\b(\d{6})\b", message)
    assert code is not None
    # INV: strict mode: Telegram is the only channel; nothing else is given the code
    assert desk.runtime.approval.channels == [desk.runtime._telegram_code, desk.runtime._telegram_offer]
    response = desk.send("ap-2", "approve", f"{{proposal: sig-2, code: '{code.group(1)}'}}")
    assert response["status"] == "ok", response["body"]
    assert len(desk.runtime.broker.broker.sent) == 1
