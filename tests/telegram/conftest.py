"""Telegram tests: a fake Bot API over real HTTP on 127.0.0.1, a real seam.db, a fake clock for every wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mocks.fake_telegram import FakeTelegram
from seam.clock import FakeClock
from seam.config import Secrets, Settings, load_config
from seam.monitor.telegram import ButtonOutcome, Decide, TelegramService
from seam.runtime import Runtime
from seam.store import Store
from tests.conftest import make_seam

CHAT = 1001  # the configured chat (SEAM_TELEGRAM_CHAT_ID)
PERSON = 42  # the allowed user
STRANGER = 666


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def settings_for(fake: FakeTelegram, **telegram: Any) -> Settings:
    values: dict[str, Any] = {
        "enabled": True,
        "base_url": fake.base_url,
        "allowed_user_ids": [PERSON],
        "poll_timeout_seconds": 1,
        "request_timeout_seconds": 0.3,
        "retry_initial_seconds": 1.0,
        "retry_max_seconds": 8.0,
        **telegram,
    }
    return Settings.model_validate({"telegram": values})


def secrets_for(fake: FakeTelegram, chat: str = str(CHAT)) -> Secrets:
    return Secrets.model_validate({"telegram_token": fake.token, "telegram_chat_id": chat})


class Waits:
    """The service's sleep: records each wait and moves the fake clock by it instead of sleeping."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.seen: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seen.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0.005)  # let the loop breathe; no real wait stands for the backoff


async def _nothing(proposal_id: str, via: str) -> ButtonOutcome:
    raise AssertionError(f"no decision expected ({proposal_id} via {via})")


def make_service(
    store: Store,
    fake: FakeTelegram,
    clock: FakeClock,
    *,
    settings: Settings | None = None,
    halted: list[tuple[str, str]] | None = None,
    approve: Decide = _nothing,
    reject: Decide = _nothing,
    waits: Waits | None = None,
    chat: str = str(CHAT),
) -> TelegramService:
    async def halt(reason: str, by: str) -> str:
        store.halt_on(reason, by=by)
        if halted is not None:
            halted.append((reason, by))
        return f"HALT is on: {reason}"

    return TelegramService(
        store,
        settings or settings_for(fake),
        secrets_for(fake, chat),
        clock,
        status_text=lambda: "status: 0 intents waiting",
        health_text=lambda: "health: HEALTHY",
        halt=halt,
        approve=approve,
        reject=reject,
        sleep=waits or Waits(clock),
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()  # Wednesday 2026-11-18 09:00 UTC


def console(root: Path, clock: FakeClock) -> Runtime:
    """A seam's store the way every surface gets it: from the runtime (no broker here)."""
    paths = make_seam(root)
    return Runtime.console(paths, load_config(paths, env={}), clock=clock)


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    runtime = console(tmp_path / "seam", clock)
    yield runtime.store
    runtime.close()


async def until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
    """Wait, bounded, for `predicate` to hold (the worker and poller run on this loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
