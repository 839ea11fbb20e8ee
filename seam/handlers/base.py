"""What every handler receives: the settings, the seam's folders, the store, a clock, typed services."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from seam.blocking import run_in
from seam.clock import Clock
from seam.config import Settings
from seam.errors import HandlerError
from seam.paths import SeamPaths
from seam.store import Store

if TYPE_CHECKING:
    from seam.approval import ApprovalService
    from seam.broker.service import BrokerService

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
    broker: BrokerService | None = None
    approval: ApprovalService | None = None
    # the thread pool of the lane this intent runs in (the halt lane has its own), for blocking work
    pool: Executor | None = None

    def require_broker(self) -> BrokerService:
        if self.broker is None:
            raise HandlerError(
                "this process has no broker: only the daemon that owns the broker handles this kind",
                "Send it through the seam with `seam watch` running.",
            )
        return self.broker

    def require_approval(self) -> ApprovalService:
        if self.approval is None:
            raise HandlerError(
                "this process has no approval service: only the daemon that owns the broker handles this kind",
                "Send it through the seam with `seam watch` running.",
            )
        return self.approval

    async def blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work (SQLite, files) in this lane's pool, off the event loop (an inline lane's: here)."""
        return await run_in(self.pool, fn, *args, **kwargs)
