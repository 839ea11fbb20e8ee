"""The narrated story: a FORMING signal, three approved trades over two daemon sessions, a halt drill, the summary."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Console

from seam import fx
from seam.approval import Proposal, codes, proposals
from seam.approval.keys import CodeKey
from seam.broker.types import LinkState
from seam.clock import ShiftedClock
from seam.config import load_config
from seam.demo.agent import Agent
from seam.demo.market import GatewayMarket, Market, MockMarket
from seam.demo.output import MASK, Narrator, TradeRow, session_event, summary
from seam.demo.script import (
    DEMO_BACKOFF,
    DRILL_ENTRY,
    PAIR,
    PAPER_ACCOUNT,
    PAPER_PORT,
    PLANS,
    RECOVERY_SECONDS,
    RESPONSE_SECONDS,
    TELEGRAM_CHAT,
    TELEGRAM_PERSON,
    DemoFailure,
    TradePlan,
)
from seam.demo.threads import DaemonRunner, GatewayThread
from seam.demo.waits import Waits
from seam.haltfile import clear_halt
from seam.paths import SeamPaths
from seam.runtime import Runtime

if TYPE_CHECKING:
    from mocks.fake_telegram import FakeTelegram

logger = logging.getLogger(__name__)


class Story:
    """Plays the agent, the market and (saying so) the human against a real daemon; `run` tells it all."""

    def __init__(
        self, paths: SeamPaths, out: Console, mode: str, clock: ShiftedClock, env: dict[str, str], stack: ExitStack
    ) -> None:
        self.paths = paths
        self.mode = mode
        self.clock = clock
        self.env = env
        self.stack = stack
        self.out = Narrator(out, paths)
        # the operator's console: the same seam.db the daemon writes, and nothing that reaches a broker
        self.config = load_config(paths, env=env)
        console = Runtime.console(paths, self.config, clock=clock)
        stack.callback(console.close)
        self.store = console.store
        self.waits = Waits(self.store, self._check_alive, RESPONSE_SECONDS[mode])
        self.agent = Agent(paths, self.out, self.waits)
        self.runner: DaemonRunner | None = None
        self.gateway: GatewayThread | None = None
        self.market: Market = MockMarket(self._runner)
        self.session = 0
        self.telegram: FakeTelegram | None = None
        self.codes_issued: list[tuple[str, str, datetime]] = []
        self.trades: list[TradeRow] = []

    def run(self) -> bool:
        """The whole story, then its summary; True when the bead chain verifies."""
        if self.mode == "paper":
            self._start_gateway()
        self._start_telegram()
        self._start_daemon()
        self.out.section("A FORMING signal")
        self.out.say(
            "The agent reports a setup that is still forming. FORMING and NONE signals are recorded "
            "and narrated; nothing is proposed."
        )
        self.agent.submit(
            "signal-forming",
            "signal",
            {
                "signal": "FORMING",
                "pair": PAIR,
                "direction": "LONG",
                "confidence": 0.45,
                "setup_type": "FVG_ENTRY",
                "source": "MANUAL",
                "thesis": "Price is approaching a fair-value gap near 1.0850.",
            },
            expect="ok",
        )
        self._trade(PLANS[0])
        self._trade(PLANS[1])
        self._restart()
        self._trade(PLANS[2], disconnect=self.mode == "paper")
        self._show_heartbeat()
        self._halt_drill()
        self.out.section("Stopping the daemon")
        self._stop_daemon()
        self.out.say("The daemon stopped; the seam, its responses and its bead chain stay on disk.")
        return summary(self.out, self.trades, self.store)

    # -- daemons and the gateway ----------------------------------------------------------------

    def _runner(self) -> DaemonRunner:
        if self.runner is None:
            raise DemoFailure("no daemon is running")
        return self.runner

    def _check_alive(self) -> None:
        if self.runner is not None:
            self.runner.check_alive()

    def _start_gateway(self) -> None:
        self.out.section("The fake IB Gateway")
        self.gateway = GatewayThread(self.clock)
        self.stack.callback(_quietly, self.gateway.stop)
        host = self.gateway.start()
        self.env["SEAM_BROKER__HOST"] = host
        self.market = GatewayMarket(self.gateway)
        self.out.say(
            f"Started the fake IB Gateway in this process at [bold]{host}:{PAPER_PORT}[/], logged in to "
            f"paper account {PAPER_ACCOUNT[:3]}***{PAPER_ACCOUNT[-2:]}. It speaks IB's TWS socket protocol; "
            "seam talks to it through the real IB client library, exactly as it would to IB Gateway."
        )
        self.out.say(
            f"For a short demo, the link's reconnect backoff is {DEMO_BACKOFF} s for this seam "
            "(SEAM_BROKER__BACKOFF_SECONDS; seam's default is 5, 15 and 45 s)."
        )

    def _start_telegram(self) -> None:
        """A fake Bot API in this process (real HTTP on 127.0.0.1): the daemon's Telegram delivers alerts to it."""
        from mocks.fake_telegram import FakeTelegram

        self.telegram = telegram = FakeTelegram()
        self.stack.callback(_quietly, telegram.stop)
        telegram.start()
        self.env.update(
            {
                "SEAM_TELEGRAM__ENABLED": "true",
                "SEAM_TELEGRAM__BASE_URL": telegram.base_url,
                "SEAM_TELEGRAM__ALLOWED_USER_IDS": f"[{TELEGRAM_PERSON}]",
                "SEAM_TELEGRAM_TOKEN": telegram.token,
                "SEAM_TELEGRAM_CHAT_ID": str(TELEGRAM_CHAT),
            }
        )

    def _show_telegram_alert(self, alert: str) -> None:
        """The alert as Telegram received it (the fake Bot API records every message)."""

        telegram = self.telegram
        assert telegram is not None

        def arrived() -> str | None:
            return next((t for t in telegram.texts(TELEGRAM_CHAT) if alert in t), None)

        text = self.waits.until(arrived, RESPONSE_SECONDS[self.mode], f"the {alert} alert in Telegram")
        first = text.strip().splitlines()[0]
        self.out.say(
            f"Telegram received the CRITICAL {alert} alert at once (CRITICAL skips bundling and the throttle): "
            f"“{first}”. The demo's Telegram is a fake Bot API it started on {telegram.base_url}; "
            "a real one needs SEAM_TELEGRAM_TOKEN, SEAM_TELEGRAM_CHAT_ID and telegram.enabled."
        )

    def _start_daemon(self) -> None:
        self.session += 1
        self.out.step = f"starting daemon session {self.session}"
        runner = DaemonRunner(self.paths, self.env, self.clock, self.session)
        self.stack.callback(_quietly, runner.stop)
        self.runner = runner
        runner.start()
        # INV: the approval code goes to human channels only. The demo is the console here: the stand-in
        # holds the digits in memory, as a person's screen would; the store keeps only their keyed digest.
        runner.approval.channels = [self._console_stand_in]
        link = runner.broker.link_state()
        self.out.say(
            f"Daemon session {self.session} is running ({self.mode.upper()} broker, link {link}), watching "
            f"intents/incoming/ with the filesystem observer."
        )

    def _stop_daemon(self) -> None:
        runner = self._runner()
        self.out.step = f"stopping daemon session {self.session}"
        runner.stop()
        self.runner = None

    def _console_stand_in(self, proposal: Proposal, code: str, expires_at: datetime) -> None:
        self.codes_issued.append((proposal.id, code, expires_at))

    def _restart(self) -> None:
        self.out.section("Restart: a second daemon session on the same seam")
        self.out.say(
            "The daemon stops (as Ctrl-C stops `seam watch`). The positions, proposals, the lifecycle and "
            "the bead chain live in seam.db, not in the process."
        )
        self._stop_daemon()
        before = self.store.last_seq()
        self.out.say(f"Daemon session 1 stopped; the chain ends at bead {before}.")
        if self.mode == "mock":
            self.out.say(
                "In MOCK mode the fake broker lives inside the daemon, so the new session starts a fresh "
                "fake book; no trade was open, so there is nothing for it to lose."
            )
        else:
            self.out.say("The gateway keeps its book across the restart, as IB Gateway does.")
        self._start_daemon()
        recon = self.waits.bead("RECONCILIATION", after=before, what="the reconciliation at connect")
        drift = "DRIFT: " + "; ".join(recon["differences"]) if recon["drift"] else "no drift"
        self.out.say(
            f"On connect the new session reconciled its lifecycle with the broker: {drift} "
            f"({recon['positions_checked']} position(s), {recon['orders_checked']} working order(s) "
            "checked)."
        )
        if recon["drift"]:
            raise DemoFailure(f"reconciliation after the restart found drift: {drift}")
        self.agent.submit("status-session-2", "status", {}, expect="ok")

    # -- one trade ------------------------------------------------------------------------------

    def _trade(self, plan: TradePlan, *, disconnect: bool = False) -> None:
        self.out.section(f"Trade {plan.number}: {plan.direction} {PAIR} (daemon session {self.session})")
        self._put_market(plan.entry)
        proposal = plan.position
        self.out.say(
            f"The agent sends a READY signal: {plan.direction} at {plan.entry:.4f}, stop {plan.stop:.4f}, "
            f"target {plan.target:.4f}. It becomes a proposal with an evidence bundle, and waits for a human."
        )
        self.agent.submit(
            proposal,
            "signal",
            _ready(plan.direction, plan.entry, plan.stop, plan.target, plan.setup, f"Demo trade {plan.number}."),
            expect="pending_approval",
        )
        self._approve(proposal)
        self.waits.state(proposal, {"MANAGED"}, "the entry fill (lifecycle MANAGED)")
        self._show_lifecycle(proposal)
        if disconnect:
            self._disconnect_drill()
        self._exit(plan)

    def _exit(self, plan: TradePlan) -> None:
        self.out.step = f"trade {plan.number}: the exit"
        reaches = plan.target if plan.exit == "target" else plan.stop
        self.out.say(
            f"The market moves to {plan.exit_mid:.4f}, through the {plan.exit} at {reaches:.4f}: the "
            f"bracket's {plan.exit} child fills at the broker and the other child is cancelled "
            "(one-cancels-other)."
        )
        self.market.move(PAIR, plan.exit_mid)
        trade_file = self.paths.responses / f"trade-{plan.position}.md"
        self.waits.state(plan.position, {"CLOSED"}, f"the {plan.exit} fill (lifecycle CLOSED)")
        answer = self.waits.response(trade_file, f"responses/{trade_file.name}")
        autopsy = self._last_bead("AUTOPSY", intent_id=plan.position)
        self.out.say(
            f"CLOSED. An AUTOPSY bead records the facts and the daemon wrote [bold]{self.out.rel(trade_file)}[/]:"
        )
        self.out.response(answer)
        pips = float(autopsy["pips"])
        if (plan.exit == "target") != (pips > 0):
            raise DemoFailure(f"trade {plan.number} was to close at its {plan.exit} but made {pips} pips")
        self.trades.append(TradeRow(plan, self.session, autopsy))

    def _approve(self, proposal: str) -> None:
        self.out.step = f"approving {proposal}"
        code = self._console_code(proposal)
        expires = max(at for pid, _code, at in self.codes_issued if pid == proposal)
        self.out.say(
            f"The daemon issued a 6-digit code for {proposal} to the operator's console only (single-use, "
            f"expires {expires:%H:%M:%S} UTC); the response above does not contain it."
        )
        self.out.say(
            "[bold]The demo now plays the human at the console:[/] it reads the code off the operator's "
            "console (the `seam watch` terminal, where the daemon showed it; seam.db keeps only a keyed "
            f"digest), which an agent would not be given, and tells it to the agent: code {MASK}. The agent "
            "writes an `approve` intent."
        )
        self.agent.submit(
            f"approve-{proposal}",
            "approve",
            {"proposal": proposal, "code": code, "decision": "approve"},
            expect="ok",
            secret="code",
        )

    def _console_code(self, proposal: str) -> str:
        shown = [code for pid, code, _at in self.codes_issued if pid == proposal]
        if not shown:
            raise DemoFailure(f"no approval code was issued to the console for {proposal}")
        return shown[-1]

    def _new_console_code(self, proposal: str) -> str:
        """What `seam approvals --new-code` does for the person at the terminal."""
        expires = self.clock.now() + timedelta(seconds=self.config.settings.approval.code_ttl_seconds)
        found = proposals.get(self.store, proposal)
        return codes.reissue(self.store, CodeKey.for_seam(self.paths), found, expires)

    def _put_market(self, mid: float) -> None:
        """Set the simulated market at a trade's entry and wait until the daemon's broker quotes it."""
        self.out.step = f"moving the market to {mid:.4f}"
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

        runner.run(quoted(), self.waits.timeout, f"the broker's {PAIR} quote reaching {mid:.4f}")
        self.out.say(f"[dim]The demo sets the simulated {PAIR} market at {mid:.4f}.[/]")

    def _show_lifecycle(self, position: str) -> None:
        path = " → ".join(str(b.payload["to"]) for b in self.store.beads(type_="POSITION", intent_id=position))
        record = self.store.positions.get(position)
        entry_fill = record.facts.get("entry_fill", "?") if record else "?"
        self.out.say(
            f"Lifecycle of {position}: {path} (each step a POSITION bead). Entry filled at "
            f"{entry_fill}; the stop and the target now work at the broker."
        )

    def _show_heartbeat(self) -> None:
        from seam.monitor.health import read_health

        self.out.section("The heartbeat")
        health = read_health(self.store, self.clock)
        self.out.say(
            f"The daemon beats every 30 s ± 5 s, each beat a HEARTBEAT bead (`seam health` shows the latest): "
            f"{health.state}, {health.detail}."
        )
        for name, check in health.checks.items():
            self.out.plain(f"  {name}: {check.get('state', '?')} — {check.get('detail', '')}")

    def _last_bead(self, type_: str, *, intent_id: str) -> dict[str, Any]:
        beads = self.store.beads(type_=type_, intent_id=intent_id)
        if not beads:
            raise DemoFailure(f"no {type_} bead for {intent_id}")
        return beads[-1].payload

    # -- PAPER: the gateway drops the link ------------------------------------------------------

    def _disconnect_drill(self) -> None:
        assert self.gateway is not None
        self.out.section("The gateway drops the connection (PAPER)")
        self.out.step = "the forced gateway disconnect"
        before = self.store.last_seq()
        gateway = self.gateway
        dropped = gateway.call(lambda: gateway.gateway.drop_all_clients(), 5.0, "dropping the gateway's clients")
        self.out.say(
            f"The demo makes the gateway close every client socket ({dropped} client(s)), as a gateway "
            "restart or a network fault would. The trade stays open at the broker, its stop and target "
            "working. The daemon logs the drop and raises a CONNECTION_LOST alert (runbook RB-001) on "
            "stderr:"
        )
        down = self._wait_session_event("DISCONNECT", after=before)
        up = self._wait_session_event("CONNECT", after=down)
        broker = self._runner().broker
        self.waits.until(
            lambda: broker.supervisor.state is LinkState.CONNECTED, RECOVERY_SECONDS, "the link to recover"
        )
        for bead in self.store.beads(type_="IBKR_SESSION", after=before):
            self.out.say(f"  bead {bead.seq} IBKR_SESSION {session_event(bead.payload)}")
        recon = self.waits.bead("RECONCILIATION", after=up, what="the reconciliation after the reconnect")
        if recon["drift"]:
            raise DemoFailure("reconciliation after the reconnect found drift: " + "; ".join(recon["differences"]))
        alerts = sorted((self.paths.responses / "alerts").glob("*CONNECTION_LOST*.md"))
        where = f"; the alert is in {self.out.rel(alerts[-1])}" if alerts else ""
        self.out.say(
            f"The link supervisor noticed the drop, waited, reconnected and reconciled at once: no drift, "
            f"the open trade and its two working orders are as seam left them{where}."
        )
        self.agent.submit("status-after-reconnect", "status", {}, expect="ok")

    def _wait_session_event(self, event: str, *, after: int) -> int:
        def found() -> int:
            for bead in self.store.beads(type_="IBKR_SESSION", after=after):
                if bead.payload.get("event") == event:
                    return bead.seq
            return 0

        return int(self.waits.until(found, RECOVERY_SECONDS, f"an IBKR_SESSION {event} bead"))

    # -- the halt drill (RB-004) ----------------------------------------------------------------

    def _halt_drill(self) -> None:
        self.out.section("Halt drill (runbook RB-004)")
        self.out.say(
            "An emergency halt takes the priority lane: the halt flag goes on, working orders are "
            "cancelled, and every capital action is refused until a person clears it."
        )
        self.agent.submit("halt-drill", "halt", {"reason": "RB-004 drill", "cancel_orders": True}, expect="ok")
        self._show_telegram_alert("HALT_ON")
        entry, stop, target = DRILL_ENTRY
        self._put_market(entry)
        self.out.say("While halted, a READY signal still becomes a proposal (its evidence shows the halt) ...")
        self.agent.submit(
            "drill-signal",
            "signal",
            _ready("LONG", entry, stop, target, "FVG_ENTRY", "Halt drill."),
            expect="pending_approval",
        )
        code = self._console_code("drill-signal")
        self.out.say(f"... and the human approves it with the correct code ({MASK}), played by the demo again:")
        self.agent.submit(
            "approve-drill-signal",
            "approve",
            {"proposal": "drill-signal", "code": code, "decision": "approve"},
            expect="failed",
            secret="code",
        )
        self.out.say(
            "Refused: the halt flag is the first check of the order path; nothing reached the broker. The code "
            "was spent when the intent was read, so it cannot be presented again."
        )
        self.out.say(
            "A person clears the halt at an interactive terminal with [bold]seam resume --seam "
            f"{self.paths.root}[/] (it asks before it clears). The demo plays that person and clears it "
            "directly (what `seam resume` does: the store's flag off, with a HALT bead, and the halt request file "
            "removed)."
        )
        clear_halt(self.paths, self.store, by="console (the demo, playing the human)", note="RB-004 drill over")
        self.agent.submit("status-after-drill", "status", {}, expect="ok")
        self.out.say(
            "The drill's proposal was made while halted; the human rejects it, so it ends REJECTED instead of "
            "waiting to expire. Its code was spent, so the human asks the console for a new one "
            "([bold]seam approvals --new-code drill-signal[/]; the demo plays that person) and tells it to the agent."
        )
        fresh = self._new_console_code("drill-signal")
        self.agent.submit(
            "reject-drill-signal",
            "approve",
            {"proposal": "drill-signal", "code": fresh, "decision": "reject"},
            expect="ok",
            secret="code",
        )


def _ready(direction: str, entry: float, stop: float, target: float, setup: str, thesis: str) -> dict[str, Any]:
    return {
        "signal": "READY",
        "pair": PAIR,
        "direction": direction,
        "confidence": 0.7,
        "entry": entry,
        "stop": stop,
        "target": target,
        "setup_type": setup,
        "risk_percent": 1.0,
        "source": "MANUAL",
        "thesis": thesis,
    }


def _quietly(stop: Callable[[], None]) -> None:
    """Clean-up after a failure: the first error is the one reported."""
    try:
        stop()
    except Exception:  # the demo already failed; a second failure while tidying up adds nothing
        logger.debug("clean-up step failed", exc_info=True)
