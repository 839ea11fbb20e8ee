"""Intake, the scheduler: what runs next. Hinted names are looked at newest first, a halt is claimed and
queued for the priority lane the moment it is seen, ordinary intents wait in the normal queue, and what is in
flight is counted so a stop or `--once` knows when the seam is quiet.

    observer thread ──hint(name)──► intake loop ──ready──► normal queue ──► next_normal()
    timers (recheck, sweep, rescan) ┘       └──priority──► claim ─► priority queue ─► next_priority()

While a halt is in flight, ordinary intents wait to start (`next_normal`): every thread they would occupy
competes with the halt lane for the GIL and the store's write lock.

A job whose step met a full or failing disk is put back on its lane after a delay (`retry_later`: 0.5 s,
doubling to 30 s, one log line per try), counted as in flight meanwhile; a claimed one stays in this
daemon's folder in processing/. At start-up and on each rescan, responses the ledger holds but
responses/ lacks are rewritten from it (see restore.py).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from seam.config import IntakeSettings
from seam.faults import describe_fault
from seam.intake.files import (
    REFUSED,
    Claimant,
    OwnFiles,
    Readiness,
    ReadinessChecker,
    count_processing,
    is_candidate,
    looks_well_formed,
    peek,
)
from seam.intake.restore import ResponseRestorer
from seam.intake.watch import Watch, make_observer
from seam.paths import SeamPaths

__all__ = ["IntakeScheduler", "Job", "ObserverFactory"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

RECHECK_SECONDS = 0.05  # how often files still being written are looked at again
SWEEP_NEWEST = 16  # while busy, the newest files no event has announced are looked at, every SWEEP_SECONDS
SWEEP_SECONDS = 0.5  # (a sweep stats every unannounced name: 90-220 ms behind a backlog of thousands)
SUSPECT_IN_FLIGHT = 2  # at most this many files that do not look like intents are handled at once
INLINE_CHECKS = 2  # at most this many new names are checked on the loop itself (`_consider`)
INTAKE_CHUNK = 32  # names looked at per intake round (see _intake_loop)
RETRY_FIRST_SECONDS = 0.5  # a step that met a full or failing disk is tried again after this,
RETRY_MAX_SECONDS = 30.0  # doubling each time up to this

ObserverFactory = Callable[[Path, Callable[[str | None], None]], Watch]
Offload = Callable[..., Awaitable[Any]]
# (an already-claimed file, or None and the name in incoming/ still to claim)
Job = tuple[Path | None, str]


class IntakeScheduler:
    def __init__(
        self,
        paths: SeamPaths,
        settings: IntakeSettings,
        claimant: Claimant,
        priority_kinds: frozenset[str],
        offload: Offload,
        observer_factory: ObserverFactory | None = None,
        responses: ResponseRestorer | None = None,
        broker_kinds: frozenset[str] = frozenset(),
        standing_by: Callable[[], bool] = lambda: False,
        priority_offload: Offload | None = None,
        watch: str | None = None,
    ) -> None:
        self.paths = paths
        self.settings = settings
        self.claimant = claimant
        self._offload_raw = offload  # blocking work on the intake's own thread
        # intents/priority/ is taken on the halt lane's threads (or its watch's own), never the intake's,
        # which may be busy with thousands of names in incoming/
        self._priority_offload = priority_offload or offload
        self._watch = watch  # which watch (see watch.make_observer); None: the settings' choice
        self._observer_factory = observer_factory
        self._priority_re = _priority_pattern(priority_kinds)
        # While another daemon owns the broker, the kinds that need it are left in incoming/ for that daemon:
        # seen by their head (like a halt), or handed back by the pipeline when the head did not tell.
        self._broker_re = _priority_pattern(broker_kinds)
        self._standing_by = standing_by
        self._for_owner: set[str] = set()
        self._own = OwnFiles(paths)
        self._checker = ReadinessChecker(settings.settle_seconds, self._own)
        self._priority_checker = ReadinessChecker(settings.settle_seconds, self._own)
        self._priority_take = threading.Lock()  # the priority watch's thread and the timers take from one folder
        self._priority_writing = False  # a file in priority/ is still being written: look again at each tick
        self._priority_retry_at = 0.0  # after a storage fault claiming from priority/, not before this
        self._priority_ignored: set[str] = set()
        self._priority_observer: Watch | None = None
        # where a claimed file of a priority kind goes at once, from any thread (the daemon's halt lane); None:
        # onto the loop's priority queue. Either way it is done when `done("priority", job)` is called.
        self.priority_direct: Callable[[Path], None] | None = None
        # called on the loop when intents start to be in flight (True) and when none are left (False)
        self.on_busy: Callable[[bool], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._observer: Watch | None = None
        self._hints: asyncio.Queue[str | None] = asyncio.Queue()
        self._normal = _NormalQueue(looking=lambda: self._looking > 0)
        self._priority: asyncio.Queue[Job] = asyncio.Queue()
        self._queued: set[str] = set()
        self._writing: set[str] = set()
        self._ignored: set[str] = set()
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._priority_in_flight = 0
        self._unannounced = 0
        self._no_priority_work = asyncio.Event()
        self._no_priority_work.set()
        self._responses = responses
        self._restoring: asyncio.Task[None] | None = None
        self._retry_delay: dict[str | Path, float] = {}  # a job's next delay, while its step keeps failing
        self._retry_timers: dict[str | Path, asyncio.TimerHandle] = {}
        # Ordinary intents run their steps on the event loop (seam/daemon.py): while the intake is looking at files,
        # one of them runs per step of the intake's, so a halt among the files is found and claimed between two
        # intents, not behind every worker's (see `turn`).
        self._looking = 0  # `_consider` calls in progress
        self._turn_taken = False
        self._step_waiter: asyncio.Future[None] | None = None

    # -- life -----------------------------------------------------------------------------------------

    async def start(self, *, watch: bool) -> None:
        """Adopt what dead daemons left, start watching (unless `watch` is False), and look at the folder once."""
        self._loop = asyncio.get_running_loop()
        await self.adopt_orphans()
        if watch:
            self._priority_observer = self._start_priority_observer(self._loop)
            self._observer = self._start_observer(self._loop)
        await self._take_priority()
        await self._scan()
        if self._responses is not None:
            self._restoring = asyncio.create_task(self._restore_all(self._responses))

    async def run(self) -> None:
        """The intake loop and its timers, until cancelled."""
        await asyncio.gather(self._intake_loop(), self._timers())

    @property
    def responses_checked(self) -> bool:
        """Whether the start-up check of responses/ against the ledger (a task of its own) has finished."""
        return self._restoring is None or self._restoring.done()

    def stop_watching(self) -> None:
        for observer in (self._observer, self._priority_observer):
            if observer is not None:
                # Stopping the inotify emitter takes up to 0.5 s (it holds events to pair renames);
                # it is stopped from a thread of its own so shutdown does not wait for it.
                threading.Thread(target=observer.stop, name="seam-observer-stop", daemon=True).start()
        self._observer = self._priority_observer = None
        if self._restoring is not None:
            self._restoring.cancel()

    async def adopt_orphans(self) -> None:
        for claimed in await self._offload(self.claimant.adopt_orphans):
            self._enqueue_claimed(claimed, priority=self._is_priority_file(claimed))

    def queue_depth(self) -> dict[str, int]:
        return {
            "incoming": len(self._queued) + len(self._writing),
            "processing": count_processing(self.paths.processing),
        }

    def done(self, lane: str, job: Job | None = None) -> None:
        """A job taken from `lane` has finished, whatever its outcome."""
        self._track(-1)
        if lane == "priority":
            self._priority_done()
        elif job is not None:
            self._normal.finished(job)

    def alone(self, job: Job) -> bool:
        """Whether `job` (taken from the normal lane) is the only intent that looks well formed in flight, with none
        waiting behind it and no halt in flight: an idle seam's lone intent, or one among garbage (which waits for
        it anyway)."""
        return self._normal.good_alone(job) and self._priority_in_flight == 0

    def _track(self, delta: int) -> None:
        was_busy = self._inflight > 0
        self._inflight += delta
        if self._inflight == 0:
            self._idle.set()
        else:
            self._idle.clear()
        if (self._inflight > 0) != was_busy and self.on_busy is not None:
            self.on_busy(not was_busy)

    def _start_observer(self, loop: asyncio.AbstractEventLoop) -> Watch:
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
            observer = make_observer(
                self.paths.incoming,
                hint,
                polling=self.settings.polling,
                polling_interval=self.settings.polling_interval_seconds,
                watch=self._watch,
            )
        observer.start()
        return observer

    # -- intents/priority/: a folder of its own, a watch of its own -----------------------------------

    def _start_priority_observer(self, loop: asyncio.AbstractEventLoop) -> Watch | None:
        """A watch on intents/priority/ whose events are acted on by the watch's own thread: the folder is
        listed and its files claimed there, then handed to the loop. Nothing in incoming/ is on that path."""
        if not self.paths.priority.is_dir():
            return None

        def hint(_name: str | None) -> None:
            try:
                claimed = self._take_priority_now()
            except Exception:  # a defect must not end the watch's thread: the rescan looks at the folder too
                logger.exception("intake: taking from intents/priority/ failed; continuing")
                return
            if claimed:
                # A halt goes straight from this thread to the halt lane's (when the daemon has one): it never
                # waits for the event loop, which a backlog keeps busy. The loop only counts it in flight.
                direct = self.priority_direct
                now = [path for path, priority in claimed if priority and direct is not None]
                loop.call_soon_threadsafe(self._accept_priority, claimed, bool(now))
                if direct is not None:
                    for path in now:
                        direct(path)

        try:
            observer = make_observer(
                self.paths.priority,
                hint,
                polling=self.settings.polling,
                polling_interval=self.settings.polling_interval_seconds,
                watch=self._watch,
            )
            observer.start()
        except OSError as exc:  # e.g. out of inotify watches: the timers still look at the folder
            logger.warning(
                "cannot watch %s (%s); it is looked at every %.2f s", self.paths.priority, exc, RECHECK_SECONDS
            )
            return None
        return observer

    async def _take_priority(self) -> None:
        claimed = await self._priority_offload(self._take_priority_now)
        if claimed:
            self._accept_priority(claimed)

    def _take_priority_now(self) -> list[tuple[Path, bool]]:
        """Claim every complete file in intents/priority/: (claimed path, whether it names a priority kind).
        Blocking; runs on the priority watch's thread or the halt lane's."""
        if time.monotonic() < self._priority_retry_at:
            return []
        claimed: list[tuple[Path, bool]] = []
        with self._priority_take:
            try:
                with os.scandir(self.paths.priority) as listing:
                    names = [e.name for e in listing if is_candidate(e.name)]
            except (FileNotFoundError, NotADirectoryError):
                return []
            writing = False
            for name in names:
                path = self.paths.priority / name
                try:
                    readiness, head = self._priority_checker.check(path)
                except OSError:
                    readiness, head = Readiness.READY, b""  # unreadable: claimed and answered saying so
                if readiness is Readiness.WRITING:
                    writing = True
                    continue
                if readiness is Readiness.NOT_A_FILE:
                    if name not in self._priority_ignored:
                        self._priority_ignored.add(name)
                        logger.warning("left alone: priority/%s is not a regular file", name)
                    continue
                if readiness is not Readiness.READY and readiness not in REFUSED:
                    continue
                try:
                    target = self.claimant.claim(path)
                except OSError as exc:  # a full or failing disk: the folder is looked at again after a pause
                    self._priority_retry_at = time.monotonic() + RETRY_FIRST_SECONDS
                    logger.warning(
                        "priority/%s: claiming it failed (%s); tried again in %.1f s",
                        name,
                        describe_fault(exc),
                        RETRY_FIRST_SECONDS,
                    )
                    writing = True
                    break
                if target is not None:
                    claimed.append((target, bool(self._priority_re.search(head))))
            self._priority_writing = writing
        return claimed

    def _accept_priority(self, claimed: list[tuple[Path, bool]], handed: bool = False) -> None:
        """Queue what was claimed from intents/priority/; with `handed`, its priority kinds are already on the
        halt lane and are only counted in flight here."""
        for path, priority in claimed:
            logger.debug("priority folder: claimed %s", path.name)
            if priority and handed:
                self._count_priority()
            else:
                self._enqueue_claimed(path, priority=priority)  # another kind dropped there runs on the normal lane

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
            for name in list(itertools.islice(waiting, INTAKE_CHUNK)):  # not a list of thousands per round
                del waiting[name]
                batch.append(name)
            await self._guarded(self._consider(batch), "looking at new files")

    async def _hints_get(self) -> str:
        while True:
            name = await self._hints.get()
            if name is not None:
                return name

    async def _timers(self) -> None:
        """Recheck files being written often; look for the newest arrivals while busy; rescan the
        folder and adopt orphans now and then."""
        last_rescan = last_sweep = time.monotonic()
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            if self._priority_writing or self._priority_observer is None:
                await self._guarded(self._take_priority(), "looking at intents/priority/")
            if self._writing:
                await self._guarded(self._consider(list(self._writing)), "rechecking files being written")
            if (self._inflight or self._unannounced) and time.monotonic() - last_sweep >= SWEEP_SECONDS:
                last_sweep = time.monotonic()
                await self._guarded(self._sweep_newest(), "looking for unannounced files")
            if time.monotonic() - last_rescan >= self.settings.rescan_seconds:
                last_rescan = time.monotonic()
                await self._guarded(self._take_priority(), "looking at intents/priority/")
                await self._guarded(self._scan(direct=False), "rescanning incoming/")
                await self._guarded(self.adopt_orphans(), "adopting a dead daemon's intents")
                if self._responses is not None and (self._restoring is None or self._restoring.done()):
                    await self._guarded(self._restore_missing(self._responses), "restoring missing responses")

    async def _guarded(self, step: Awaitable[None], what: str) -> None:
        """One round of intake work; a defect in it is logged, and the intake goes on with the next round."""
        try:
            await step
        except asyncio.CancelledError:
            raise
        except Exception:  # the intake never stops on one file: the next round, or the rescan, tries again
            logger.exception("intake: %s failed; continuing", what)

    async def _restore_all(self, responses: ResponseRestorer) -> None:
        """Start-up: every answer in the ledger against its file, a chunk per trip to a thread of its own."""
        after: str | None = ""
        rewritten: list[str] = []
        while after is not None:
            try:
                after, done = await asyncio.to_thread(responses.restore_chunk, after)  # not the intake's thread
            except asyncio.CancelledError:
                raise
            except Exception:  # a defect: the rescans still restore what is missing
                logger.exception("intake: checking responses/ against the ledger failed; continuing")
                return
            rewritten += done
        if rewritten:
            logger.warning("rewrote %d response(s) from the ledger: %s", len(rewritten), _some(rewritten))

    async def _restore_missing(self, responses: ResponseRestorer) -> None:
        rewritten = await self._offload(responses.restore_missing)
        if rewritten:
            logger.warning("rewrote %d missing response(s) from the ledger: %s", len(rewritten), _some(rewritten))

    async def _sweep_newest(self) -> None:
        """Under a backlog the observer's threads fall behind (measured: over a second behind a
        5,000-file burst), and a halt's event waits with them. So while busy, the newest files in
        incoming/ that no event has announced yet are looked at directly."""
        names, self._unannounced = await self._offload(self._newest_unannounced, SWEEP_NEWEST)
        if names:
            await self._consider(names)

    def _newest_unannounced(self, count: int) -> tuple[list[str], int]:
        """The `count` newest candidate files no hint has queued yet, and how many such files there are."""
        try:
            with os.scandir(self.paths.incoming) as listing:
                entries = [
                    e
                    for e in listing
                    if e.name not in self._queued
                    and e.name not in self._ignored
                    and e.name not in self._writing
                    and e.name not in self.claimant.unclaimable
                    and e.name not in self._for_owner
                    and is_candidate(e.name)
                ]
        except FileNotFoundError:
            return [], 0
        newest = sorted(entries, key=_arrival_order, reverse=True)[:count]
        return [e.name for e in newest], len(entries)

    async def _scan(self, *, direct: bool = True) -> None:
        """Look at every name in incoming/ not queued yet. At start-up (`direct`) they are looked at here;
        a periodic rescan only hands the names to the intake loop, which looks at them a chunk at a time
        with newer arrivals first: behind a backlog of thousands, one rescan looking at them all held the
        intake's thread for over a second. Names whose claim failed are looked at again here, once."""
        names = await self._offload(self._list_incoming)
        if direct:
            await self._consider(names, rescan=True)
            return
        retry = [n for n in names if n in self.claimant.unclaimable]
        if retry:
            await self._consider(retry, rescan=True)
        for name in names:
            if name not in self.claimant.unclaimable:
                self._hints.put_nowait(name)

    def _list_incoming(self) -> list[str]:
        """Names in incoming/ not already queued, by name only: no stat, a directory read however many."""
        try:
            with os.scandir(self.paths.incoming) as listing:
                everything = [e.name for e in listing]
        except FileNotFoundError:
            return []
        if self._for_owner:  # names the broker's owner has taken meanwhile are forgotten
            self._for_owner.intersection_update(everything)
        return [n for n in everything if n not in self._queued and n not in self._ignored and is_candidate(n)]

    async def turn(self) -> None:
        """Before an ordinary intent's steps run on the loop: while the intake is looking at files, wait until it has
        taken its next step if an intent already ran since its last one. Returns at once when it is not looking."""
        while self._looking and self._turn_taken:
            if self._step_waiter is None or self._step_waiter.done():
                self._step_waiter = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._step_waiter)
        self._turn_taken = self._looking > 0

    def _stepped(self) -> None:
        self._turn_taken = False
        waiter, self._step_waiter = self._step_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _offload(self, fn: Callable[..., T], /, *args: Any) -> T:
        try:
            result: T = await self._offload_raw(fn, *args)
        finally:
            self._stepped()
        return result

    async def _consider(self, names: list[str], *, rescan: bool = False) -> None:
        self._looking += 1
        try:
            await self._consider_now(names, rescan=rescan)
        finally:
            self._looking -= 1
            self._stepped()
            if not self._looking:
                self._normal.wake()

    async def _consider_now(self, names: list[str], *, rescan: bool = False) -> None:
        """Queue (or, for the priority lane, claim) the complete files among `names`. A name whose claim
        failed is looked at again only by the rescan: an event or sweep retrying it would be a hot loop."""
        fresh = [
            n
            for n in names
            if n not in self._queued and is_candidate(n) and (rescan or n not in self.claimant.unclaimable)
        ]
        if not fresh:
            return
        if self._for_owner and not self._standing_by():
            self._for_owner.clear()  # this daemon owns the broker now: they are its own to take
        # A file or two (an agent's intent, the idle seam's usual case) are looked at here: a stat, an open, a read
        # of its head take less than the two thread switches of a trip to the intake's thread and back
        few = len(fresh) <= INLINE_CHECKS
        for name, readiness, head in self._check_all(fresh) if few else await self._offload(self._check_all, fresh):
            if readiness is Readiness.WRITING:
                self._writing.add(name)
                continue
            self._writing.discard(name)
            if readiness is Readiness.NOT_A_FILE:
                if name not in self._ignored:
                    self._ignored.add(name)
                    logger.warning("left alone: incoming/%s is not a regular file", name)
            elif readiness is Readiness.READY and self._priority_re.search(head):
                try:
                    claimed = await self._offload(self.claimant.claim, self.paths.incoming / name)
                except OSError as exc:  # a storage fault (claim raises no other): tried again on a timer
                    self.retry_later((None, name), "priority", exc, "claiming it")
                    continue
                if claimed is not None:
                    logger.debug("priority lane: claimed %s", name)
                    self._enqueue_claimed(claimed, priority=True)
            elif readiness is Readiness.READY and self._leave_for_owner(name, head):
                continue
            elif readiness is Readiness.READY or readiness in REFUSED:  # a refusal is answered too
                self._queued.add(name)
                self._track(+1)
                # what does not look like an intent waits behind what does, and only a few run at once:
                # a flood of garbage never starves a well-formed intent of workers and threads
                self._normal.put_nowait(name, suspect=readiness in REFUSED or not looks_well_formed(head))

    def _leave_for_owner(self, name: str, head: bytes) -> bool:
        """Whether a ready file is the broker owner's to take while this daemon stands by."""
        if not self._standing_by():
            return False
        if name in self._for_owner or self._broker_re.search(head):
            if name not in self._for_owner:
                logger.debug("left for the broker's owner: incoming/%s", name)
                self._for_owner.add(name)
            return True
        return False

    def handed_back(self, name: str) -> None:
        """The pipeline put incoming/`name` back for the broker's owner: not taken again while standing by."""
        self._for_owner.add(name)

    def _check_all(self, names: list[str]) -> list[tuple[str, Readiness, bytes]]:
        return [(name, *self._check_one(name)) for name in names]

    def _check_one(self, name: str) -> tuple[Readiness, bytes]:
        try:
            return self._checker.check(self.paths.incoming / name)
        except OSError as exc:
            # A file seam may not read (another user's, an I/O error) must not stop the intake: it is claimed
            # like any complete file, and the pipeline answers it `rejected`, saying why.
            logger.warning("incoming/%s cannot be checked (%s); it is taken and answered as unreadable", name, exc)
            return Readiness.READY, b""

    def _is_priority_file(self, claimed: Path) -> bool:
        return bool(self._priority_re.search(peek(claimed, self._own)))  # never opens a refused file

    def _enqueue_claimed(self, claimed: Path, *, priority: bool) -> None:
        if priority:
            self._count_priority()
            if self.priority_direct is not None:
                self.priority_direct(claimed)
            else:
                self._priority.put_nowait((claimed, ""))
        else:
            self._track(+1)
            self._normal.put_nowait(str(claimed))

    def _count_priority(self) -> None:
        self._track(+1)
        self._priority_in_flight += 1
        self._no_priority_work.clear()

    # -- retries after a storage fault ----------------------------------------------------------------

    def retry_later(self, job: Job, lane: str, exc: BaseException, step: str) -> None:
        """Put `job` back on `lane` after a delay, because `step` met a full or failing disk (`exc`); it
        counts as in flight while it waits (a worker's job stays counted past its `done`)."""
        claimed, name = job
        key: str | Path = claimed if claimed is not None else name
        delay = self._retry_delay.get(key, RETRY_FIRST_SECONDS)
        self._retry_delay[key] = min(delay * 2, RETRY_MAX_SECONDS)
        where = f"it stays in processing/{self.claimant.owner}/" if claimed is not None else "it stays in incoming/"
        logger.warning(
            "%s: %s failed (%s); %s and is tried again in %.1f s",
            f"processing/{self.claimant.owner}/{claimed.name}" if claimed is not None else f"incoming/{name}",
            step,
            describe_fault(exc),
            where,
            delay,
        )
        if claimed is None:
            self._queued.add(name)  # no event or rescan queues it meanwhile
        self._track(+1)
        self._retry_timers[key] = asyncio.get_running_loop().call_later(delay, self._requeue, key, job, lane)

    def retried(self, job: Job) -> None:
        """`job` got past its steps (or is gone): its next fault starts from the first delay again."""
        claimed, name = job
        self._retry_delay.pop(claimed if claimed is not None else name, None)

    def _requeue(self, key: str | Path, job: Job, lane: str) -> None:
        self._retry_timers.pop(key, None)
        claimed, name = job
        if lane == "priority":
            self._priority_in_flight += 1
            self._no_priority_work.clear()
            self._priority.put_nowait(job)
        else:
            self._normal.put_nowait(str(claimed) if claimed is not None else name)

    # -- the lanes' queues -------------------------------------------------------------------------

    async def next_normal(self) -> Job:
        item = await self._normal.get()  # a well-formed-looking intent before any suspect file
        # While a halt is in flight, ordinary intents wait to start: every thread they would occupy
        # competes with the halt lane for the GIL and the store's write lock.
        await self._no_priority_work.wait()
        if os.sep in item:  # already claimed (adopted at start-up)
            return Path(item), ""
        self._queued.discard(item)
        return None, item

    def more_normal(self, most: int) -> list[Job]:
        """Up to `most` more well-formed-looking jobs waiting on the normal lane, taken now without waiting (none while
        a halt is in flight): the rest of a group whose answers commit together (seam/daemon.py)."""
        if not self._no_priority_work.is_set():
            return []
        jobs: list[Job] = []
        for item in self._normal.take_good(most):
            if os.sep in item:
                jobs.append((Path(item), ""))
            else:
                self._queued.discard(item)
                jobs.append((None, item))
        return jobs

    async def no_halt_in_flight(self) -> None:
        """Return once no job of the priority lane is in flight (at once when none is)."""
        await self._no_priority_work.wait()

    async def next_priority(self) -> Job:
        return await self._priority.get()

    def _priority_done(self) -> None:
        self._priority_in_flight -= 1
        if self._priority_in_flight <= 0:
            self._priority_in_flight = 0
            self._no_priority_work.set()

    async def drain(self) -> None:
        if self._restoring is not None:
            await self._restoring
        await self._idle.wait()
        if self._writing:
            logger.warning(
                "left %d file(s) that are still being written: %s", len(self._writing), ", ".join(sorted(self._writing))
            )

    def drop_unstarted(self) -> None:
        """On stop, forget queued work that no worker has started: unclaimed files stay in incoming/,
        claimed ones in this daemon's processing/ folder, and the next start takes them up."""
        for timer in self._retry_timers.values():  # waiting out a storage fault: taken up at the next start
            timer.cancel()
            self._track(-1)
        self._retry_timers.clear()
        for item in self._normal.clear():
            if os.sep not in item:
                self._queued.discard(item)
            self._track(-1)
        while not self._priority.empty():
            _, name = self._priority.get_nowait()
            if name and os.sep not in name:
                self._queued.discard(name)
            self._track(-1)

    async def finish_inflight(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=timeout)
        except TimeoutError:
            logger.warning("stopping with %d intent(s) unfinished; they are resumed at the next start", self._inflight)


class _NormalQueue:
    """The normal lane's queue in two classes: files that look like intents first, then the rest ("suspect":
    garbage, refused files), of which at most SUSPECT_IN_FLIGHT are being handled at once, and none starts while an
    intent that looks well formed is waiting or being handled, nor while the intake is still looking at names
    (`looking`): a flood of garbage is answered in the gaps, and answering it does not slow the intake's search
    for a well-formed intent among it (docs/benchmarks.md, eighth pass)."""

    def __init__(self, looking: Callable[[], bool] = lambda: False) -> None:
        self._looking = looking  # the intake still has names to look at: no suspect starts meanwhile
        self._good: collections.deque[str] = collections.deque()
        self._suspect: collections.deque[str] = collections.deque()
        self._running_suspects: set[str] = set()
        self._running_good: set[str] = set()
        self._changed = asyncio.Event()

    def put_nowait(self, item: str, *, suspect: bool = False) -> None:
        (self._suspect if suspect else self._good).append(item)
        self._changed.set()

    async def get(self) -> str:
        while True:
            if self._good:
                item = self._good.popleft()
                self._running_good.add(item)
                return item
            if (
                self._suspect
                and not self._running_good
                and len(self._running_suspects) < SUSPECT_IN_FLIGHT
                and not self._looking()
            ):
                item = self._suspect.popleft()
                self._running_suspects.add(item)
                return item
            self._changed.clear()
            await self._changed.wait()

    def take_good(self, most: int) -> list[str]:
        """Up to `most` waiting items that look well formed, marked as being handled; no wait."""
        taken: list[str] = []
        while self._good and len(taken) < most:
            item = self._good.popleft()
            self._running_good.add(item)
            taken.append(item)
        return taken

    def wake(self) -> None:
        """Something a waiting `get` depends on changed (the intake stopped looking)."""
        self._changed.set()

    def finished(self, job: Job) -> None:
        claimed, name = job
        for item in {str(claimed) if claimed is not None else "", name} - {""}:
            if item in self._running_suspects or item in self._running_good:
                self._running_suspects.discard(item)
                self._running_good.discard(item)
                self._changed.set()

    def __bool__(self) -> bool:
        return bool(self._good or self._suspect)

    def good_alone(self, job: Job) -> bool:
        """Whether `job` is the one well-formed-looking intent being handled, and none waits."""
        claimed, name = job
        return not self._good and self._running_good == {str(claimed) if claimed is not None else name}

    def clear(self) -> list[str]:
        items = [*self._good, *self._suspect]
        self._good.clear()
        self._suspect.clear()
        return items


def _some(names: list[str], shown: int = 5) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


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
