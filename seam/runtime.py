"""The composition root: every service seam runs is built here, once, from the settings.

    Runtime.open(paths, config)            the daemon's: store, broker service, approval service, registry
    Runtime.open(..., broker=False)        a console's (CLI commands, a second process): the store only

One daemon per seam owns the broker (seam/broker/lease.py): `start` takes the broker lease or stands by,
and a standby takes over when the owner dies. `owns_broker()` says which this process is now.

The daemon, the CLI, the demo and the MCP server start from here, and so do the tests' harnesses;
no other module constructs a `BrokerService` or an `ApprovalService` (a test keeps it so). The mode picks
the broker implementation once, here (through `open_broker`); LIVE without IBKR_ALLOW_LIVE=true stops
the start. Every process has one `alerts` sink (bundled, throttled); a daemon with a broker service also
runs the heartbeat (seam/monitor/), which beats whether this daemon owns the broker or stands by.
With `telegram.enabled`, the daemon that owns the broker also runs Telegram (seam/monitor/telegram.py): alerts go
there, proposals are offered there with Approve / Reject buttons, and in strict approval mode codes go there only.
Its /status, /health and /halt are intents written into the seam (seam/client.py), answered like any other.
`reload` puts live settings in force (the config watcher, seam/liveconfig.py, calls it when seam.yaml changes).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from seam.approval import ApprovalService, CodeChannel, console_channel
from seam.approval.keys import CodeKey
from seam.blocking import InlineExecutor, Offload, run_in
from seam.broker.client import BrokerClient
from seam.broker.guards import ModeLock
from seam.broker.lease import RENEW_SECONDS, LeaseKeeper
from seam.broker.service import BrokerService, open_broker
from seam.broker.types import Mode
from seam.clock import Clock, SystemClock
from seam.config import LoadedConfig, Secrets, Settings
from seam.errors import ConfigError
from seam.monitor.alerts import AlertSink
from seam.monitor.heartbeat import Heartbeat
from seam.narrator import set_words
from seam.paths import SeamPaths
from seam.route import Registry, default_registry
from seam.store import Store

if TYPE_CHECKING:
    from seam.monitor.telegram import TelegramService

__all__ = ["BLOCKING_THREADS", "PRIORITY_WORKERS", "Lanes", "Runtime"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]

PRIORITY_WORKERS = 2
BLOCKING_THREADS = 3  # threads for the normal lane's blocking steps (file IO, SQLite)
LANES = ("intake", "priority", "normal", "halt", "direct")
ALERT_FLUSH_SECONDS = 5.0  # held alerts go out this often: alerts raised within it form one bundle


class HaltGate:
    """While a halt is in flight, the normal lane's threaded steps (a research handler's, the heartbeat's; ordinary
    intents do not start at all meanwhile) wait to start (at most HOLD_SECONDS): each would
    compete with the halt lane's thread for the GIL and the store's write lock. Held from the moment a halt is
    claimed, released when its response is written. A step already running finishes."""

    HOLD_SECONDS = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = 0
        self._open = threading.Event()
        self._open.set()

    def hold(self) -> None:
        with self._lock:
            self._held += 1
            self._open.clear()

    def release(self) -> None:
        with self._lock:
            self._held = max(0, self._held - 1)
            if self._held == 0:
                self._open.set()

    def wait(self) -> None:
        self._open.wait(self.HOLD_SECONDS)


class _GatedPool(ThreadPoolExecutor):
    """The normal lane's pool: each step first waits for the halt gate."""

    def __init__(self, workers: int, gate: HaltGate) -> None:
        super().__init__(workers, thread_name_prefix="seam-worker")
        self._gate = gate

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return super().submit(self._gated, fn, *args, **kwargs)

    def _gated(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self._gate.wait()
        return fn(*args, **kwargs)


class Lanes:
    """The thread pools blocking work runs in, one per lane, so a flood of ordinary intents never takes the
    threads (or, in this process, the store's write lock: the halt lane's threads are marked priority) a
    halt needs. Threads start on first use."""

    def __init__(self, store: Store, concurrency: int) -> None:
        self.gate = HaltGate()
        self._pools = {
            "intake": ThreadPoolExecutor(1, thread_name_prefix="seam-intake"),
            "priority": ThreadPoolExecutor(
                PRIORITY_WORKERS, thread_name_prefix="seam-halt", initializer=store.mark_priority_thread
            ),
            # An ordinary intent's steps run on the loop (seam/daemon.py Daemon._process); these threads take a
            # research handler's work, the heartbeat's and the configuration watch's. Every extra thread
            # competes for the GIL with the intake and the halt lane.
            "normal": _GatedPool(min(concurrency, BLOCKING_THREADS), self.gate),
            # the daemon's halt lane: one plain thread of its own (seam/daemon.py HaltLane), its work inline
            "halt": InlineExecutor(),
            # an intent this process wrote and waits on (the MCP server running the daemon): its steps run inline
            # on the event loop (seam/daemon.py Daemon.answer), one call at a time, no hop to a thread and back
            "direct": InlineExecutor(),
        }

    def pool(self, lane: str) -> Executor:
        return self._pools[lane]

    async def run(self, lane: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` in the lane's pool, awaited from the event loop (an inline lane's: called here)."""
        return await run_in(self._pools[lane], fn, *args, **kwargs)

    def offload(self, lane: str) -> Offload:
        """An `offload` that runs blocking work in this lane's pool."""
        return functools.partial(self.run, lane)

    def shutdown(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)


class Runtime:
    """The services of one process on one seam, as typed attributes."""

    paths: SeamPaths
    secrets: Secrets
    clock: Clock
    store: Store
    registry: Registry
    broker: BrokerService | None
    approval: ApprovalService | None
    lanes: Lanes
    alerts: AlertSink
    heartbeat: Heartbeat | None

    def __init__(
        self,
        paths: SeamPaths,
        config: LoadedConfig,
        *,
        clock: Clock,
        store: Store,
        registry: Registry,
        broker: BrokerService | None,
        approval: ApprovalService | None,
        alerts: AlertSink | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.paths = paths
        self.config = config
        self._settings = config.settings
        self.secrets = config.secrets
        self.clock = clock
        self.store = store
        self.registry = registry
        self.broker = broker
        self.approval = approval
        self.lanes = Lanes(store, config.settings.handlers.concurrency)
        # the mode this process started in; a reload may change much, never this
        self.mode_lock = ModeLock(Mode(config.settings.broker.mode))
        owner = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"
        self.daemon_id = owner
        self.lease: LeaseKeeper | None = LeaseKeeper(store, clock, owner) if broker is not None else None
        self._lease_task: asyncio.Task[None] | None = None
        self._sleep = sleep or asyncio.sleep
        self.alerts = alerts or _alert_sink(paths, config.settings, clock, store)
        self.heartbeat = None
        if broker is not None:
            self.heartbeat = Heartbeat(
                store=store,
                clock=clock,
                settings=lambda: self.settings,
                daemon=owner,
                broker=lambda: self.broker if self.owns_broker() else None,
                alerts=self.alerts,
                blocking=self.lanes.offload("normal"),
                sleep=self._sleep,
                role=lambda: "owner of the broker" if self.owns_broker() else "standing by",
            )
        self._monitor_tasks: list[asyncio.Task[None]] = []
        self._timers = True
        self._started = False
        # Telegram: the service of this owner of the broker (a new one at each take-over; None while standing by)
        self.telegram: TelegramService | None = None
        self._telegram_enabled = False
        self._telegram_transport: Any = None  # tests: an httpx transport

    @property
    def settings(self) -> Settings:
        """The settings in force now (frozen; a reload replaces them as a whole)."""
        return self._settings

    @classmethod
    def open(
        cls,
        paths: SeamPaths,
        config: LoadedConfig,
        *,
        clock: Clock | None = None,
        broker: bool = True,
        broker_client: BrokerClient | None = None,
        registry: Registry | None = None,
        channels: list[CodeChannel] | None = None,
        sleep: Sleep | None = None,
        approval: bool = True,
    ) -> Runtime:
        """Build the services. `broker=False` gives a console's runtime: the store, no broker, no approval.

        `broker_client` replaces the implementation the mode would pick (tests: a FakeBroker with a fake
        clock); `channels` replaces the human channels for codes (default: the `seam watch` terminal,
        none in strict mode); `sleep` is the broker service's (tests advance a fake clock with it).
        """
        if not paths.is_initialised():
            raise ConfigError("seam", f"{paths.root} is not a seam (run `seam init {paths.root}` first)")
        clock = clock or SystemClock()
        settings = config.settings
        registry = registry or default_registry()
        registry.check_complete()
        paths.protect()  # INV: the store, the configuration and the secrets are the owner's alone (0600, 0700)
        store = Store(paths.db, synchronous=settings.beads.synchronous, clock=clock)
        alerts = _alert_sink(paths, settings, clock, store)
        try:
            broker_service = approval_service = None
            if broker:
                broker_service = cls._broker_service(paths, config, clock, store, broker_client, sleep, alerts)
                if approval:
                    if channels is None:
                        channels = [] if settings.approval.strict else [console_channel()]
                    key = CodeKey.for_seam(paths)
                    approval_service = ApprovalService(store, broker_service, settings, clock, paths, key, channels)
        except BaseException:
            store.close()
            raise
        runtime = cls(
            paths,
            config,
            clock=clock,
            store=store,
            registry=registry,
            broker=broker_service,
            approval=approval_service,
            alerts=alerts,
            sleep=sleep,
        )
        if approval_service is not None and settings.telegram.enabled:
            try:
                runtime._enable_telegram(approval_service)
            except BaseException:
                runtime.close()
                raise
        if broker_service is not None:
            broker_service.settings_now = lambda: runtime.settings
            # the services' blocking writes go to the normal lane's pool, never onto the event loop's thread
            broker_service.offload = broker_service.supervisor.offload = runtime.lanes.offload("normal")
            broker_service.halt_offload = runtime.lanes.offload("priority")
        return runtime

    @staticmethod
    def _broker_service(
        paths: SeamPaths,
        config: LoadedConfig,
        clock: Clock,
        store: Store,
        client: BrokerClient | None,
        sleep: Sleep | None,
        alerts: AlertSink,
    ) -> BrokerService:
        holder: list[BrokerService] = []

        def lost(reason: str) -> None:
            if holder:
                holder[0].connection_lost(reason)

        if client is None:
            client = open_broker(config.settings, config.secrets, clock, on_disconnect=lost)
        service = BrokerService(
            client,
            settings=config.settings,
            secrets=config.secrets,
            store=store,
            paths=paths,
            clock=clock,
            sleep=sleep or asyncio.sleep,
            alerts=alerts,
        )
        holder.append(service)
        return service

    @classmethod
    def console(cls, paths: SeamPaths, config: LoadedConfig, *, clock: Clock | None = None) -> Runtime:
        """A console's runtime: the store of an existing seam, nothing that talks to a broker."""
        return cls.open(paths, config, clock=clock, broker=False)

    # -- life -----------------------------------------------------------------------------------------

    def owns_broker(self) -> bool:
        """This process holds the broker lease and its broker service runs: the kinds that need a broker are
        this process's to handle."""
        return self.broker is not None and self.lease is not None and self.lease.held and self.broker.active

    def standing_by(self) -> bool:
        """Started, with a broker service, while another daemon holds the broker lease: the kinds that need a
        broker are that daemon's, and this one leaves them in incoming/ for it."""
        return self._started and self.broker is not None and not self.owns_broker()

    async def start(self, *, timers: bool = True) -> None:
        """Take the broker lease and start the broker, or stand by while another daemon holds it. With
        `timers`, the lease is renewed (or, standing by, asked for) every RENEW_SECONDS."""
        if self.broker is None or self.lease is None:
            return
        self._started = True
        self._timers = timers
        if await self.lanes.run("normal", self.lease.try_take):
            await self.broker.start(timers=timers)
            if timers:
                await self._start_telegram()
        else:
            holder = self.lease.holder
            logger.info(
                "standing by: the broker is owned by daemon %s; kinds that need it are left to that daemon",
                holder.owner if holder else "?",
            )
        if timers:
            loop = asyncio.get_running_loop()
            self._lease_task = loop.create_task(self._keep_lease())
            assert self.heartbeat is not None
            await self.heartbeat.beat_logged()  # the first beat before any intent: `status` has a state at once
            self._monitor_tasks = [
                loop.create_task(self.heartbeat.run(first=False)),
                loop.create_task(self._flush_alerts()),
            ]

    async def _flush_alerts(self) -> None:
        while True:
            await self._sleep(ALERT_FLUSH_SECONDS)
            try:
                await self.lanes.run("normal", self.alerts.flush)
            except Exception:  # a busy store: the held alerts wait for the next flush
                logger.exception("alerts: the flush failed; the held alerts go with the next one")

    async def _keep_lease(self) -> None:
        assert self.broker is not None and self.lease is not None
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                held = await self.lanes.run("normal", self.lease.try_take)
            except Exception as exc:  # a busy or failing store: the next tick asks again
                logger.warning("broker lease: could not renew (%s); trying again", exc)
                continue
            if held and not self.broker.active:
                logger.info("taking over the broker: the daemon that owned it is gone")
                await self.broker.start(timers=self._timers)
                await self._start_telegram()
            elif not held and self.broker.active:
                await self._stop_telegram()
                await self.broker.stop()

    async def stop(self) -> None:
        self._started = False
        tasks, self._monitor_tasks = self._monitor_tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if tasks and self.heartbeat is not None:
            await self.heartbeat.stopped()
        await self.lanes.run("normal", self.alerts.flush)  # nothing held is lost at a stop
        if self._lease_task is not None:
            self._lease_task.cancel()
            await asyncio.gather(self._lease_task, return_exceptions=True)
            self._lease_task = None
        await self._stop_telegram()
        if self.broker is not None and self.broker.active:
            await self.broker.stop()
        if self.lease is not None and self.lease.held:
            await self.lanes.run("normal", self.lease.release)

    def close(self) -> None:
        self.lanes.shutdown()
        self.store.close()

    def reload(self, config: LoadedConfig) -> Settings:
        """Put new settings in force. INV: the broker mode never changes without a restart: a reload that
        names another mode is refused whole (GuardViolation) and the settings in force stay; so is a word list
        one of the narrator's templates would trip (ConfigError)."""
        self.mode_lock.check(config.settings.broker.mode)
        set_words(config.settings.narrator.words)
        self.alerts.bundle = timedelta(minutes=config.settings.alerts.bundle_minutes)
        self.alerts.max_per_minute = config.settings.alerts.max_per_minute
        self.config = config
        self._settings = config.settings
        logger.info("configuration reloaded from %s", self.paths.config_file)
        return self._settings

    # -- Telegram -------------------------------------------------------------------------------------

    def _enable_telegram(self, approval: ApprovalService) -> None:
        """Check Telegram's secrets now (a missing token stops the start, naming it) and route the human channels
        and the alerts through whichever service this process runs."""
        self.telegram = self._new_telegram()  # built once here so a bad secret stops the start
        self._telegram_enabled = True
        if self.settings.approval.strict:
            # INV: in strict mode a code reaches Telegram and nothing else
            approval.channels = [self._telegram_code]
        approval.channels.append(self._telegram_offer)
        self.alerts.add_sink(self._telegram_alert)

    def _new_telegram(self) -> TelegramService:
        from seam.monitor.telegram import TelegramService, decisions

        assert self.approval is not None
        approve, reject = decisions(self.approval)
        service = TelegramService(
            self.store,
            self.settings,
            self.secrets,
            self.clock,
            status_text=lambda: self._through_seam("status", {}),
            health_text=lambda: self._through_seam("narrate", {"template": "health"}),
            halt=self._telegram_halt,
            approve=approve,
            reject=reject,
            sleep=self._sleep,
            transport=self._telegram_transport,
        )
        service.offload = self.lanes.offload("normal")
        return service

    def _through_seam(self, kind: str, payload: dict[str, Any]) -> str:
        """An intent written into this seam, answered by its daemon like any other; the answer's body (blocking)."""
        from seam import client

        intent = {"seam": 1, "id": f"telegram-{kind}-{os.urandom(4).hex()}", "kind": kind, "payload": payload}
        return client.submit_and_wait(self.paths, self.config, intent, timeout=30.0).body

    async def _telegram_halt(self, reason: str, by: str) -> str:
        return await asyncio.to_thread(self._through_seam, "halt", {"reason": f"{reason} ({by})"[:200]})

    # The channels and the alert sink go to the service of the moment (a take-over builds a new one). A code is held
    # in that service's memory only (never in the store), so it must be the one that delivers it.
    def _telegram_code(self, proposal: Any, code: str, expires: Any) -> None:
        assert self.telegram is not None
        self.telegram.code_channel()(proposal, code, expires)

    def _telegram_offer(self, proposal: Any, code: str, expires: Any) -> None:
        assert self.telegram is not None
        self.telegram.offer_channel()(proposal, code, expires)

    def _telegram_alert(self, title: str, markdown: str, severity: str) -> None:
        assert self.telegram is not None
        self.telegram.alert_sink(title, markdown, severity)  # queued on disk; whoever delivers next sends it

    async def _start_telegram(self) -> None:
        if not self._telegram_enabled:
            return
        if self.telegram is None or self.telegram.spent:
            self.telegram = self._new_telegram()
        await self.telegram.start()
        logger.info("telegram: delivering to the configured chat, polling for commands and button presses")

    async def _stop_telegram(self) -> None:
        if self.telegram is not None and self.telegram.running:
            await self.telegram.stop()


def _alert_sink(paths: SeamPaths, settings: Settings, clock: Clock, store: Store) -> AlertSink:
    return AlertSink(
        store,
        paths.responses / "alerts",
        clock,
        bundle_minutes=settings.alerts.bundle_minutes,
        max_per_minute=settings.alerts.max_per_minute,
    )
