"""Who answers the MCP server's intents: a daemon that already holds the seam, or one this process runs.

    a daemon holds the seam (`seam watch`, a service) ──► client only: intents go into the seam, its daemon answers
    no daemon holds it ─────────────────────────────────► a daemon in this process, on this event loop, stopped on exit

Either way every tool call goes through `seam.client`, so the intent is checked, written, handled and answered
exactly as a file an agent drops by hand. INV: one owner of the broker: the daemon run here takes the broker lease
like any other (seam/broker/lease.py) and stands by when another daemon holds it, so no second IB link is opened.
"""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING

from seam.approval import CodeChannel
from seam.clock import Clock
from seam.config import LoadedConfig
from seam.paths import SeamPaths

if TYPE_CHECKING:
    from seam.daemon import Daemon, RunSummary

__all__ = ["DaemonRole", "SeamHost"]

logger = logging.getLogger(__name__)

START_SECONDS = 15.0  # a daemon that has not started within this is a failure to report, not to wait on
STOP_SECONDS = 20.0


class DaemonRole(StrEnum):
    IN_PROCESS = "in-process"
    CLIENT = "client"


class SeamHost:
    """The seam an MCP server serves, and the daemon answering it (the one run here, when none was running)."""

    def __init__(
        self,
        paths: SeamPaths,
        config: LoadedConfig,
        *,
        clock: Clock,
        channels: list[CodeChannel] | None = None,
        run_daemon: bool = True,
    ) -> None:
        self.paths = paths
        self.config = config
        self.clock = clock
        self._channels = channels
        self._run_daemon = run_daemon  # False: never start one here (client only, whatever runs)
        self._daemon: Daemon | None = None  # the daemon modules load only when one runs here
        self._task: asyncio.Task[RunSummary] | None = None
        self._lock = asyncio.Lock()

    @property
    def role(self) -> DaemonRole:
        return DaemonRole.IN_PROCESS if self._task is not None and not self._task.done() else DaemonRole.CLIENT

    def direct(self, kind: str) -> Daemon | None:
        """The daemon run here, when it answers an intent of `kind` at once (`Daemon.deliver` and `Daemon.answer`):
        every kind but the halt, which keeps its own lane (intents/priority/), and research, whose steps take seconds
        and so stay off this event loop (`Registry.answered_inline`). None: the intent goes into the seam as a file."""
        daemon = self._daemon
        if self.role is not DaemonRole.IN_PROCESS or daemon is None or not daemon.registry.answered_inline(kind):
            return None
        return daemon

    def other_daemons(self) -> list[str]:
        """The daemons that hold the seam now, other than the one run here."""
        from seam.intake import live_owners

        own = self._daemon.claimant.owner if self._daemon is not None else None
        return [owner for owner in live_owners(self.paths.processing) if owner != own]

    def describe(self) -> str:
        """One sentence for the server's instructions and seam://status."""
        if self.role is DaemonRole.IN_PROCESS:
            return (
                "This MCP server runs the seam's daemon itself (no `seam watch` was running when it started); "
                "it stops the daemon when it exits."
            )
        others = self.other_daemons()
        if others:
            return (
                f"This MCP server is a client of the daemon already running on the seam ({', '.join(others)}, "
                "e.g. `seam watch` as a service); that daemon answers every intent."
            )
        return "This MCP server is a client of the seam; no daemon is running on it now (start `seam watch`)."

    async def __aenter__(self) -> SeamHost:
        await self.ensure_daemon()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def ensure_daemon(self) -> None:
        """Start a daemon here when none holds the seam (at start, and again before each tool call, so a
        `seam watch` that stopped is replaced rather than left to time out)."""
        if not self._run_daemon or self.role is DaemonRole.IN_PROCESS:
            return
        async with self._lock:
            if self._task is not None and not self._task.done():
                return
            if await asyncio.to_thread(self.other_daemons):
                return
            await self._start()

    async def _start(self) -> None:
        from seam.cli.watch import note_capital_changes
        from seam.daemon import Daemon
        from seam.runtime import Runtime

        runtime = await asyncio.to_thread(
            Runtime.open, self.paths, self.config, clock=self.clock, channels=self._channels
        )
        daemon = Daemon(self.paths, self.config, runtime=runtime)
        # as `seam watch` does at start: a capital setting changed since the last start is shown and beaded
        await asyncio.to_thread(note_capital_changes, daemon.store, self.config)
        task = asyncio.get_running_loop().create_task(daemon.run(), name="seam-mcp-daemon")
        started = asyncio.ensure_future(daemon.started.wait())
        await asyncio.wait({task, started}, timeout=START_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            started.cancel()
            daemon.stop()
            await asyncio.wait({task}, timeout=STOP_SECONDS)
            if task.done():
                task.result()  # the daemon's own error (a configuration or guard refusal), raised here
            task.cancel()
            raise RuntimeError(f"the daemon did not start within {START_SECONDS:g} s")
        self._daemon, self._task = daemon, task
        logger.info("no daemon held %s: running one in this process until the MCP server exits", self.paths.root)

    async def stop(self) -> None:
        """Stop the daemon run here (finishing what it is handling); nothing when this is a client."""
        task, daemon = self._task, self._daemon
        if task is None or daemon is None:
            return
        daemon.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_SECONDS)
        except TimeoutError:
            logger.error("the in-process daemon did not stop within %g s; cancelling it", STOP_SECONDS)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._task = self._daemon = None
        logger.info("the in-process daemon stopped")
