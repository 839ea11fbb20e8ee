"""Blocking work off the event loop: the type of an `offload` and the default one.

A blocking SQLite write on the event loop's thread stalls every coroutine on it, the halt lane's
included, for as long as the write waits for the store's lock. Services that write from coroutines
take an `offload`; the runtime points it at a lane's thread pool.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

__all__ = ["Offload", "in_default_pool"]

T = TypeVar("T")


class Offload(Protocol):
    def __call__(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Awaitable[T]: ...


async def in_default_pool(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """The loop's default executor: for services used outside a daemon (tests, a console)."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))
