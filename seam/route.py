"""Route stage: an explicit registry from kind to handler, with its lane.

No import-time magic: `default_registry()` lists every registration. Registering a kind twice is an
error at start-up; asking for an unregistered kind is impossible after validation (Kind is closed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from seam.errors import RegistryError
from seam.intent import Kind

if TYPE_CHECKING:
    from seam.handlers.base import HandlerContext
    from seam.respond import Outcome
    from seam.validate import ValidIntent

__all__ = ["Handler", "Lane", "Presented", "Registry", "default_registry"]

Handler = Callable[["HandlerContext", "ValidIntent"], Awaitable["Outcome"]]
Presented = Callable[["HandlerContext", "ValidIntent"], None]


class Lane(StrEnum):
    NORMAL = "normal"
    PRIORITY = "priority"  # handled ahead of any backlog, by workers of its own


@dataclass(frozen=True)
class Route:
    kind: Kind
    handler: Handler
    lane: Lane
    read_only: bool = False  # no side effects: may run without reserving its id first
    # what merely presenting a valid intent of this kind does when it is not carried out (an id conflict):
    # blocking, run in the lane's pool; an approve's code is spent this way too
    presented: Presented | None = None
    # handled only by the daemon that owns the seam's broker (its lease); a standby leaves it to that daemon
    needs_broker: bool = False
    # its blocking steps take milliseconds, so one intent alone may run them on the event loop (seam/daemon.py);
    # research takes seconds and always runs them on its lane's threads
    quick: bool = True


@dataclass
class Registry:
    routes: dict[Kind, Route] = field(default_factory=dict)

    def register(
        self,
        kind: Kind,
        handler: Handler,
        *,
        lane: Lane = Lane.NORMAL,
        read_only: bool = False,
        presented: Presented | None = None,
        needs_broker: bool = False,
        quick: bool = True,
    ) -> None:
        if kind in self.routes:
            raise RegistryError(f"a handler for kind {kind!s} is already registered")
        self.routes[kind] = Route(kind, handler, lane, read_only, presented, needs_broker, quick)

    def replace(self, kind: Kind, handler: Handler) -> None:
        """Swap the handler of a registered kind, keeping its lane (for embedding and tests)."""
        self.routes[kind] = dataclasses.replace(self.routes[kind], handler=handler)

    def route(self, kind: Kind) -> Route:
        return self.routes[kind]

    def priority_kinds(self) -> frozenset[str]:
        return frozenset(str(k) for k, r in self.routes.items() if r.lane is Lane.PRIORITY)

    def answered_inline(self, kind: Kind | str) -> bool:
        """Whether one intent of `kind` alone may run its steps on the event loop: a quick kind of the normal lane
        (the halt keeps its own lane)."""
        route = self.routes.get(Kind(kind))
        return route is not None and route.quick and route.lane is Lane.NORMAL

    def broker_kinds(self) -> frozenset[str]:
        """The kinds only the broker's owner handles."""
        return frozenset(str(k) for k, r in self.routes.items() if r.needs_broker)

    def check_complete(self) -> None:
        missing = [str(k) for k in Kind if k not in self.routes]
        if missing:
            raise RegistryError(f"no handler registered for: {', '.join(missing)}")


async def _query(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    from seam.handlers import research  # numpy and DuckDB load with the first research intent, not with every CLI

    return await research.handle_query(ctx, intent)


async def _hunt(ctx: HandlerContext, intent: ValidIntent) -> Outcome:
    from seam.handlers import research

    return await research.handle_hunt(ctx, intent)


def default_registry(**_: Any) -> Registry:
    """Every kind, routed."""
    from seam.handlers import approval, broker, narrate, system

    registry = Registry()
    registry.register(Kind.HALT, system.handle_halt, lane=Lane.PRIORITY)
    registry.register(Kind.STATUS, system.handle_status, read_only=True)
    # the kinds that need the broker go only to the daemon that owns it (seam/broker/lease.py)
    registry.register(Kind.ACCOUNT, broker.handle_account, read_only=True, needs_broker=True)
    registry.register(Kind.POSITIONS, broker.handle_positions, read_only=True, needs_broker=True)
    registry.register(Kind.CANCEL, broker.handle_cancel, needs_broker=True)
    registry.register(Kind.RECONCILE, broker.handle_reconcile, needs_broker=True)
    registry.register(Kind.SIGNAL, approval.handle_signal, needs_broker=True)
    registry.register(Kind.CLOSE, approval.handle_close, needs_broker=True)
    registry.register(Kind.APPROVE, approval.handle_approve, presented=approval.spend_presented_code, needs_broker=True)
    registry.register(Kind.QUERY, _query, read_only=True, quick=False)
    registry.register(Kind.HUNT, _hunt, quick=False)
    registry.register(Kind.NARRATE, narrate.handle_narrate, read_only=True)
    registry.register(Kind.MEMORY, narrate.handle_memory, read_only=True)
    registry.check_complete()
    return registry
