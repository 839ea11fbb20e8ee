"""Blocking work off the event loop: the type of an `offload` and the default one.

A blocking SQLite write on the event loop's thread stalls every coroutine on it, the halt lane's
included, for as long as the write waits for the store's lock. Services that write from coroutines
take an `offload`; the runtime points it at a lane's thread pool.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future
from typing import Any, Protocol, TypeVar

__all__ = ["InlineExecutor", "Offload", "in_default_pool", "run_in"]

T = TypeVar("T")


class Offload(Protocol):
    def __call__(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Awaitable[T]: ...


async def in_default_pool(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """The loop's default executor: for services used outside a daemon (tests, a console)."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))


class InlineExecutor(Executor):
    """Runs what is submitted at once, on the submitting thread: the "pool" of a lane whose thread does its own
    blocking work (the halt lane's thread; the event loop, for one intent this process waits on). Handing that work
    to another thread would make it wait for the GIL twice per step."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


async def run_in(pool: Executor | None, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in `pool` (None: the loop's default one), awaited. In an InlineExecutor it is called
    here and now, with no turn of the loop to wait for a future that is already done."""
    if isinstance(pool, InlineExecutor):
        return fn(*args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args, **kwargs))
