"""What every handler receives: the settings, the seam's folders, the bead store, a clock."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from seam.clock import Clock
from seam.config import Settings
from seam.paths import SeamPaths
from seam.store import Store

__all__ = ["HandlerContext"]

T = TypeVar("T")



@dataclass
class HandlerContext:
    settings: Settings
    paths: SeamPaths
    store: Store
    clock: Clock
    owner: str = "cli"
    queue_depth: Callable[[], dict[str, int]] = field(default=lambda: {})
    services: dict[str, Any] = field(default_factory=dict)
    # the thread pool of the lane this intent runs in (the halt lane has its own), for blocking work
    pool: Executor | None = None

    async def blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work (SQLite, files) in this lane's pool, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))
