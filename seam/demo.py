"""`seam demo`: the whole story in one command — signals, a human's approval, trades, a restart, a halt drill.

It runs the real daemon (real filesystem observer, real pipeline, real bead store) on a seam in a
temporary folder (or --seam DIR), on a simulated market clock so it runs on any day, and narrates:

    FORMING signal → READY signal → evidence (pending_approval) → the human's code → bracket → fills
    → MANAGED → the market reaches the target or the stop → CLOSED, AUTOPSY, responses/trade-<id>.md
    three trades over two daemon sessions → a halt drill (RB-004) → summary → `beads verify`

MOCK mode uses the in-process FakeBroker; PAPER mode starts the fake IB Gateway in-process and goes
through the real IB client library, with a forced gateway disconnect and the link's recovery.
The demo plays the human for the approvals and says so; it never prints an approval code. Every wait
is bounded: any failure is named and the command exits 1. It writes only inside the demo's seam folder.
"""

from __future__ import annotations

import asyncio
import errno
import importlib.util
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

from seam import fx
from seam.approval import ApprovalService, Proposal
from seam.broker.fake import FakeBroker
from seam.broker.lifecycle import TERMINAL
from seam.broker.service import BrokerService
from seam.broker.types import LinkState
from seam.clock import ShiftedClock
from seam.config import load_config, render_commented_yaml
from seam.daemon import Daemon
from seam.handlers.base import HandlerContext
from seam.paths import SeamPaths, write_atomic
from seam.respond import read_front_matter
from seam.runtime import Runtime

__all__ = ["MODES", "run_demo"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

MODES = ("mock", "paper")
PAIR = "EURUSD"
PAPER_ACCOUNT = "DU123456"
PAPER_PORT = 4002  # PAPER mode insists on IB's paper port; the gateway gets a loopback address of its own
DEMO_BACKOFF = "[0.5, 1, 2]"  # seconds before each reconnect attempt (seam's default is 5, 15, 45)
MASK = "******"
# Bounds on every wait, per mode: the IB library adds a network round trip or two to each step.
RESPONSE_SECONDS = {"mock": 15.0, "paper": 25.0}
START_SECONDS = 20.0
STOP_SECONDS = 20.0
RECOVERY_SECONDS = 15.0


class DemoFailure(Exception):
    """Something the story needed did not happen; the message says what."""


@dataclass(frozen=True)
class TradePlan:
    """One scripted trade: the signal's levels, and where the demo then moves the market."""

    number: int
    direction: str  # LONG | SHORT
    entry: float
    stop: float
    target: float
    exit_mid: float
    exit: str  # which bracket child the move reaches: target | stop
    setup: str

    @property
    def position(self) -> str:
        return f"t{self.number}-{self.direction.lower()}"


# Levels sit on 10-pip marks: the proposal's state anchor buckets the quote by 10 pips, and a quote
# exactly on a bucket's edge could flip between proposal and approval (a STATE_CONFLICT, not the story).
PLANS = (
    TradePlan(1, "LONG", 1.0850, 1.0820, 1.0910, 1.0912, "target", "FVG_ENTRY"),
    TradePlan(2, "SHORT", 1.0900, 1.0930, 1.0840, 1.0932, "stop", "OTE_ENTRY"),
    TradePlan(3, "SHORT", 1.0930, 1.0960, 1.0870, 1.0868, "target", "BOS_ENTRY"),
)
DRILL_ENTRY = (1.0880, 1.0850, 1.0940)


def simulated_start(now: datetime | None = None) -> datetime:
    """09:00 UTC on the latest Wednesday (today, if it is one): the London session, mid-week."""
    now = now or datetime.now(UTC)
    back = (now.weekday() - 2) % 7
    day = (now - timedelta(days=back)).date()
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


# ---- threads: the daemon and the fake gateway each run on an event loop of their own ------------


class _LoopThread:
    """An event loop in a background thread; the demo calls into it with bounded waits."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[T], timeout: float, what: str) -> T:
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(coro), self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise DemoFailure(f"{what} did not finish within {timeout:g} s") from None

    def call(self, fn: Callable[[], T], timeout: float, what: str) -> T:
        async def on_loop() -> T:
            return fn()

        return self.run(on_loop(), timeout, what)

    def close(self) -> None:
        if self.loop.is_closed():
            return  # closed already: on the normal path and again by the clean-up stack
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(STOP_SECONDS)
        if self.thread.is_alive():
            raise DemoFailure(f"the {self.thread.name} thread did not stop within {STOP_SECONDS:g} s")
        self.loop.close()


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


class _DaemonRunner(_LoopThread):
    """A Daemon built and run on its own loop, as `seam watch` runs it."""

    def __init__(self, paths: SeamPaths, env: dict[str, str], clock: ShiftedClock, session: int) -> None:
        super().__init__(f"seam-demo-daemon-{session}")
        self.paths = paths
        self.env = env
        self.clock = clock
        self.daemon: Daemon | None = None
        self.task: Future[Any] | None = None

    def start(self) -> Daemon:
        async def build() -> Daemon:
            # built on its loop: the IB client library binds to the loop that creates it
            config = load_config(self.paths, env=self.env)
            return Daemon(self.paths, config, clock=self.clock)

        daemon = self.run(build(), START_SECONDS, "building the daemon")
        self.daemon = daemon
        task = self.task = asyncio.run_coroutine_threadsafe(daemon.run(), self.loop)
        deadline = time.monotonic() + START_SECONDS
        while not daemon.started.is_set():
            if task.done():
                raise DemoFailure(f"the daemon stopped while starting: {task.exception()!r}")
            if time.monotonic() > deadline:
                raise DemoFailure(f"the daemon did not start within {START_SECONDS:g} s")
            time.sleep(0.02)
        return daemon

    def stop(self) -> None:
        if self.daemon is not None and self.task is not None and not self.task.done():
            self.loop.call_soon_threadsafe(self.daemon.stop)
            try:
                self.task.result(STOP_SECONDS)
            except FutureTimeout:
                raise DemoFailure(f"the daemon did not stop within {STOP_SECONDS:g} s") from None
        self.close()

    def check_alive(self) -> None:
        """A daemon that died mid-story is named at once, not discovered as a timeout later."""
        if self.task is not None and self.task.done():
            error = self.task.exception()
            raise DemoFailure("the daemon stopped unexpectedly" + (f": {error!r}" if error else ""))

    @property
    def context(self) -> HandlerContext:
        return self._daemon.pipeline.context

    @property
    def approval(self) -> ApprovalService:
        service = self._daemon.runtime.approval
        if service is None:
            raise DemoFailure("the daemon has no approval service")
        return service

    @property
    def broker(self) -> BrokerService:
        service = self._daemon.runtime.broker
        if service is None:
            raise DemoFailure("the daemon has no broker service")
        return service

    @property
    def _daemon(self) -> Daemon:
        if self.daemon is None:
            raise DemoFailure("the daemon is not running")
        return self.daemon


class _GatewayThread(_LoopThread):
    """The fake IB Gateway (real TWS protocol over TCP) in this process, on a loop of its own."""

    def __init__(self, clock: ShiftedClock) -> None:
        # Imported here: MOCK mode needs neither the fake gateway nor the IB library.
        from mocks.fake_ib_gateway import FakeGateway

        super().__init__("seam-demo-gateway")
        self.clock = clock
        self._factory = FakeGateway
        self.gateway: Any = None

    def start(self) -> str:
        """Listen on port 4002 of a loopback address of our own; returns the address."""
        for host in (_private_loopback(), "127.0.0.1"):
            # executions are stamped on the same simulated clock as everything else
            gateway = self._factory(host=host, port=PAPER_PORT, accounts=[PAPER_ACCOUNT], seed=7,
                                    clock=lambda: self.clock.now().timestamp())
            try:
                self.run(gateway.start(), START_SECONDS, "starting the fake IB Gateway")
            except OSError as exc:
                if exc.errno == errno.EADDRNOTAVAIL:
                    continue  # only 127.0.0.1 is configured here (macOS): use it
                raise DemoFailure(f"the fake IB Gateway could not listen on {host}:{PAPER_PORT}: {exc} "
                                  "(is another gateway using it? the demo only ever connects to its own)") from exc
            self.gateway = gateway
            return host
        raise DemoFailure("no loopback address was available for the fake IB Gateway")

    def stop(self) -> None:
        if self.gateway is not None:
            self.run(self.gateway.stop(), STOP_SECONDS, "stopping the fake IB Gateway")
        self.close()


def _private_loopback() -> str:
    raw = os.urandom(3)
    return f"127.{raw[0] % 250 + 2}.{raw[1]}.{raw[2] % 250 + 2}"


# ---- the market: where the demo moves prices --------------------------------------------------


class _Market(Protocol):
    def move(self, pair: str, mid: float) -> None: ...


class _MockMarket:
    """MOCK mode: the FakeBroker lives in the daemon, so a move happens on the daemon's loop."""

    def __init__(self, runner: Callable[[], _DaemonRunner]) -> None:
        self.runner = runner

    def move(self, pair: str, mid: float) -> None:
        runner = self.runner()
        fake = runner.broker.broker
        if not isinstance(fake, FakeBroker):
            raise DemoFailure("MOCK mode is running without the FakeBroker")
        runner.call(lambda: fake.set_price(pair, mid), 5.0, f"moving {pair} to {mid}")


class _GatewayMarket:
    """PAPER mode: the price moves at the gateway, which streams it and fills what it reaches."""

    def __init__(self, gateway: _GatewayThread) -> None:
        self.gateway = gateway

    def move(self, pair: str, mid: float) -> None:
        self.gateway.call(lambda: self.gateway.gateway.set_price(pair, mid), 5.0, f"moving {pair} to {mid}")


# ---- the story --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Answer:
    intent_id: str
    status: str
    path: Path
    body: str


@dataclass(frozen=True)
class _TradeRow:
    plan: TradePlan
    session: int
    autopsy: dict[str, Any]


class _Demo:
    def __init__(self, paths: SeamPaths, out: Console, mode: str, clock: ShiftedClock,
                 env: dict[str, str], stack: ExitStack) -> None:
        self.paths = paths
        self.out = out
        self.mode = mode
        self.clock = clock
        self.env = env
        self.stack = stack
        self.wait = RESPONSE_SECONDS[mode]
        # the operator's console: the same seam.db the daemon writes, and nothing that reaches a broker
        console = Runtime.console(paths, load_config(paths, env=env), clock=clock)
        stack.callback(console.close)
        self.store = console.store
        self.runner: _DaemonRunner | None = None
        self.gateway: _GatewayThread | None = None
        self.market: _Market = _MockMarket(self._runner)
        self.session = 0
        self.step = "setting up"
        self.codes_issued: list[tuple[str, datetime]] = []
        self.trades: list[_TradeRow] = []
        self._files = 0

    # -- the whole story ----------------------------------------------------------------------

    def run(self) -> None:
        if self.mode == "paper":
            self._start_gateway()
        self._start_daemon()
        self._section("A FORMING signal")
        self.say("The agent reports a setup that is still forming. FORMING and NONE signals are recorded "
                 "and narrated; nothing is proposed.")
        self.submit("signal-forming", "signal", {
            "signal": "FORMING", "pair": PAIR, "direction": "LONG", "confidence": 0.45, "setup_type": "FVG_ENTRY",
            "source": "MANUAL", "thesis": "Price is approaching a fair-value gap near 1.0850."}, expect="ok")
        self._trade(PLANS[0])
        self._trade(PLANS[1])
        self._restart()
        self._trade(PLANS[2], disconnect=self.mode == "paper")
        self._halt_drill()
        self._section("Stopping the daemon")
        self._stop_daemon()
        self.say("The daemon stopped; the seam, its responses and its bead chain stay on disk.")

    # -- daemons ------------------------------------------------------------------------------

    def _runner(self) -> _DaemonRunner:
        if self.runner is None:
            raise DemoFailure("no daemon is running")
        return self.runner

    def _start_gateway(self) -> None:
        self._section("The fake IB Gateway")
        self.gateway = _GatewayThread(self.clock)
        self.stack.callback(self._quietly, self.gateway.stop)
        host = self.gateway.start()
        self.env["SEAM_BROKER__HOST"] = host
        self.market = _GatewayMarket(self.gateway)
        self.say(f"Started the fake IB Gateway in this process at [bold]{host}:{PAPER_PORT}[/], logged in to paper "
                 f"account {PAPER_ACCOUNT[:3]}***{PAPER_ACCOUNT[-2:]}. It speaks IB's TWS socket protocol; seam "
                 "talks to it through the real IB client library, exactly as it would to IB Gateway.")
        self.say(f"For a short demo, the link's reconnect backoff is {DEMO_BACKOFF} s for this seam "
                 "(SEAM_BROKER__BACKOFF_SECONDS; seam's default is 5, 15 and 45 s).")

    def _start_daemon(self) -> None:
        self.session += 1
        self.step = f"starting daemon session {self.session}"
        runner = _DaemonRunner(self.paths, self.env, self.clock, self.session)
        self.stack.callback(self._quietly, runner.stop)
        self.runner = runner
        runner.start()
        # INV: the approval code goes to human channels only. The demo is the console here: the
        # stand-in notes that a code was issued; the digits stay in the store's approval_codes table.
        runner.approval.channels = [self._console_stand_in]
        link = runner.broker.link_state()
        self.say(f"Daemon session {self.session} is running ({self.mode.upper()} broker, link {link}), watching "
                 f"intents/incoming/ with the filesystem observer.")

    def _stop_daemon(self) -> None:
        runner = self._runner()
        self.step = f"stopping daemon session {self.session}"
        runner.stop()
        self.runner = None

    def _console_stand_in(self, proposal: Proposal, code: str, expires_at: datetime) -> None:
        self.codes_issued.append((proposal.id, expires_at))

    def _restart(self) -> None:
        self._section("Restart: a second daemon session on the same seam")
        self.say("The daemon stops (as Ctrl-C stops `seam watch`). The positions, proposals, the lifecycle and "
                 "the bead chain live in seam.db, not in the process.")
        self._stop_daemon()
        before = self.store.last_seq()
        self.say(f"Daemon session 1 stopped; the chain ends at bead {before}.")
        if self.mode == "mock":
            self.say("In MOCK mode the fake broker lives inside the daemon, so the new session starts a fresh "
                     "fake book; no trade was open, so there is nothing for it to lose.")
        else:
            self.say("The gateway keeps its book across the restart, as IB Gateway does.")
        self._start_daemon()
        recon = self._wait_bead("RECONCILIATION", after=before, what="the reconciliation at connect")
        drift = "DRIFT: " + "; ".join(recon["differences"]) if recon["drift"] else "no drift"
        self.say(f"On connect the new session reconciled its lifecycle with the broker: {drift} "
                 f"({recon['positions_checked']} position(s), {recon['orders_checked']} working order(s) checked).")
        if recon["drift"]:
            raise DemoFailure(f"reconciliation after the restart found drift: {drift}")
        self.submit("status-session-2", "status", {}, expect="ok")

    # -- one trade ----------------------------------------------------------------------------

    def _trade(self, plan: TradePlan, *, disconnect: bool = False) -> None:
        self._section(f"Trade {plan.number}: {plan.direction} {PAIR} (daemon session {self.session})")
        self._put_market(plan.entry)
        proposal = plan.position
        self.say(f"The agent sends a READY signal: {plan.direction} at {plan.entry:.4f}, stop {plan.stop:.4f}, "
                 f"target {plan.target:.4f}. It becomes a proposal with an evidence bundle, and waits for a human.")
        self.submit(proposal, "signal", self._ready(plan.direction, plan.entry, plan.stop, plan.target, plan.setup,
                                                    f"Demo trade {plan.number}."), expect="pending_approval")
        self._approve(proposal)
        self._wait_state(proposal, {"MANAGED"}, "the entry fill (lifecycle MANAGED)")
        self._show_lifecycle(proposal)
        if disconnect:
            self._disconnect_drill()
        self.step = f"trade {plan.number}: the exit"
        reaches = plan.target if plan.exit == "target" else plan.stop
        self.say(f"The market moves to {plan.exit_mid:.4f}, through the {plan.exit} at {reaches:.4f}: the bracket's "
                 f"{plan.exit} child fills at the broker and the other child is cancelled (one-cancels-other).")
        self.market.move(PAIR, plan.exit_mid)
        trade_file = self.paths.responses / f"trade-{proposal}.md"
        self._wait_state(proposal, {"CLOSED"}, f"the {plan.exit} fill (lifecycle CLOSED)")
        answer = self._wait_file(trade_file, f"responses/{trade_file.name}")
        autopsy = self._last_bead("AUTOPSY", intent_id=proposal)
        self.say(f"CLOSED. An AUTOPSY bead records the facts and the daemon wrote [bold]{self._rel(trade_file)}[/]:")
        self._show(answer)
        pips = float(autopsy["pips"])
        if (plan.exit == "target") != (pips > 0):
            raise DemoFailure(f"trade {plan.number} was to close at its {plan.exit} but made {pips} pips")
        self.trades.append(_TradeRow(plan, self.session, autopsy))

    def _ready(self, direction: str, entry: float, stop: float, target: float, setup: str,
               thesis: str) -> dict[str, Any]:
        return {"signal": "READY", "pair": PAIR, "direction": direction, "confidence": 0.7, "entry": entry,
                "stop": stop, "target": target, "setup_type": setup, "risk_percent": 1.0, "source": "MANUAL",
                "thesis": thesis}

    def _approve(self, proposal: str) -> None:
        self.step = f"approving {proposal}"
        code = self._console_code(proposal)
        expires = max(at for pid, at in self.codes_issued if pid == proposal)
        self.say(f"The daemon issued a 6-digit code for {proposal} to the operator's console only (single-use, "
                 f"expires {expires:%H:%M:%S} UTC); the response above does not contain it.")
        self.say("[bold]The demo now plays the human at the console:[/] it reads the code from the operator's "
                 "console store (the approval_codes table of seam.db, what `seam approvals` shows), which an agent "
                 f"would not be given, and tells it to the agent: code {MASK}. The agent writes an `approve` intent.")
        self.submit(f"approve-{proposal}", "approve", {"proposal": proposal, "code": code, "decision": "approve"},
                    expect="ok", secret="code")

    def _console_code(self, proposal: str) -> str:
        if not any(pid == proposal for pid, _ in self.codes_issued):
            raise DemoFailure(f"no approval code was issued to the console for {proposal}")
        issued = self.store.codes.get(proposal)
        if issued is None or issued.used:
            raise DemoFailure(f"the console store holds no unused code for {proposal}")
        return issued.code

    def _put_market(self, mid: float) -> None:
        """Set the simulated market at a trade's entry and wait until the daemon's broker quotes it."""
        self.step = f"moving the market to {mid:.4f}"
        self.market.move(PAIR, mid)
        runner = self._runner()
        broker = runner.broker

        async def quoted() -> float:
            while True:
                quote = await broker.broker.quote(PAIR)
                middle = (quote.bid + quote.ask) / 2
                if abs(middle - mid) < fx.pip_size(PAIR) / 2:
                    return middle
                await asyncio.sleep(0.02)

        runner.run(quoted(), self.wait, f"the broker's {PAIR} quote reaching {mid:.4f}")
        self.say(f"[dim]The demo sets the simulated {PAIR} market at {mid:.4f}.[/]")

    def _show_lifecycle(self, position: str) -> None:
        path = " → ".join(str(b.payload["to"]) for b in self.store.beads(type_="POSITION", intent_id=position))
        record = self.store.positions.get(position)
        entry_fill = record.facts.get("entry_fill", "?") if record else "?"
        self.say(f"Lifecycle of {position}: {path} (each step a POSITION bead). Entry filled at "
                 f"{entry_fill}; the stop and the target now work at the broker.")

    # -- PAPER: the gateway drops the link --------------------------------------------------------

    def _disconnect_drill(self) -> None:
        assert self.gateway is not None
        self._section("The gateway drops the connection (PAPER)")
        self.step = "the forced gateway disconnect"
        before = self.store.last_seq()
        gateway = self.gateway
        dropped = gateway.call(lambda: gateway.gateway.drop_all_clients(), 5.0, "dropping the gateway's clients")
        self.say(f"The demo makes the gateway close every client socket ({dropped} client(s)), as a gateway "
                 "restart or a network fault would. The trade stays open at the broker, its stop and target working. "
                 "The daemon logs the drop and raises a CONNECTION_LOST alert (runbook RB-001) on stderr:")
        down = self._wait_session_event("DISCONNECT", after=before)
        up = self._wait_session_event("CONNECT", after=down)
        broker = self._runner().broker
        self._until(lambda: broker.supervisor.state is LinkState.CONNECTED, RECOVERY_SECONDS, "the link to recover")
        for bead in self.store.beads(type_="IBKR_SESSION", after=before):
            self.say(f"  bead {bead.seq} IBKR_SESSION {_session_event(bead.payload)}")
        recon = self._wait_bead("RECONCILIATION", after=up, what="the reconciliation after the reconnect")
        if recon["drift"]:
            raise DemoFailure("reconciliation after the reconnect found drift: " + "; ".join(recon["differences"]))
        alerts = sorted((self.paths.responses / "alerts").glob("*CONNECTION_LOST*.md"))
        where = f"; the alert is in {self._rel(alerts[-1])}" if alerts else ""
        self.say(f"The link supervisor noticed the drop, waited, reconnected and reconciled at once: no drift, the "
                 f"open trade and its two working orders are as seam left them{where}.")
        self.submit("status-after-reconnect", "status", {}, expect="ok")

    def _wait_session_event(self, event: str, *, after: int) -> int:
        def found() -> int:
            for bead in self.store.beads(type_="IBKR_SESSION", after=after):
                if bead.payload.get("event") == event:
                    return bead.seq
            return 0

        return int(self._until(found, RECOVERY_SECONDS, f"an IBKR_SESSION {event} bead"))

    # -- the halt drill (RB-004) --------------------------------------------------------------------

    def _halt_drill(self) -> None:
        self._section("Halt drill (runbook RB-004)")
        self.say("An emergency halt takes the priority lane: the halt flag goes on, working orders are cancelled, "
                 "and every capital action is refused until a person clears it.")
        self.submit("halt-drill", "halt", {"reason": "RB-004 drill", "cancel_orders": True}, expect="ok")
        entry, stop, target = DRILL_ENTRY
        self._put_market(entry)
        self.say("While halted, a READY signal still becomes a proposal (its evidence shows the halt) ...")
        self.submit("drill-signal", "signal", self._ready("LONG", entry, stop, target, "FVG_ENTRY", "Halt drill."),
                    expect="pending_approval")
        code = self._console_code("drill-signal")
        self.say(f"... and the human approves it with the correct code ({MASK}), played by the demo again:")
        self.submit("approve-drill-signal", "approve", {"proposal": "drill-signal", "code": code,
                                                        "decision": "approve"}, expect="failed", secret="code")
        self.say("Refused: the halt flag is the first check of the order path; nothing reached the broker.")
        self.say("A person clears the halt at an interactive terminal with [bold]seam resume --seam "
                 f"{self.paths.root}[/] (it asks before it clears). The demo plays that person and clears it "
                 "directly (Store.halt_off, what `seam resume` calls), which records a HALT bead.")
        self.store.halt_off(by="console (the demo, playing the human)", note="RB-004 drill over")
        self.submit("status-after-drill", "status", {}, expect="ok")
        self.say("The drill's proposal was made while halted; the human rejects it with its code, so it ends "
                 "REJECTED instead of waiting to expire.")
        self.submit("reject-drill-signal", "approve", {"proposal": "drill-signal", "code": code,
                                                       "decision": "reject"}, expect="ok", secret="code")

    # -- intents and responses ------------------------------------------------------------------

    def submit(self, intent_id: str, kind: str, payload: dict[str, Any], *, expect: str,
               secret: str | None = None) -> _Answer:
        self.step = f"intent {intent_id} ({kind})"
        self._files += 1
        name = f"{self._files:02d}-{intent_id}.yaml"
        text = _intent_yaml(intent_id, kind, payload)
        shown = _intent_yaml(intent_id, kind, {**payload, secret: MASK}) if secret else text
        self.out.print(f"[dim]agent writes intents/incoming/{name} (via intents/tmp/ and a rename):[/]")
        self.out.print(shown.rstrip(), markup=False, highlight=False)
        write_atomic(self.paths.incoming / name, text.encode(), tmp_dir=self.paths.tmp)
        answer = self._wait_response(intent_id)
        self._show(answer)
        if answer.status != expect:
            first = next((line for line in answer.body.splitlines() if line.strip()), "")
            raise DemoFailure(f"{intent_id} was answered {answer.status!r}, not {expect!r}: {first}")
        return answer

    def _wait_response(self, intent_id: str) -> _Answer:
        path = self.paths.responses / f"{intent_id}.md"
        return self._wait_file(path, f"the response to {intent_id}")

    def _wait_file(self, path: Path, what: str) -> _Answer:
        def ready() -> dict[str, Any] | None:
            return read_front_matter(path)

        front = self._until(ready, self.wait, what)
        body = path.read_text(encoding="utf-8").split("\n---\n", 1)[-1]
        return _Answer(str(front.get("id")), str(front.get("status")), path, body)

    def _show(self, answer: _Answer) -> None:
        self.out.print(f"[dim]→ {self._rel(answer.path)} (status [bold]{answer.status}[/bold])[/]")
        # soft_wrap off for the panel: the CLI's console soft-wraps, which would crop lines inside a box
        self.out.print(Panel(Markdown(answer.body.strip()), border_style="dim"), soft_wrap=False)

    # -- waiting on the store -------------------------------------------------------------------

    def _until(self, predicate: Callable[[], T | None], timeout: float, what: str) -> T:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if self.runner is not None:
                self.runner.check_alive()
            if time.monotonic() > deadline:
                raise DemoFailure(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(0.02)

    def _wait_state(self, position: str, states: set[str], what: str) -> None:
        def reached() -> bool:
            record = self.store.positions.get(position)
            state = record.state if record else None
            if state in TERMINAL and state not in states:  # it will never move again
                raise DemoFailure(f"{position} ended {state} while the demo waited for {what}")
            return state in states

        self._until(reached, self.wait, what)

    def _wait_bead(self, type_: str, *, after: int, what: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            beads = self.store.beads(type_=type_, after=after)
            return beads[0].payload if beads else None

        return self._until(found, self.wait, what)

    def _last_bead(self, type_: str, *, intent_id: str) -> dict[str, Any]:
        beads = self.store.beads(type_=type_, intent_id=intent_id)
        if not beads:
            raise DemoFailure(f"no {type_} bead for {intent_id}")
        return beads[-1].payload

    # -- narration ------------------------------------------------------------------------------

    def _section(self, title: str) -> None:
        self.step = title
        self.out.print()
        self.out.rule(f"[bold]{title}[/]")

    def say(self, text: str) -> None:
        self.out.print(text)

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.paths.root))
        except ValueError:
            return str(path)

    @staticmethod
    def _quietly(stop: Callable[[], None]) -> None:
        """Clean-up after a failure: the first error is the one reported."""
        try:
            stop()
        except Exception:  # the demo already failed; a second failure while tidying up adds nothing
            logger.debug("clean-up step failed", exc_info=True)

    # -- the end --------------------------------------------------------------------------------

    def summary(self) -> bool:
        self._section("Summary")
        trades = Table(title="Trades")
        for column in ("trade", "session", "direction", "entry", "exit", "pips", "R", "result"):
            trades.add_column(column, justify="right" if column in ("entry", "exit", "pips", "R") else "left")
        for row in self.trades:
            a = row.autopsy
            r_multiple = "-" if a.get("r_multiple") is None else f"{float(a['r_multiple']):+.2f}"
            trades.add_row(row.plan.position, str(row.session), row.plan.direction, f"{float(a['entry']):.5f}",
                           f"{float(a['exit']):.5f}", f"{float(a['pips']):+.1f}", r_multiple, row.plan.exit)
        self.out.print(trades, soft_wrap=False)
        results = [row.plan.exit for row in self.trades]
        self.say(f"Trades: {len(results)} (target {results.count('target')}, stop {results.count('stop')})")
        statuses = Table(title="Intents answered, by status")
        statuses.add_column("status")
        statuses.add_column("intents", justify="right")
        for status, count in sorted(self.store.ledger.counts().items()):
            statuses.add_row(status, str(count))
        self.out.print(statuses, soft_wrap=False)
        verdict = self.store.verify()
        state = "intact" if verdict.ok else f"BROKEN: {verdict.reason}"
        self.say(f"Bead chain: {state} ({verdict.count} beads). Check it yourself: "
                 f"[bold]seam beads verify --seam {self.paths.root}[/]")
        self.say("Responses written:")
        for path in sorted(self.paths.responses.rglob("*.md")):
            self.out.print(f"  {path}", markup=False, highlight=False)
        return verdict.ok


def _intent_yaml(intent_id: str, kind: str, payload: dict[str, Any]) -> str:
    lines = "".join(f"  {key}: {_yaml_scalar(value)}\n" for key, value in payload.items())
    return f"seam: 1\nid: {intent_id}\nkind: {kind}\n" + (f"payload:\n{lines}" if payload else "payload: {}\n")


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


def _yaml_scalar(value: Any) -> str:
    """A flat payload value as YAML 1.2 reads it back: text that could pass for a number is quoted.

    Not yaml.safe_dump: it follows YAML 1.1 and leaves a code like 020968 unquoted (not a valid 1.1
    octal), which seam's YAML 1.2 loader then reads as the integer 20968.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    plain = _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS
    return text if plain else json.dumps(text)


def _session_event(payload: dict[str, Any]) -> str:
    event = str(payload.get("event"))
    if event == "DISCONNECT":
        return f"{event}: {payload.get('reason')}"
    if event == "RECONNECT":
        return f"{event}: attempt {payload.get('attempt')} after {payload.get('after_seconds')} s"
    return f"{event}: account {payload.get('account')}, port {payload.get('port')}"


@contextmanager
def _quiet_library_logs() -> Iterator[None]:
    """The IB library logs every dropped socket as an error; the demo narrates the drop itself."""
    names = ("ib_async", "ib_insync", "mocks.fake_ib_gateway")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _prepare_folder(seam_dir: str | None) -> SeamPaths:
    if seam_dir:
        root = Path(seam_dir).expanduser()
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise DemoFailure(f"{root} is not empty; the demo needs a new or empty folder for its seam")
    else:
        root = Path(tempfile.mkdtemp(prefix="seam-demo-"))
    paths = SeamPaths.at(root)
    paths.create_folders()
    paths.config_file.write_text(render_commented_yaml(), encoding="utf-8")
    return paths


def run_demo(seam_dir: str | None, *, out: Console, mode: str = "mock") -> int:
    """Run the whole story on a new seam; 0 when it completed and the bead chain verifies, else 1."""
    if mode not in MODES:
        out.print(f"seam demo: unknown mode {mode!r} (choose {' or '.join(MODES)})", markup=False)
        return 2
    if mode == "paper" and not any(importlib.util.find_spec(lib) for lib in ("ib_async", "ib_insync")):
        out.print("seam demo --mode paper needs the IB client library: pip install ib_async", markup=False)
        return 1
    began = time.monotonic()
    try:
        paths = _prepare_folder(seam_dir)
    except (DemoFailure, OSError) as exc:
        out.print(f"seam demo: {exc}", markup=False)
        return 2 if isinstance(exc, DemoFailure) else 1
    start = simulated_start()
    clock = ShiftedClock(start)
    env = {} if mode == "mock" else {"SEAM_BROKER__MODE": "paper", "SEAM_BROKER__BACKOFF_SECONDS": DEMO_BACKOFF}
    out.print(Panel.fit(
        "seam demo: an agent's intents in, a person's responses out, every step audited.\n"
        "Capital moves only with a human's 6-digit approval code, which the agent never sees.\n"
        + ("MOCK broker: an in-process fake book; nothing can reach a market." if mode == "mock" else
           "PAPER mode against a fake IB Gateway in this process, through the real IB client library."),
        title="seam demo"), soft_wrap=False)
    out.print(f"Seam folder: [bold]{paths.root}[/] (everything the demo writes stays in it)")
    out.print(f"[bold]Market clock simulated:[/] it reads {start:%A %Y-%m-%d %H:%M} UTC ({fx.fx_session(start)} "
              "session) at the start and runs at real speed, so the demo runs on any day, weekends included. "
              "Every time in the responses and beads is on this clock.")
    with ExitStack() as stack:
        stack.enter_context(_quiet_library_logs())
        demo = _Demo(paths, out, mode, clock, env, stack)
        try:
            demo.run()
            intact = demo.summary()
        except DemoFailure as exc:
            out.print(f"[bold red]The demo failed[/] during “{demo.step}”: {exc}")
            out.print(f"The seam stays at {paths.root} for a look (responses/, intents/, seam.db).", markup=False)
            return 1
        except KeyboardInterrupt:
            out.print(f"The demo was interrupted during “{demo.step}”; it stops its daemon now.")
            return 130
        except Exception as exc:  # anything unexpected still ends with a named failure and exit 1
            logger.debug("demo failure", exc_info=True)
            out.print(f"[bold red]The demo failed unexpectedly[/] during “{demo.step}”: {type(exc).__name__}: {exc}")
            out.print(f"The seam stays at {paths.root} for a look (responses/, intents/, seam.db).", markup=False)
            return 1
    out.print(f"The demo took {time.monotonic() - began:.1f} s. The seam stays at {paths.root}.")
    return 0 if intact else 1
