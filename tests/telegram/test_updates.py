"""Commands over long polling: /status, /health, /halt from the configured chat and an allowed user only."""

from __future__ import annotations

import asyncio

from mocks.fake_telegram import FakeTelegram
from seam.clock import FakeClock
from seam.monitor.telegram import TelegramService
from seam.store import Store
from tests.telegram.conftest import CHAT, PERSON, STRANGER, make_service, settings_for, until


def run(service: TelegramService, fake: FakeTelegram, *updates: tuple[int, int, str], replies: int) -> None:
    async def main() -> None:
        last = max(fake.user_message(chat, user, text) for chat, user, text in updates)
        await service.start()
        try:
            await until(lambda: service.tables.offset() > last, what="every update handled")
            await until(lambda: len(fake.texts()) >= replies, what=f"{replies} replies")
        finally:
            await service.stop()

    asyncio.run(main())


def test_status_and_health_reply_with_the_services_texts(store: Store, fake: FakeTelegram, clock: FakeClock) -> None:
    service = make_service(store, fake, clock)
    run(service, fake, (CHAT, PERSON, "/status"), (CHAT, PERSON, "/health@seam_fake_bot"), replies=2)
    assert fake.texts(CHAT) == ["status: 0 intents waiting", "health: HEALTHY"]


def test_halt_from_the_allowed_person_sets_the_halt_flag(store: Store, fake: FakeTelegram, clock: FakeClock) -> None:
    halted: list[tuple[str, str]] = []
    service = make_service(store, fake, clock, halted=halted)
    run(service, fake, (CHAT, PERSON, "/halt news at 13:30"), replies=1)
    assert halted == [("news at 13:30", f"telegram user {PERSON}")]
    flag = store.flags.halt()
    assert flag is not None and flag.reason == "news at 13:30"
    assert fake.texts(CHAT) == ["HALT is on: news at 13:30"]


def test_a_strangers_chat_or_user_is_ignored_with_a_bead(store: Store, fake: FakeTelegram, clock: FakeClock) -> None:
    halted: list[tuple[str, str]] = []
    service = make_service(store, fake, clock, halted=halted)
    run(service, fake, (555, PERSON, "/halt"), (CHAT, STRANGER, "/halt"), (CHAT, PERSON, "/status"), replies=1)
    assert halted == [] and store.flags.halt() is None  # the guard blocks: no halt
    assert fake.texts() == ["status: 0 intents waiting"]  # only the authorized one was answered
    ignored = [b.payload for b in store.beads(type_="TELEGRAM") if b.payload["event"] == "ignored"]
    assert [(b["reason"], b["user_id"], b["chat"]) for b in ignored] == [
        ("chat not authorized", PERSON, "other"),
        ("user not authorized", STRANGER, "configured"),
    ]
    assert all(str(CHAT) not in str(b) for b in ignored)  # the configured chat id is a secret


def test_an_empty_allowed_list_allows_no_one(store: Store, fake: FakeTelegram, clock: FakeClock) -> None:
    halted: list[tuple[str, str]] = []
    service = make_service(store, fake, clock, halted=halted, settings=settings_for(fake, allowed_user_ids=[]))

    async def main() -> None:
        fake.user_message(CHAT, PERSON, "/halt")
        await service.start()
        try:
            await until(lambda: service.tables.offset() == 2, what="the update handled")
        finally:
            await service.stop()

    asyncio.run(main())
    assert halted == [] and fake.texts() == []
    assert [b.payload["reason"] for b in store.beads(type_="TELEGRAM")] == ["user not authorized"]


def test_a_handled_update_is_not_handled_again_after_a_restart(
    store: Store, fake: FakeTelegram, clock: FakeClock
) -> None:
    halted: list[tuple[str, str]] = []
    run(make_service(store, fake, clock, halted=halted), fake, (CHAT, PERSON, "/halt first"), replies=1)
    second = make_service(store, fake, clock, halted=halted)

    async def main() -> None:
        assert await second.poll_once(timeout=0) == 0  # the offset says update 1 was handled
        await second.api.aclose()

    asyncio.run(main())
    assert halted == [("first", f"telegram user {PERSON}")]
