"""Bounded waits on what the daemon writes (response files, beads, position states); a timeout is a DemoFailure."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from seam.broker.lifecycle import TERMINAL
from seam.demo.script import DemoFailure
from seam.respond import read_front_matter
from seam.store import Store

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """A response file as the agent reads it back."""

    intent_id: str
    status: str
    path: Path
    body: str


class Waits:
    """Polls the store and the responses folder; `alive` names a daemon that died instead of timing out."""

    def __init__(self, store: Store, alive: Callable[[], None], timeout: float) -> None:
        self.store = store
        self.alive = alive
        self.timeout = timeout

    def until(self, predicate: Callable[[], T | None], timeout: float, what: str) -> T:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            self.alive()
            if time.monotonic() > deadline:
                raise DemoFailure(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(0.02)

    def response(self, path: Path, what: str) -> Answer:
        def ready() -> dict[str, Any] | None:
            return read_front_matter(path)

        front = self.until(ready, self.timeout, what)
        body = path.read_text(encoding="utf-8").split("\n---\n", 1)[-1]
        return Answer(str(front.get("id")), str(front.get("status")), path, body)

    def state(self, position: str, states: set[str], what: str) -> None:
        def reached() -> bool:
            record = self.store.positions.get(position)
            state = record.state if record else None
            if state in TERMINAL and state not in states:  # it will never move again
                raise DemoFailure(f"{position} ended {state} while the demo waited for {what}")
            return state in states

        self.until(reached, self.timeout, what)

    def bead(self, type_: str, *, after: int, what: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            beads = self.store.beads(type_=type_, after=after)
            return beads[0].payload if beads else None

        return self.until(found, self.timeout, what)
