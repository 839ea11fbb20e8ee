"""The composition root: every service seam runs is built here, once, from the settings.

    Runtime.open(paths, config)            the daemon's: store, broker service, approval service, registry
    Runtime.open(..., broker=False)        a console's (CLI commands, a second process): the store only

The daemon, the CLI, the demo and the MCP server start from here, and so do the tests' harnesses;
no other module constructs a `BrokerService` or an `ApprovalService` (a test keeps it so). The mode picks
the broker implementation once, here (through `open_broker`); LIVE without IBKR_ALLOW_LIVE=true stops
the start. Later steps add the monitor, the narrator, research and Telegram as attributes of their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from seam.approval import ApprovalService, CodeChannel
from seam.approval_channels import console_channel
from seam.broker.client import BrokerClient
from seam.broker.guards import ModeLock
from seam.broker.service import BrokerService, open_broker
from seam.broker.types import Mode
from seam.clock import Clock, SystemClock
from seam.config import LoadedConfig, Secrets, Settings
from seam.errors import ConfigError
from seam.paths import SeamPaths
from seam.route import Registry, default_registry
from seam.store import Store

__all__ = ["Runtime"]

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class Runtime:
    """The services of one process on one seam, as typed attributes."""

    paths: SeamPaths
    secrets: Secrets
    clock: Clock
    store: Store
    registry: Registry
    broker: BrokerService | None
    approval: ApprovalService | None

    def __init__(self, paths: SeamPaths, config: LoadedConfig, *, clock: Clock, store: Store, registry: Registry,
                 broker: BrokerService | None, approval: ApprovalService | None) -> None:
        self.paths = paths
        self._settings = config.settings
        self.secrets = config.secrets
        self.clock = clock
        self.store = store
        self.registry = registry
        self.broker = broker
        self.approval = approval
        # the mode this process started in; a reload may change much, never this
        self.mode_lock = ModeLock(Mode(config.settings.broker.mode))

    @property
    def settings(self) -> Settings:
        """The settings in force now (frozen; a reload replaces them as a whole)."""
        return self._settings

    @classmethod
    def open(cls, paths: SeamPaths, config: LoadedConfig, *, clock: Clock | None = None, broker: bool = True,
             broker_client: BrokerClient | None = None, registry: Registry | None = None,
             channels: list[CodeChannel] | None = None, sleep: Sleep | None = None,
             approval: bool = True) -> Runtime:
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
        store = Store(paths.db, synchronous=settings.beads.synchronous, clock=clock)
        try:
            broker_service = approval_service = None
            if broker:
                broker_service = cls._broker_service(paths, config, clock, store, broker_client, sleep)
                if approval:
                    if channels is None:
                        channels = [] if settings.approval.strict else [console_channel()]
                    approval_service = ApprovalService(store, broker_service, settings, clock, paths, channels)
        except BaseException:
            store.close()
            raise
        runtime = cls(paths, config, clock=clock, store=store, registry=registry, broker=broker_service,
                      approval=approval_service)
        if broker_service is not None:
            broker_service.settings_now = lambda: runtime.settings
        return runtime

    @staticmethod
    def _broker_service(paths: SeamPaths, config: LoadedConfig, clock: Clock, store: Store,
                        client: BrokerClient | None, sleep: Sleep | None) -> BrokerService:
        holder: list[BrokerService] = []

        def lost(reason: str) -> None:
            if holder:
                holder[0].connection_lost(reason)

        if client is None:
            client = open_broker(config.settings, config.secrets, clock, on_disconnect=lost)
        service = BrokerService(client, settings=config.settings, secrets=config.secrets, store=store, paths=paths,
                                clock=clock, sleep=sleep or asyncio.sleep)
        holder.append(service)
        return service

    @classmethod
    def console(cls, paths: SeamPaths, config: LoadedConfig, *, clock: Clock | None = None) -> Runtime:
        """A console's runtime: the store of an existing seam, nothing that talks to a broker."""
        return cls.open(paths, config, clock=clock, broker=False)

    # -- life -----------------------------------------------------------------------------------------

    async def start(self, *, timers: bool = True) -> None:
        if self.broker is not None:
            await self.broker.start(timers=timers)

    async def stop(self) -> None:
        if self.broker is not None:
            await self.broker.stop()

    def close(self) -> None:
        self.store.close()

    def reload(self, config: LoadedConfig) -> Settings:
        """Put new settings in force. INV: the broker mode never changes without a restart: a reload that
        names another mode is refused whole (GuardViolation) and the settings in force stay."""
        self.mode_lock.check(config.settings.broker.mode)
        self._settings = config.settings
        logger.info("configuration reloaded from %s", self.paths.config_file)
        return self._settings
