"""The daemon: the runtime's services, the intake scheduler and the lanes' workers. Only wiring lives here.

    runtime (store, broker, approval, registry, lanes' thread pools)
    intake scheduler ──next_normal()──► N workers ──┐
                     └─next_priority()─► halt workers ─► pipeline: claim+prepare → handle → finish

An ordinary intent's steps (file IO, SQLite, fsync) run on this event loop, one intent at a time between the
intake's own steps (the hops to a thread pool and back cost more than they saved); a research handler's work
runs in the normal lane's threads, the intake's checks in its own thread, and a halt from claim to response on
the halt lane's thread, so a flood of ordinary intents cannot delay a halt. Handlers are coroutines on this
one event loop and run under their kind's time limit.

Behind a backlog a worker takes up to `GROUP_MAX` ready intents in one turn. Those whose answers reserve
nothing (a run, a rejection, a conflict) are committed in one transaction (`Pipeline.finish_together`); the
rest finish one by one. Before each intent of a group the worker waits while a halt is in flight, so a halt
waits for at most one intent's steps, not a whole group.

A step that meets a full or failing disk (claim, read and decide, commit, response, filing) is not the
intent's fault and is never answered as one: the job keeps what it has done (`_Attempt`) and goes back on
its lane after a delay (the scheduler's `retry_later`), until it is answered exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from seam.clock import Clock
from seam.config import LoadedConfig, Settings
from seam.errors import IntentError
from seam.faults import is_storage_fault
from seam.intake import Claimant
from seam.intake.restore import ResponseRestorer
from seam.intake.scheduler import IntakeScheduler, Job, ObserverFactory
from seam.liveconfig import CHECK_SECONDS as CONFIG_CHECK_SECONDS
from seam.liveconfig import ConfigWatcher
from seam.monitor.alerts import Alert
from seam.paths import SeamPaths
from seam.pipeline import Decision, Delivered, Finished, Pipeline, Prepared
from seam.respond import LazySync, Outcome, warm_templates
from seam.route import Registry
from seam.runtime import PRIORITY_WORKERS, Runtime
from seam.validate import ValidIntent, validate_bytes

__all__ = ["BusySwitch", "Daemon", "HaltLane", "RunSummary", "install_signal_handlers"]

logger = logging.getLogger(__name__)

DEFER_SECONDS = 0.05  # wait before asking again about an id another live daemon is handling
BUSY_SWITCH_SECONDS = 0.001
GROUP_MAX = 8  # ordinary intents of a backlog taken in one turn, their answers committed together
_PROCESS_SWITCH_SECONDS = sys.getswitchinterval()  # the process's own, before any daemon changed it
_WARM_UP_HALT = b'seam: 1\nid: halt-lane-warm-up\nkind: halt\npayload: {reason: "warm-up"}\n'


@dataclass
class RunSummary:
    answered: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def add(self, finished: Finished) -> None:
        self.answered += 1
        self.by_status[str(finished.status)] = self.by_status.get(str(finished.status), 0) + 1


@dataclass
class _Attempt:
    """One intent's way through the steps, kept while a storage fault is waited out."""

    name: str  # its name in incoming/, until it is claimed
    started: float
    claimed: Path | None = None
    prepared: Prepared | None = None
    outcome: Outcome | None = None
    handled: bool = False

    def step(self) -> str:
        if self.claimed is None:
            return "claiming it"
        if self.prepared is None or self.prepared.decision is Decision.DEFER:
            return "reading and deciding"
        if self.prepared.answer is None:
            return "committing its answer"
        return "writing its response and filing it"


class Daemon:
    def __init__(
        self,
        paths: SeamPaths,
        config: LoadedConfig,
        *,
        clock: Clock | None = None,
        registry: Registry | None = None,
        observer_factory: ObserverFactory | None = None,
        runtime: Runtime | None = None,
        owner: str | None = None,
        watch: str | None = None,
    ) -> None:
        self.runtime = runtime or Runtime.open(paths, config, clock=clock, registry=registry)
        self.paths = paths
        self.clock = self.runtime.clock
        self.registry = self.runtime.registry
        self.store = self.runtime.store
        self.broker_service = self.runtime.broker
        self.claimant = Claimant(paths.processing, owner)
        self.pipeline = Pipeline(self.runtime, self.claimant)
        self.intake = IntakeScheduler(
            paths,
            self.settings.intake,
            self.claimant,
            self.registry.priority_kinds(),
            offload=lambda fn, *a: self.runtime.lanes.run("intake", fn, *a),
            observer_factory=observer_factory,
            responses=ResponseRestorer(self.store, paths.responses, durable=True),
            broker_kinds=self.registry.broker_kinds(),
            standing_by=self.runtime.standing_by,
            priority_offload=lambda fn, *a: self.runtime.lanes.run("priority", fn, *a),
            watch=watch,
        )
        self.pipeline.context.queue_depth = self.queue_depth
        # An answer is durable when its ledger row commits (it holds the whole response): the response files
        # are flushed together, lazily, and start-up rewrites any a power cut took (see seam/respond.py).
        self.lazy_sync = LazySync(paths.responses)
        self.pipeline.durable = False
        self.pipeline.lazy_sync = self.lazy_sync
        self.summary = RunSummary()
        self.halt_lane = HaltLane(self)
        self.intake.priority_direct = self.halt_lane.submit
        self._attempts: dict[Path, _Attempt] = {}  # claimed files waiting out a storage fault
        self._delivered: dict[Path, Delivered] = {}  # intents this process wrote, until they are prepared
        self._unwritten_in_flight = 0  # read-only delivered intents being answered (no file in processing/)
        self.stopping = asyncio.Event()
        self.started = asyncio.Event()

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def queue_depth(self) -> dict[str, int]:
        """The intake's counts; a read-only intent delivered by this process and being answered now has no file in
        processing/, and is counted there all the same."""
        depth = self.intake.queue_depth()
        depth["processing"] = depth.get("processing", 0) + self._unwritten_in_flight
        return depth

    def stop(self) -> None:
        self.stopping.set()

    async def run(self, *, once: bool = False) -> RunSummary:
        """Process intents until stop() (or, with once=True, until what is there now is answered)."""
        concurrency = self.settings.handlers.concurrency
        self.claimant.open()
        switch = BusySwitch()
        self.intake.on_busy = switch
        tasks: list[asyncio.Task[None]] = []
        try:
            await self.runtime.lanes.run("priority", warm_templates)  # a halt never waits for a template to compile
            self.halt_lane.start(asyncio.get_running_loop())
            self.lazy_sync.start()
            await self.runtime.start()
            tasks = [asyncio.create_task(self._worker(self.intake.next_normal, "normal")) for _ in range(concurrency)]
            tasks += [
                asyncio.create_task(self._worker(self.intake.next_priority, "priority"))
                for _ in range(PRIORITY_WORKERS)
            ]
            await self.intake.start(watch=not once)
            self.started.set()
            logger.info(
                "seam daemon %s watching %s (%s, concurrency %d)",
                self.claimant.owner,
                self.paths.incoming,
                "polling" if self.settings.intake.polling else "events",
                concurrency,
            )
            if once:
                await self.intake.drain()
            else:
                tasks.append(asyncio.create_task(self.intake.run()))
                tasks.append(asyncio.create_task(self._watch_config()))
                await self.stopping.wait()
                self.intake.drop_unstarted()
                await self.intake.finish_inflight(timeout=10)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.intake.stop_watching()
            await asyncio.to_thread(self.halt_lane.stop)
            await asyncio.to_thread(self.lazy_sync.stop)
            await self.runtime.stop()
            self.claimant.close()
            self.runtime.close()
            switch.restore()
        return self.summary

    # -- intents written by this process ----------------------------------------------------------

    def deliver(self, name: str, data: bytes, checked: ValidIntent) -> Path:
        """From this process only (the MCP server that runs this daemon): an intent, `checked` a moment ago by the
        same checks (`client.check_intent`), for `answer` to carry through at once (validated once, not twice).

        An intent that acts is put straight into this daemon's processing folder, claimed, so that a crash before
        its answer leaves it to be adopted at the next start. A read-only one is written once answered, as its
        archive in processed/ (or failed/): dying before its answer, this process loses nothing that was done, and
        its caller, still waiting, is told the call failed. Returns the path that names the delivery."""
        if self.registry.route(checked.kind).read_only:
            path = self.paths.processed / name
            self._delivered[path] = Delivered(data, checked, written=False)
            return path
        claimed = self.claimant.claim_new(name, data, tmp_dir=self.paths.tmp)
        self._delivered[claimed] = Delivered(data, checked)
        return claimed

    async def answer(self, delivered: Path) -> Finished | None:
        """A delivered intent through the same steps as any other (prepare, handle, finish: the same checks, beads,
        ledger row, response file and filing), now, on the caller's event loop, its blocking steps inline: no wait
        for a watch to see the file, no hop to a thread pool and back. For one intent at a time whose blocking steps
        are short (not research). None when it is not answered here and now: handed back to the daemon that owns
        the broker, or waiting out a full or failing disk (then the normal lane finishes it); its response file
        comes the usual way. A read-only intent meeting a full or failing disk raises the fault (nothing was done;
        its caller is told)."""
        unwritten = self._delivered.get(delivered)
        if unwritten is not None and not unwritten.written:
            del self._delivered[delivered]
            return await self._answer_unwritten(delivered, unwritten)
        attempt = _Attempt(delivered.name, time.perf_counter(), delivered)
        try:
            finished = await self._advance(attempt, "direct")
        except Exception as exc:
            if not is_storage_fault(exc):
                raise
            self._wait_out(attempt, "normal", exc)
            return None
        self._after((delivered, ""), attempt, finished)
        return finished

    async def _answer_unwritten(self, archive: Path, delivered: Delivered) -> Finished | None:
        self._unwritten_in_flight += 1
        try:
            return await self._answer_unwritten_now(archive, delivered)
        finally:
            self._unwritten_in_flight -= 1

    async def _answer_unwritten_now(self, archive: Path, delivered: Delivered) -> Finished | None:
        attempt = _Attempt(archive.name, time.perf_counter())
        attempt.prepared = self.pipeline.prepare_bytes(
            delivered.data, name=archive.name, started=attempt.started, checked=delivered.valid
        )
        if attempt.prepared.decision is Decision.DEFER:
            return None  # never for a kind that reserves nothing; if it were, the caller waits for the file way
        finished = await self._advance(attempt, "direct")
        if finished is not None:
            folder = self.paths.processed if finished.status.filed_as_success else self.paths.failed
            # filed after the answer has gone back: on this loop's next turn, while the transport sends the answer
            # (three short syscalls here cost less than a hop to a thread and the GIL handed back and forth)
            asyncio.get_running_loop().call_soon(_archive_answered, folder / archive.name, delivered.data)
        self._after((None, archive.name), attempt, finished)
        return finished

    # -- seam.yaml, watched ---------------------------------------------------------------------------

    async def _watch_config(self) -> None:
        """Put live changes of seam.yaml in force; refuse the rest until restart (seam/liveconfig.py)."""
        runtime = self.runtime
        watcher = ConfigWatcher(
            self.paths,
            runtime.config,
            self.store,
            apply=runtime.reload,
            alert=lambda kind, message, facts: runtime.alerts.raise_alert(Alert(kind, message, facts)),
            invalidate=runtime.approval.invalidate_open if runtime.approval is not None else None,
        )
        while True:
            await asyncio.sleep(CONFIG_CHECK_SECONDS)
            try:
                await runtime.lanes.run("normal", watcher.check)
            except Exception:  # a refused reload or a busy store: the settings in force stay; looked at again
                logger.exception("seam.yaml: the change could not be put in force; the settings in force stay")

    # -- workers ----------------------------------------------------------------------------------

    async def _worker(self, next_job: Callable[[], Awaitable[Job]], lane: str) -> None:
        while True:
            job = await next_job()
            if lane == "normal" and not self.intake.alone(job):
                await self._process_group(job)
                continue
            try:
                # an ordinary intent's steps run here, on the loop, with no hop to a thread and back (the module's
                # docstring says why; docs/benchmarks.md, fifth pass, has the figures)
                await self._process(job, "direct" if lane == "normal" else lane)
            except asyncio.CancelledError:
                raise
            except Exception:  # the one broad except: one intent never stops the daemon
                logger.exception("could not finish %s; it stays in processing/ and is retried at restart", job)
            finally:
                self.intake.done(lane, job)

    async def _process_group(self, first: Job) -> None:
        """Ordinary intents of a backlog, in one turn between the intake's steps (finding a halt among the files goes
        in between two turns). Each is claimed, prepared and handled in order; the answers that reserved nothing
        (read-only kinds, rejections) commit together, in one transaction and one WAL fsync, then get their
        responses. Whatever happens to one intent happens to it alone, but a full or failing disk at the shared
        commit, which leaves each of them to be retried."""
        together: list[tuple[Job, _Attempt, Prepared]] = []
        jobs = [first]
        try:
            await self.intake.turn()
            jobs += self.intake.more_normal(GROUP_MAX - 1)
            for job in jobs:
                await self.intake.no_halt_in_flight()  # a halt found meanwhile goes first, as at the lane's queue
                attempt = self._attempt_for(job)
                try:
                    prepared, lane = await self._ready_to_finish(attempt, "direct")
                    if prepared is not None and lane == "direct" and self.pipeline.batchable(prepared):
                        together.append((job, attempt, prepared))
                        continue
                    finished = (
                        await self.runtime.lanes.run(lane, self.pipeline.finish, prepared, attempt.outcome)
                        if prepared is not None
                        else None
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._failed(job, attempt, "direct", exc)
                else:
                    self._after(job, attempt, finished)
            if together:
                results = self.pipeline.finish_together([(p, a.outcome) for _, a, p in together])
                for (job, attempt, _), result in zip(together, results, strict=True):
                    if isinstance(result, Exception):
                        self._failed(job, attempt, "direct", result)
                    else:
                        self._after(job, attempt, result)
        finally:
            for job in jobs:
                self.intake.done("normal", job)
        await asyncio.sleep(0)  # a turn of the loop between groups: its timers and transports are served

    def _failed(self, job: Job, attempt: _Attempt, lane: str, exc: Exception) -> None:
        """One intent's steps raised: a full or failing disk is waited out; anything else is a defect, logged, and
        the intent stays where it is for the restart."""
        if is_storage_fault(exc):
            self._wait_out(attempt, lane, exc)
        else:
            logger.error("could not finish %s; it stays in processing/ and is retried at restart", job, exc_info=exc)

    def _halt_done(self, attempt: _Attempt, finished: Finished | None, fault: BaseException | None) -> None:
        """On the loop: a job of the halt lane has ended (answered, given up on, or waiting out a fault)."""
        job: Job = (attempt.claimed, "")
        try:
            if fault is not None:
                self._wait_out(attempt, "halt", fault)
            else:
                self._after(job, attempt, finished)
        finally:
            self.intake.done("priority", job)

    def _claim_and_prepare(self, attempt: _Attempt) -> Prepared | None:
        """One trip to the thread pool: claim (unless already claimed), then read, validate, decide."""
        if attempt.claimed is None:
            claimed = self.claimant.claim(self.paths.incoming / attempt.name)
            if claimed is None:
                return None  # another daemon won the rename
            attempt.claimed = claimed
        return self.pipeline.prepare(
            attempt.claimed, started=attempt.started, delivered=self._delivered.pop(attempt.claimed, None)
        )

    async def _process(self, job: Job, lane: str) -> None:
        attempt = self._attempt_for(job)
        try:
            finished = await self._advance(attempt, lane)
        except Exception as exc:
            if not is_storage_fault(exc):
                raise
            self._wait_out(attempt, lane, exc)
        else:
            self._after(job, attempt, finished)

    def _attempt_for(self, job: Job) -> _Attempt:
        claimed, name = job
        attempt = self._attempts.pop(claimed, None) if claimed is not None else None
        return attempt if attempt is not None else _Attempt(name, time.perf_counter(), claimed)

    def _wait_out(self, attempt: _Attempt, lane: str, exc: BaseException) -> None:
        """A full or failing disk: not the intent's fault. It waits in processing/ (or, not yet claimed, in
        incoming/) with what it has done, and this daemon takes it up again later (a halt: on the loop's
        priority workers)."""
        if attempt.claimed is not None:
            self._attempts[attempt.claimed] = attempt
        job = (attempt.claimed, "" if attempt.claimed else attempt.name)
        self.intake.retry_later(job, "priority" if lane == "halt" else lane, exc, attempt.step())

    def _after(self, job: Job, attempt: _Attempt, finished: Finished | None) -> None:
        claimed, _ = job
        self.intake.retried(job)
        if attempt.claimed is not None and attempt.claimed != claimed:
            self.intake.retried((attempt.claimed, ""))
        if finished is None:
            return
        self.summary.add(finished)
        logger.info(
            "intent %s kind=%s status=%s ms=%.1f%s",
            finished.key,
            finished.kind or "-",
            finished.status,
            finished.ms,
            " (already answered)" if finished.extra.get("already") else "",
        )

    async def _advance(self, attempt: _Attempt, lane: str) -> Finished | None:
        """The steps not done yet: claim and prepare, handle, finish (commit, respond, file)."""
        prepared, lane = await self._ready_to_finish(attempt, lane)
        if prepared is None:
            return None
        return await self.runtime.lanes.run(lane, self.pipeline.finish, prepared, attempt.outcome)

    async def _ready_to_finish(self, attempt: _Attempt, lane: str) -> tuple[Prepared | None, str]:
        """The steps before the finish not done yet (claim and prepare, handle): the intent then to finish (None: not
        answered here: lost to another daemon's claim, or handed back) and the lane its finish runs on."""
        if attempt.prepared is None:
            attempt.prepared = await self.runtime.lanes.run(lane, self._claim_and_prepare, attempt)
            if attempt.prepared is None:
                return None, lane
        while attempt.prepared.decision is Decision.DEFER:  # another live daemon is running this very intent
            await asyncio.sleep(DEFER_SECONDS)
            assert attempt.claimed is not None
            attempt.prepared = await self.runtime.lanes.run(
                lane, self.pipeline.prepare, attempt.claimed, started=attempt.started
            )
        prepared = attempt.prepared
        if prepared.decision is Decision.HAND_BACK:
            await self._hand_back(prepared, lane)
            return None, lane
        if prepared.decision is Decision.RUN and not attempt.handled:
            assert prepared.intent is not None
            if lane == "direct" and not self.registry.answered_inline(prepared.intent.kind):
                lane = "normal"  # research: its seconds of work stay off the loop
            attempt.outcome = await self.pipeline.handle(prepared, self.runtime.lanes.pool(lane))
            attempt.handled = True
        return prepared, lane

    async def _hand_back(self, prepared: Prepared, lane: str) -> None:
        """A kind that needs the broker, claimed while another daemon owns it: back into incoming/ for that
        daemon, unanswered and without a bead (nothing was done with it here)."""
        assert prepared.claimed is not None
        back = await self.runtime.lanes.run(lane, self.claimant.hand_back, prepared.claimed)
        if back is None:
            logger.error("could not hand %s back for the broker's owner: no free name in incoming/", prepared.claimed)
            return
        self.intake.handed_back(back.name)
        logger.info("intent %s kind=%s left for the daemon that owns the broker", prepared.key, prepared.kind)


def _archive_answered(target: Path, data: bytes) -> None:
    """A read-only intent answered in this process, filed as any answered intent is (never over another file);
    a failure is logged: the answer, its bead and its response stand."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except OSError as exc:
        logger.error("could not file an answered intent in processed/: %s", exc)


class BusySwitch:
    """How often the interpreter hands the GIL from thread to thread. While intents are in flight through the intake
    (a backlog that a halt must get past), every BUSY_SWITCH_SECONDS, so the halt lane's threads get the GIL sooner;
    when none are, Python's own interval again, so a lone intent (an MCP tool call answered in this process, whose
    transport has threads of its own) is not switched away from every millisecond (measured: ~1 ms a call)."""

    def __init__(self) -> None:
        self.idle_interval = _PROCESS_SWITCH_SECONDS  # not the value now: another daemon in this process may be busy

    def __call__(self, busy: bool) -> None:
        sys.setswitchinterval(BUSY_SWITCH_SECONDS if busy else self.idle_interval)

    def restore(self) -> None:
        sys.setswitchinterval(self.idle_interval)


class HaltLane:
    """The halt lane: one plain thread, with an event loop of its own, that takes a halt from the moment the
    priority watch claims its file to its response: validate, the flag and its beads, the answer, the response
    file. No step waits for the daemon's event loop or its thread pools, which a backlog of ordinary intents keeps
    busy; its store writes go first at the write lock (a priority thread), and while it runs the normal lane's
    blocking steps wait to start (the runtime's HaltGate), so they do not compete with it for the GIL. The one step
    that is the loop's, cancelling the broker's working orders, is handed to it and waited for a bounded time (the
    halt handler)."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        self._jobs: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._home: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()

    def start(self, home: asyncio.AbstractEventLoop) -> None:
        self._home = home
        self._thread = threading.Thread(target=self._run, name="seam-halt-lane", daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def submit(self, claimed: Path) -> None:
        """From any thread: a claimed file of a priority kind, to be carried out now."""
        self._daemon.runtime.lanes.gate.hold()  # the normal lane's steps wait until its response is written
        self._jobs.put(claimed)

    def stop(self, timeout: float = 10.0) -> None:
        """Let the halt in hand finish (within `timeout`), then end the thread; files still queued stay in
        processing/ and are adopted at the next start."""
        if self._thread is None:
            return
        self._jobs.put(None)
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        store = self._daemon.store
        store.mark_priority_thread()
        loop = asyncio.new_event_loop()
        try:
            self._warm_up()
            self._ready.set()
            while (claimed := self._jobs.get()) is not None:
                self._one(loop, claimed)
        finally:
            self._ready.set()
            loop.close()

    def _warm_up(self) -> None:
        """What a first halt would otherwise pay for: this thread's store connection and the statements a halt reads,
        and the validation of a halt intent (nothing is written)."""
        daemon = self._daemon
        store = daemon.store
        store.last_seq()
        store.flags.halt()
        store.ledger.get("halt-lane-warm-up")
        try:
            validate_bytes(_WARM_UP_HALT, daemon.pipeline.check_context())
        except IntentError:  # a configuration that refuses it says so when a real halt comes
            logger.debug("halt lane: the warm-up halt did not validate", exc_info=True)

    def _one(self, loop: asyncio.AbstractEventLoop, claimed: Path) -> None:
        daemon = self._daemon
        attempt = _Attempt(claimed.name, time.perf_counter(), claimed)
        finished: Finished | None = None
        fault: BaseException | None = None
        try:
            finished = loop.run_until_complete(daemon._advance(attempt, "halt"))
        except Exception as exc:  # the one broad except: one intent never stops the halt lane
            if is_storage_fault(exc):
                fault = exc
            else:
                logger.exception("could not finish %s; it stays in processing/ and is retried at restart", claimed)
        daemon.runtime.lanes.gate.release()
        assert self._home is not None
        try:
            self._home.call_soon_threadsafe(daemon._halt_done, attempt, finished, fault)
        except RuntimeError:  # the daemon's loop has ended: the file is in processing/, adopted at the next start
            logger.warning("halt lane: %s finished after the daemon stopped", claimed.name)


def install_signal_handlers(daemon: Daemon) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, daemon.stop)
