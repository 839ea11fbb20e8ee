"""The daemon: wires intake → pipeline workers, with a priority lane for halt. Only wiring lives here.

    watchdog thread ──hint(name)──► intake task ──ready──► normal queue ──► N workers ──┐
    rescan timer ───hint(all)────┘        └──priority──► claim ─► priority queue ─► halt workers
                                                                                     ▼
                                                 pipeline: prepare → handle → finish

Blocking work (file IO, SQLite, fsync) runs in thread pools: one for intake, one for the halt lane,
one for the normal workers, so a flood of ordinary intents cannot delay a halt. Handlers are
coroutines on this one event loop and run under their kind's time limit.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from watchdog.observers.api import BaseObserver

from seam.clock import Clock
from seam.config import LoadedConfig, Settings
from seam.intake import Claimant, Readiness, ReadinessChecker, count_processing, is_candidate, make_observer
from seam.paths import SeamPaths
from seam.pipeline import Decision, Finished, Pipeline, Prepared
from seam.route import Registry
from seam.runtime import Runtime

__all__ = ["Daemon", "RunSummary"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

PRIORITY_WORKERS = 2
RECHECK_SECONDS = 0.05  # how often files still being written are looked at again
SWEEP_NEWEST = 16       # while busy, the newest files no event has announced are looked at each tick
DEFER_SECONDS = 0.05    # wait before asking again about an id another live daemon is handling
INTAKE_CHUNK = 32       # names looked at per intake round (see _intake_loop)
BLOCKING_THREADS = 3    # threads for the normal lane's blocking steps (file IO, SQLite)

ObserverFactory = Callable[[Path, Callable[[str | None], None]], BaseObserver]


@dataclass
class RunSummary:
    answered: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def add(self, finished: Finished) -> None:
        self.answered += 1
        self.by_status[str(finished.status)] = self.by_status.get(str(finished.status), 0) + 1


class Daemon:
    def __init__(self, paths: SeamPaths, config: LoadedConfig, *, clock: Clock | None = None,
                 registry: Registry | None = None, observer_factory: ObserverFactory | None = None,
                 runtime: Runtime | None = None, owner: str | None = None) -> None:
        self.runtime = runtime or Runtime.open(paths, config, clock=clock, registry=registry)
        self.paths = paths
        self.clock = self.runtime.clock
        self.registry = self.runtime.registry
        self.store = self.runtime.store
        self.broker_service = self.runtime.broker
        self.claimant = Claimant(paths.processing, owner)
        self.pipeline = Pipeline(self.runtime, self.claimant)
        self.pipeline.context.queue_depth = self.queue_depth
        self._observer_factory = observer_factory
        self._priority_re = _priority_pattern(self.registry.priority_kinds())
        self._checker = ReadinessChecker(self.settings.intake.settle_seconds)
        self.summary = RunSummary()
        self.stopping = asyncio.Event()
        self.started = asyncio.Event()
        self._queued: set[str] = set()
        self._writing: set[str] = set()
        self._ignored: set[str] = set()
        self._inflight = 0
        self._idle = asyncio.Event()
        self._priority_in_flight = 0
        self._unannounced = 0
        self._no_priority_work = asyncio.Event()
        self._no_priority_work.set()

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    # -- public -----------------------------------------------------------------------------------

    def queue_depth(self) -> dict[str, int]:
        return {"incoming": len(self._queued) + len(self._writing),
                "processing": count_processing(self.paths.processing)}

    def stop(self) -> None:
        self.stopping.set()

    async def run(self, *, once: bool = False) -> RunSummary:
        """Process intents until stop() (or, with once=True, until what is there now is answered)."""
        loop = asyncio.get_running_loop()
        concurrency = self.settings.handlers.concurrency
        self._pools = {
            "intake": ThreadPoolExecutor(1, thread_name_prefix="seam-intake"),
            "priority": ThreadPoolExecutor(PRIORITY_WORKERS, thread_name_prefix="seam-halt",
                                           initializer=self.store.mark_priority_thread),
            # Handlers are coroutines: `concurrency` of them run at once on the loop. The blocking steps
            # around them need few threads, and every extra thread competes for the GIL with the
            # observer and the halt lane (measured: 2 threads move a burst as fast as 8).
            "normal": ThreadPoolExecutor(min(concurrency, BLOCKING_THREADS), thread_name_prefix="seam-worker"),
        }
        self._hints: asyncio.Queue[str | None] = asyncio.Queue()
        self._normal: asyncio.Queue[str] = asyncio.Queue()
        self._priority: asyncio.Queue[Path] = asyncio.Queue()
        self._idle.set()
        self.claimant.open()
        observer = None
        old_interval = sys.getswitchinterval()
        sys.setswitchinterval(0.001)  # the halt lane's threads get the GIL sooner under load
        tasks: list[asyncio.Task[None]] = []
        try:
            await self.runtime.start()
            for claimed in await self._in("intake", self.claimant.adopt_orphans):
                self._enqueue_claimed(claimed, priority=self._is_priority_file(claimed))
            if not once:
                observer = self._start_observer(loop)
            tasks = [asyncio.create_task(self._worker(self._normal_job, "normal")) for _ in range(concurrency)]
            tasks += [asyncio.create_task(self._worker(self._priority_job, "priority"))
                      for _ in range(PRIORITY_WORKERS)]
            await self._scan()
            self.started.set()
            logger.info("seam daemon %s watching %s (%s, concurrency %d)", self.claimant.owner,
                        self.paths.incoming, "polling" if self.settings.intake.polling else "events", concurrency)
            if once:
                await self._drain()
            else:
                tasks.append(asyncio.create_task(self._intake_loop()))
                tasks.append(asyncio.create_task(self._timers()))
                await self.stopping.wait()
                self._drop_unstarted()
                await self._finish_inflight(timeout=10)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.runtime.stop()
            if observer is not None:
                # Stopping the inotify emitter takes up to 0.5 s (it holds events to pair renames);
                # it is stopped from a thread of its own so shutdown does not wait for it.
                threading.Thread(target=observer.stop, name="seam-observer-stop", daemon=True).start()
            for pool in self._pools.values():
                pool.shutdown(wait=True, cancel_futures=True)
            self.claimant.close()
            self.runtime.close()
            sys.setswitchinterval(old_interval)
        return self.summary

    # -- intake -----------------------------------------------------------------------------------

    def _start_observer(self, loop: asyncio.AbstractEventLoop) -> BaseObserver:
        box: collections.deque[str | None] = collections.deque()
        woken = threading.Event()

        def flush() -> None:
            woken.clear()
            while box:
                self._hints.put_nowait(box.popleft())

        def hint(name: str | None) -> None:
            # Called on the observer's thread for every event: one cheap append, and at most one
            # wake-up of the loop per batch, so the observer keeps up with bursts.
            box.append(name)
            if not woken.is_set():
                woken.set()
                loop.call_soon_threadsafe(flush)

        if self._observer_factory is not None:
            observer = self._observer_factory(self.paths.incoming, hint)
        else:
            observer = make_observer(self.paths.incoming, hint, polling=self.settings.intake.polling,
                                     polling_interval=self.settings.intake.polling_interval_seconds)
        observer.start()
        return observer

    async def _intake_loop(self) -> None:
        """Look at hinted names in small chunks, newest arrivals first.

        Each round takes the newest CHUNK names that arrived since the last round, plus up to CHUNK
        older ones still waiting (in arrival order). So a halt written behind a burst of thousands of
        files is looked at (and its priority seen) within one round of its arrival, and the older
        ones are still all looked at.
        """
        waiting: dict[str, None] = {}  # ordered set of older names not yet looked at
        while True:
            if not waiting:
                waiting[await self._hints_get()] = None
            fresh: dict[str, None] = {}
            while not self._hints.empty():
                name = self._hints.get_nowait()
                if name is not None and name not in waiting:
                    fresh[name] = None
            arrivals = list(fresh)
            batch = arrivals[-INTAKE_CHUNK:]  # the newest: a halt dropped behind a burst is among them
            for name in arrivals[:-INTAKE_CHUNK]:
                waiting[name] = None
            for name in list(waiting)[:INTAKE_CHUNK]:
                del waiting[name]
                batch.append(name)
            await self._consider(batch)

    async def _hints_get(self) -> str:
        while True:
            name = await self._hints.get()
            if name is not None:
                return name

    async def _timers(self) -> None:
        """Recheck files being written often; look for the newest arrivals while busy; rescan the
        folder and adopt orphans now and then."""
        last_rescan = time.monotonic()
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            if self._writing:
                await self._consider(list(self._writing))
            if self._inflight or self._unannounced:
                await self._sweep_newest()
            if time.monotonic() - last_rescan >= self.settings.intake.rescan_seconds:
                last_rescan = time.monotonic()
                await self._scan()
                for claimed in await self._in("intake", self.claimant.adopt_orphans):
                    self._enqueue_claimed(claimed, priority=self._is_priority_file(claimed))

    async def _sweep_newest(self) -> None:
        """Under a backlog the observer's threads fall behind (measured: over a second behind a
        5,000-file burst), and a halt's event waits with them. So while busy, the newest files in
        incoming/ that no event has announced yet are looked at directly."""
        names, self._unannounced = await self._in("intake", self._newest_unannounced, SWEEP_NEWEST)
        if names:
            await self._consider(names)

    def _newest_unannounced(self, count: int) -> tuple[list[str], int]:
        """The `count` newest candidate files no hint has queued yet, and how many such files there are."""
        try:
            with os.scandir(self.paths.incoming) as listing:
                entries = [e for e in listing if e.name not in self._queued and e.name not in self._ignored
                           and e.name not in self._writing and is_candidate(e.name)]
        except FileNotFoundError:
            return [], 0
        newest = sorted(entries, key=_arrival_order, reverse=True)[:count]
        return [e.name for e in newest], len(entries)

    async def _scan(self) -> None:
        names = await self._in("intake", self._list_incoming)
        await self._consider(names)

    def _list_incoming(self) -> list[str]:
        """Names in incoming/ not already queued, oldest first. Only those are stat'ed: behind a
        backlog of thousands the rescan stays a directory read, not thousands of stats."""
        try:
            with os.scandir(self.paths.incoming) as listing:
                entries = [e for e in listing if e.name not in self._queued and e.name not in self._ignored]
        except FileNotFoundError:
            return []
        return [e.name for e in sorted(entries, key=_arrival_order)]

    async def _consider(self, names: list[str]) -> None:
        fresh = [n for n in names if n not in self._queued and is_candidate(n)]
        if not fresh:
            return
        for name, readiness, head in await self._in("intake", self._check_all, fresh):
            if readiness is Readiness.WRITING:
                self._writing.add(name)
                continue
            self._writing.discard(name)
            if readiness is Readiness.NOT_A_FILE:
                if name not in self._ignored:
                    self._ignored.add(name)
                    logger.warning("left alone: incoming/%s is not a regular file", name)
            elif readiness is Readiness.READY and self._priority_re.search(head):
                claimed = await self._in("intake", self.claimant.claim, self.paths.incoming / name)
                if claimed is not None:
                    logger.debug("priority lane: claimed %s", name)
                    self._enqueue_claimed(claimed, priority=True)
            elif readiness in (Readiness.READY, Readiness.SYMLINK):
                self._queued.add(name)
                self._track(+1)
                self._normal.put_nowait(name)

    def _check_all(self, names: list[str]) -> list[tuple[str, Readiness, bytes]]:
        return [(name, *self._checker.check(self.paths.incoming / name)) for name in names]

    def _is_priority_file(self, claimed: Path) -> bool:
        try:
            with claimed.open("rb") as handle:
                return bool(self._priority_re.search(handle.read(4096)))
        except OSError:
            return False

    def _enqueue_claimed(self, claimed: Path, *, priority: bool) -> None:
        self._track(+1)
        if priority:
            self._priority_in_flight += 1
            self._no_priority_work.clear()
            self._priority.put_nowait(claimed)
        else:
            self._normal.put_nowait(str(claimed))

    def _track(self, delta: int) -> None:
        self._inflight += delta
        if self._inflight == 0:
            self._idle.set()
        else:
            self._idle.clear()

    # -- workers ----------------------------------------------------------------------------------

    async def _worker(self, next_job: Callable[[], Any], lane: str) -> None:
        while True:
            job = await next_job()
            try:
                await self._process(job, lane)
            except asyncio.CancelledError:
                raise
            except Exception:  # the one broad except: one intent never stops the daemon
                logger.exception("could not finish %s; it stays in processing/ and is retried at restart", job)
            finally:
                self._track(-1)
                if lane == "priority":
                    self._priority_done()

    async def _normal_job(self) -> tuple[Path | None, str]:
        item = await self._normal.get()
        # While a halt is in flight, ordinary intents wait to start: every thread they would occupy
        # competes with the halt lane for the GIL and the store's write lock.
        await self._no_priority_work.wait()
        if os.sep in item:  # already claimed (adopted at start-up)
            return Path(item), ""
        self._queued.discard(item)
        return None, item

    async def _priority_job(self) -> tuple[Path | None, str]:
        return await self._priority.get(), ""

    def _priority_done(self) -> None:
        self._priority_in_flight -= 1
        if self._priority_in_flight <= 0:
            self._priority_in_flight = 0
            self._no_priority_work.set()

    def _claim_and_prepare(self, claimed: Path | None, name: str, started: float) -> Prepared | None:
        """One trip to the thread pool: claim (unless already claimed), then read, validate, decide."""
        if claimed is None:
            claimed = self.claimant.claim(self.paths.incoming / name)
            if claimed is None:
                return None  # another daemon won the rename
        return self.pipeline.prepare(claimed, started=started)

    async def _process(self, job: tuple[Path | None, str], lane: str) -> None:
        started = time.perf_counter()
        claimed, name = job
        prepared = await self._in(lane, self._claim_and_prepare, claimed, name, started)
        if prepared is None:
            return
        while prepared.decision is Decision.DEFER:  # another live daemon is running this very intent
            await asyncio.sleep(DEFER_SECONDS)
            assert prepared.claimed is not None
            prepared = await self._in(lane, self.pipeline.prepare, prepared.claimed, started=started)
        outcome = (await self.pipeline.handle(prepared, self._pools[lane])
                   if prepared.decision is Decision.RUN else None)
        finished = await self._in(lane, self.pipeline.finish, prepared, outcome)
        self.summary.add(finished)
        logger.info("intent %s kind=%s status=%s ms=%.1f%s", finished.key, finished.kind or "-",
                    finished.status, finished.ms, " (already answered)" if finished.extra.get("already") else "")

    async def _in(self, pool: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pools[pool], lambda: fn(*args, **kwargs))

    async def _drain(self) -> None:
        await self._idle.wait()
        if self._writing:
            logger.warning("left %d file(s) that are still being written: %s", len(self._writing),
                           ", ".join(sorted(self._writing)))

    def _drop_unstarted(self) -> None:
        """On stop, forget queued work that no worker has started: unclaimed files stay in incoming/,
        claimed ones in this daemon's processing/ folder, and the next start takes them up."""
        for queue in (self._normal, self._priority):
            while not queue.empty():
                item = queue.get_nowait()
                if isinstance(item, str) and os.sep not in item:
                    self._queued.discard(item)
                self._track(-1)

    async def _finish_inflight(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=timeout)
        except TimeoutError:
            logger.warning("stopping with %d intent(s) unfinished; they are resumed at the next start",
                           self._inflight)


def _arrival_order(entry: os.DirEntry[str]) -> tuple[float, str]:
    try:
        return (entry.stat(follow_symlinks=False).st_mtime, entry.name)
    except OSError:
        return (0.0, entry.name)


def _priority_pattern(kinds: frozenset[str]) -> re.Pattern[bytes]:
    if not kinds:
        return re.compile(rb"(?!x)x")
    names = b"|".join(re.escape(k.encode()) for k in sorted(kinds))
    return re.compile(rb"^kind:[ \t]*[\"']?(?:" + names + rb")[\"']?[ \t]*(?:#.*)?$", re.MULTILINE)


def install_signal_handlers(daemon: Daemon) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, daemon.stop)
