"""Fixtures for fake gateway tests: an event loop runner, a started gateway, and bounded waiting.

The runner lets ``async def`` tests run without an asyncio pytest plugin: fixtures and the test share
one loop, so a client connected in a fixture keeps working inside the test. Nothing here imports a
client library, so the same conftest serves the ib_async and the ib_insync legs.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from mocks.fake_ib_gateway import FakeGateway

# Every async test is bounded: a hang fails the test instead of the whole run.
TEST_TIMEOUT = 5.0
ACCOUNT = "DU123456"
SEED = 7

Eventually = Callable[..., Awaitable[None]]


@pytest.fixture
def aio() -> Iterator[asyncio.Runner]:
    """One event loop for a test and its fixtures."""
    with asyncio.Runner() as runner:
        yield runner


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests on the ``aio`` runner, bounded by TEST_TIMEOUT."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    runner = pyfuncitem.funcargs.get("aio")
    if not isinstance(runner, asyncio.Runner):
        pytest.fail("an async test needs the aio fixture (directly or through gateway)")
    names = inspect.signature(pyfuncitem.obj).parameters
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    runner.run(asyncio.wait_for(pyfuncitem.obj(**kwargs), TEST_TIMEOUT))
    return True


@pytest.fixture
def gateway(aio: asyncio.Runner) -> Iterator[FakeGateway]:
    """A fake gateway on a free port of 127.0.0.1, stopped after the test."""
    gw = FakeGateway(accounts=[ACCOUNT], seed=SEED)
    aio.run(gw.start())
    yield gw
    aio.run(gw.stop())


async def _eventually(predicate: Callable[[], Any], timeout: float = 2.0, what: str = "") -> None:
    """Wait until ``predicate()`` is true, checking as the loop processes messages; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or predicate}")
        await asyncio.sleep(0.005)


@pytest.fixture
def eventually() -> Eventually:
    return _eventually
