"""A daemon's runtime on a FakeBroker with a fake clock: its sleep only advances that clock."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from seam.broker.fake import FakeBroker
from seam.broker.lifecycle import PositionState
from seam.clock import FakeClock
from seam.config import LoadedConfig, Secrets, Settings
from seam.runtime import Runtime
from tests.conftest import make_seam


class MonitorHarness:
    def __init__(
        self, root: Path, broker: FakeBroker | None = None, *, clock: FakeClock | None = None, **settings: Any
    ):
        self.paths = make_seam(root) if not (root / "seam.yaml").exists() else _paths(root)
        self.clock = clock or FakeClock()
        self.broker = broker or FakeBroker(clock=self.clock)
        self.slept: list[float] = []
        self.late = 0.0  # seconds every sleep overshoots by: a late delivery
        self.runtime = Runtime.open(
            self.paths,
            LoadedConfig(Settings.model_validate(settings), Secrets(), {}),
            clock=self.clock,
            broker_client=self.broker,
            sleep=self.sleep,
            approval=False,
        )
        self.store = self.runtime.store
        assert self.runtime.broker is not None and self.runtime.heartbeat is not None
        self.service = self.runtime.broker
        self.heartbeat = self.runtime.heartbeat

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds + self.late)
        await asyncio.sleep(0)

    def position(self, position_id: str, *states: PositionState) -> None:
        lifecycle = self.service.lifecycle
        lifecycle.open(position_id, "EURUSD", "BUY", 10_000)
        for state in states:
            lifecycle.transition(position_id, state, reason="test")

    def beads(self, type_: str) -> list[dict[str, Any]]:
        return [b.payload for b in self.store.beads(type_=type_)]

    def close(self) -> None:
        self.runtime.close()


def _paths(root: Path):  # type: ignore[no-untyped-def]
    from seam.paths import SeamPaths

    return SeamPaths.at(root)
