"""The kill test's machinery: one PAPER seam, one fake IB Gateway that outlives every daemon, a thousand intents
dropped in waves, twenty SIGKILLs (some inside the approve window, through failpoints), then the checks.

The test process plays both sides of the seam:

- the agent: it writes intents into incoming/ (status, account, positions, open orders, signals, closes, approves
  and bad intents);
- the human at the console: it opens the store as `seam approvals --new-code` does (Runtime.console) and calls
  `codes.reissue` for a fresh code, which it writes into an approve intent; when a reconciliation halted the seam
  after a kill, it clears the halt as `seam resume` does, so approvals keep reaching the order path.

The broker's truth is the fake gateway's own record (it lives in this process the whole time). What every approve
intent's response says is compared with it at the end, per approval.
"""

from __future__ import annotations

import functools
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from seam.approval import codes, proposals
from seam.approval.keys import CodeKey
from seam.clock import ShiftedClock
from seam.config import load_config
from seam.errors import GuardViolation, IntentError
from seam.paths import SeamPaths
from seam.respond import read_front_matter
from seam.runtime import Runtime
from seam.store import ProposalStatus
from tests.conftest import REPO, DaemonProcess, drop, intent_text, make_seam, seam_cli, wait_for
from tests.gateway import GatewayThread

__all__ = ["ACCOUNT", "FAILPOINTS", "KillRun"]

ACCOUNT = "DU123456"
# a Wednesday morning: the FX market is open whatever day the test runs on
SIM_START = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
FAILPOINTS = ("approve_before_submit", "approve_after_submit")
PAIRS = ("EURUSD", "GBPUSD")
PIP = 0.0001

SEAM_YAML = """\
intake:
  rescan_seconds: 0.5
pairs:
  active: [EURUSD, GBPUSD]
risk:
  max_total_open_risk_usd: 1000000000
"""

INTENTS = 1000
KILLS = 20
CHAIN_BUDGET = 170  # intents the approval chain may use; whatever it leaves is dropped as more noise
MAX_WRONG_CODES = 4  # approval.wrong_codes_per_hour (10) locks every approval; stay well under it
FAILPOINT_WAIT = 6.0  # seconds a failpoint run waits for its failpoint line before it says the failpoint is missing
MISSES_BEFORE_MISSING = 3  # runs in a row that wait in vain, with no kill landed there yet, before it is missing
FINAL_WAIT = 45.0  # seconds the last daemon gets to answer everything
CHAIN_TAIL = 4.0  # seconds the approval chain goes on under the last daemon before it stops starting steps

# the noise: weights of what an agent sends besides the approval path (broker reads are paced at the gateway's
# 50 messages/s, so the store-only kinds carry most of the volume)
NOISE_WEIGHTS = {
    "status": 6,
    "account": 16,
    "positions": 5,
    "orders": 5,  # positions with the working orders
    "forming": 14,
    "none": 8,
    "ready-unapproved": 3,
    "bad": 18,
}

BAD_INTENTS: tuple[Callable[[str], str], ...] = (
    lambda i: intent_text(i, "signal", "{signal: FORMING, pair: EURUSD, confidence: 1.7}"),
    lambda i: intent_text(i, "account", "{foo: 1}"),
    lambda i: intent_text(i, "positions", "{include_orders: sometimes}"),
    lambda i: intent_text(i, "orders"),  # no such kind: the open orders come with `positions`
    lambda i: intent_text(i, "approve", "{proposal: no-such-proposal, code: 'abc'}"),
    lambda i: intent_text(i, "approve", "{proposal: no-such-proposal, code: '123456'}"),
    lambda i: intent_text(i, "close", "{position_id: no-such-position, reason: test}"),
    lambda i: intent_text(i, "signal", "[1, 2, 3]"),
    lambda i: f"seam: 2\nid: {i}\nkind: status\npayload: {{}}\n",
    lambda i: f"seam: 1\nid: {i}\nkind: status\npayload: {{unclosed\n",
)


# ---- what was sent, what each daemon run did -----------------------------------------------------------------


@dataclass
class Sent:
    id: str
    role: str  # noise kinds, ready, approve, reject, wrong-code, close, close-approve
    when: str  # when it was dropped, in words: "during daemon run 3", "after daemon run 3 was killed"
    proposal: str | None = None
    code_from_console: bool = False


@dataclass
class DaemonRun:
    number: int
    failpoint: str | None
    log: Path
    end: str = ""  # how it ended, in words
    in_flight: list[str] = field(default_factory=list)  # intent files in processing/ when it was killed
    halt_cleared: str | None = None  # the halt the human cleared after this daemon's start reconciled


@dataclass(frozen=True)
class Held:
    """An order the gateway holds (booked), as plain facts."""

    perm_id: int
    client_id: int
    order_id: int
    parent_id: int
    ref: str
    action: str
    quantity: float
    order_type: str
    status: str
    filled: float
    orphan: bool = False  # no leg of its group arrived transmitted: the gateway booked it with another order

    def describe(self) -> str:
        leg = "parent" if not self.parent_id else f"child of #{self.parent_id}"
        orphan = (
            " — no leg of its bracket ever arrived with transmit=True (the session died mid-bracket): the fake "
            "gateway held it and booked it with a later, unrelated order of the same client id"
            if self.orphan
            else ""
        )
        return (
            f"order #{self.order_id} (perm {self.perm_id}, client {self.client_id}, {leg}) {self.action} "
            f"{self.quantity:,.0f} {self.order_type} {self.status}, filled {self.filled:,.0f}{orphan}"
        )


@dataclass(frozen=True)
class Ticket:
    """A placeOrder the gateway received."""

    client_id: int
    order_id: int
    parent_id: int
    ref: str
    action: str
    order_type: str


def gateway_orders(gateway: GatewayThread) -> list[Held]:
    def snapshot() -> list[Held]:
        # a bracket is sent as parent and target untransmitted, then the stop transmitted: a group none of whose
        # legs the gateway received transmitted was never sent for the market by its session
        transmitted = {(t.client_id, t.parent_id or t.order_id) for t in gateway.gateway.orders_received if t.transmit}
        return [
            Held(
                o.perm_id,
                o.client_id,
                o.order_id,
                o.ticket.parent_id,
                o.ticket.order_ref,
                o.ticket.action,
                o.ticket.quantity,
                o.ticket.order_type,
                o.status,
                o.filled,
                orphan=(o.client_id, o.ticket.parent_id or o.order_id) not in transmitted,
            )
            for o in gateway.gateway.orders()
        ]

    result: list[Held] = gateway.call(snapshot)
    return result


def gateway_tickets(gateway: GatewayThread) -> list[Ticket]:
    def snapshot() -> list[Ticket]:
        return [
            Ticket(t.client_id, t.order_id, t.parent_id, t.order_ref, t.action, t.order_type)
            for t in gateway.gateway.orders_received
            if not t.what_if
        ]

    result: list[Ticket] = gateway.call(snapshot)
    return result


# ---- what an approve's response says about the order -------------------------------------------------------

SENT, NOT_SENT, UNCLEAR, UNREAD = "sent", "not sent", "unclear", "unread"

_SENT_WORDS = ("the order went to the broker",)
_UNCLEAR_WORDS = ("is not known", "may have reached the broker", "Internal error", "did not finish within")
_NOT_SENT_WORDS = (
    "nothing was sent",
    "Nothing was sent",
    "no order was sent",
    "nothing was done",
    "nothing is working",
    "wrong code",
    "already used",
    "code expired",
    "locked",
    "no code was issued",
    "the code is void",
)


def claim_of(front: dict[str, Any] | None) -> str:
    """What an approve's response says about the proposal's order: SENT, NOT_SENT, UNCLEAR (it says it does not
    know), or UNREAD (no response, or words this test does not know: a new wording needs adding above)."""
    if front is None:
        return UNREAD
    body = str(front.get("body", ""))
    if any(words in body for words in _UNCLEAR_WORDS):
        return UNCLEAR
    if front.get("status") == "ok" and any(words in body for words in _SENT_WORDS):
        return SENT
    if front.get("status") == "rejected" or any(words in body for words in _NOT_SENT_WORDS):
        return NOT_SENT
    return UNREAD


def headline(front: dict[str, Any] | None) -> str:
    if front is None:
        return "(no response)"
    for line in str(front.get("body", "")).splitlines():
        if line.startswith("# ") or (line.strip() and not line.startswith(("|", ">", "#"))):
            text = line.removeprefix("# ").strip()
            if text.startswith("Failed:") or text.startswith("Rejected:"):
                continue
            return text[:300]
    return "(empty body)"


def read_response(paths: SeamPaths, intent_id: str) -> dict[str, Any] | None:
    path = paths.responses / f"{intent_id}.md"
    front = read_front_matter(path)
    if front is None:
        return None
    front["body"] = path.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    return front


class KillableDaemon(DaemonProcess):
    """`seam watch` in a child process, as DaemonProcess, that also counts as started when it hangs at its
    failpoint before it says "watching" (an approve adopted from the killed daemon before it can run first)."""

    def __init__(self, paths: SeamPaths, env: dict[str, str], failpoint: str | None) -> None:
        self.paths = paths
        self.log = paths.root / f"daemon-{os.urandom(3).hex()}.log"
        self._log_handle = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "seam", "watch", "--seam", str(paths.root)],
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=REPO,
        )

        def started() -> bool:
            text = self.log.read_text(errors="replace")
            return (
                "watching" in text or (failpoint is not None and _said(text, failpoint)) or self.proc.poll() is not None
            )

        wait_for(started, 20, what="daemon start")
        assert self.proc.poll() is None, self.log.read_text()


def _said(text: str, failpoint: str) -> bool:
    return f"failpoint {failpoint} reached" in text


def _reached(log: Path, failpoint: str) -> bool:
    return _said(log.read_text(errors="replace"), failpoint)


# ---- the human at the console ------------------------------------------------------------------------------


class Console:
    """The operator's console on the seam's store: fresh codes (`seam approvals --new-code`), `seam resume`."""

    def __init__(self, paths: SeamPaths, clock: ShiftedClock) -> None:
        self.config = load_config(paths, env={})
        self.runtime = Runtime.console(paths, self.config, clock=clock)
        self.key = CodeKey.for_seam(paths)
        self.clock = clock

    def new_code(self, proposal_id: str) -> str | None:
        """A fresh code for a pending proposal, as `seam approvals --new-code` gives it; None when it is not pending."""
        try:
            proposal = proposals.get(self.runtime.store, proposal_id)
        except IntentError:
            return None
        if proposal.status is not ProposalStatus.PENDING:
            return None
        expires = self.clock.now() + timedelta(seconds=self.config.settings.approval.code_ttl_seconds)
        try:
            return codes.reissue(self.runtime.store, self.key, proposal, expires)
        except GuardViolation:
            return None

    def resume(self, note: str) -> str | None:
        """Clear the halt flag as `seam resume` does; the reason it was on, or None when it was off."""
        halt = self.runtime.store.flags.halt()
        if halt is None:
            return None
        self.runtime.store.halt_off(by="console", note=note)
        return halt.reason

    def close(self) -> None:
        self.runtime.close()


def read_only(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)


# ---- the approval path, played one step per tick -------------------------------------------------------------


class Chain:
    """Agent and human on the approval path: READY signals, then a fresh code and an approve (or a reject, or a
    wrong code first), closes of filled positions; one step per tick, never waiting. Mostly one proposal at a
    time: an open proposal is anchored to the whole book, so an approval between its proposal and its approve
    makes it a STATE_CONFLICT (sometimes two are proposed at once to see exactly that)."""

    def __init__(self, run: KillRun, budget: int) -> None:
        self.run = run
        self.budget = budget  # intents the chain may still drop
        self.rng = run.rng
        self.step = "idle"
        self.waiting: list[str] = []  # intent ids whose responses the current step waits for
        self.follow_up: list[tuple[str, str]] = []  # (proposal, code) to approve once the wrong code is answered
        self.open_positions: list[str] = []  # proposals whose approve said the order went, not closed yet
        self.wrong_codes = 0
        self.plain_only = False  # a failpoint run: every approve should reach the order path
        self.reserve = 0  # budget kept for the failpoint runs still to come (they need approves to reach it)
        self.done = False  # start no new step

    def idle(self) -> bool:
        return self.step == "idle" and not self.waiting

    def tick(self) -> None:
        if self.waiting and not all((self.run.paths.responses / f"{i}.md").exists() for i in self.waiting):
            return
        answered, self.waiting = self.waiting, []
        step, self.step = self.step, "idle"
        for intent_id in answered:
            sent = self.run.sent[intent_id]
            if sent.role == "approve" and claim_of(read_response(self.run.paths, intent_id)) == SENT:
                assert sent.proposal is not None
                self.open_positions.append(sent.proposal)
        if step == "proposing":
            self._approve([i for i in answered if _status(self.run.paths, i) == "pending_approval"], closing=False)
        elif step == "closing":
            self._approve([i for i in answered if _status(self.run.paths, i) == "pending_approval"], closing=True)
        elif step == "wrong-code":
            follow, self.follow_up = self.follow_up, []
            self.waiting = [self._drop_approve(p, code, "approve") for p, code in follow]
            self.step = "approving"
        if self.step == "idle" and not self.done:
            self._next()

    def _next(self) -> None:
        free = self.budget if self.plain_only else self.budget - self.reserve
        if free < 2 and self.reserve and not self.plain_only:
            return  # what is left is kept for the failpoint runs to come
        closable = self._closable()
        if closable and self.rng.random() < 0.3 and self.budget >= 2:
            position = self.rng.choice(closable)
            self.open_positions.remove(position)
            close_id = self.run.new_id("close")
            self.budget -= 1
            self.run.drop_intent(
                close_id, intent_text(close_id, "close", f"{{position_id: {position}, reason: kill test}}"), "close"
            )
            self.waiting, self.step = [close_id], "closing"
            return
        count = 2 if not self.plain_only and self.rng.random() < 0.15 and free >= 4 else 1
        if self.budget < 2 * count:
            self.done = True
            return
        self.budget -= count
        self.waiting = [self.run.drop_ready("ready") for _ in range(count)]
        self.step = "proposing"

    def _closable(self) -> list[str]:
        if not self.open_positions:
            return []
        conn = read_only(self.run.paths.db)
        try:
            marks = ",".join("?" * len(self.open_positions))
            rows = conn.execute(
                f"SELECT id FROM lifecycle WHERE state IN ('FILLED', 'MANAGED') AND id IN ({marks})",
                self.open_positions,
            ).fetchall()
        finally:
            conn.close()
        return [row[0] for row in rows]

    def _approve(self, pending: list[str], *, closing: bool) -> None:
        """A fresh code for each pending proposal, written into an approve (a reject, a wrong code first)."""
        for proposal in pending:
            code = self.run.console.new_code(proposal)
            if code is None or self.budget < 1:
                continue
            roll = 1.0 if closing or self.plain_only else self.rng.random()
            if roll < 0.12:
                self.waiting.append(self._drop_approve(proposal, code, "reject"))
            elif roll < 0.2 and self.wrong_codes < MAX_WRONG_CODES and self.budget >= 2:
                self.wrong_codes += 1
                self.waiting.append(self._drop_approve(proposal, f"{(int(code) + 1) % 1_000_000:06d}", "wrong-code"))
                self.follow_up.append((proposal, code))
            else:
                self.waiting.append(self._drop_approve(proposal, code, "close-approve" if closing else "approve"))
        if self.follow_up:
            self.step = "wrong-code"
        elif self.waiting:
            self.step = "approving"

    def _drop_approve(self, proposal: str, code: str, role: str) -> str:
        self.budget -= 1
        decision = "reject" if role == "reject" else "approve"
        return self.run.drop_approve(proposal, code, decision, role=role)


def _status(paths: SeamPaths, intent_id: str) -> str | None:
    front = read_response(paths, intent_id)
    return None if front is None else str(front.get("status"))


# ---- the run -----------------------------------------------------------------------------------------------


class KillRun:
    def __init__(self, root: Path, gateway: GatewayThread, seed: int) -> None:
        self.paths = make_seam(root, SEAM_YAML)
        self.gateway = gateway
        self.seed = seed
        self.rng = random.Random(seed)
        self.offset = SIM_START - datetime.now(UTC)  # the simulated market clock, one for every process
        self.env = {
            "SEAM_BROKER__MODE": "paper",
            "SEAM_BROKER__HOST": gateway.gateway.host,
            "SEAM_BROKER__RECONCILE_MINUTES": "600",
            "SEAM_BROKER__CONNECT_TIMEOUT_SECONDS": "5",
        }
        self.mids = {pair: gateway.call(gateway.gateway.quote, pair).mid for pair in PAIRS}
        self.sent: dict[str, Sent] = {}
        self.runs: list[DaemonRun] = []
        self.daemon: DaemonProcess | None = None
        self._console: Console | None = None
        self.chain = Chain(self, CHAIN_BUDGET)
        self.noise: list[str] = []  # noise roles still to drop, in order
        self.missing_failpoints: dict[str, str] = {}
        # per failpoint: kills that landed there, and runs that waited for it in vain (a loaded machine, or a
        # halt that refused the approves before the order path): a failpoint is missing only if it never landed
        self.landed: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()
        self.problems: list[str] = []
        self.started = time.monotonic()
        self.stopped_cleanly: int | None = None
        self._serial = 0

    @property
    def console(self) -> Console:
        assert self._console is not None, "the console opens the store after the first daemon made it"
        return self._console

    # -- ids and drops --------------------------------------------------------------------------------

    def new_id(self, role: str) -> str:
        self._serial += 1
        return f"k{self._serial:04d}-{role}"

    def _now(self) -> str:
        if not self.runs:
            return "before the first daemon started"
        number = self.runs[-1].number
        return f"during daemon run {number}" if self.daemon is not None else f"after daemon run {number} ended"

    def drop_intent(self, intent_id: str, text: str, role: str, proposal: str | None = None) -> str:
        assert intent_id not in self.sent
        self.sent[intent_id] = Sent(intent_id, role, self._now(), proposal)
        drop(self.paths, f"{intent_id}.yaml", text)
        return intent_id

    def drop_ready(self, role: str) -> str:
        intent_id = self.new_id(role)
        pair = self.rng.choice(PAIRS)
        mid = self.mids[pair]
        long = self.rng.random() < 0.6
        sign = 1 if long else -1
        entry = round(mid + sign * self.rng.choice((0, 1, 2)) * PIP, 5)
        stop = round(entry - sign * 30 * PIP, 5)
        target = round(entry + sign * 60 * PIP, 5)
        payload = (
            f"{{signal: READY, pair: {pair}, direction: {'LONG' if long else 'SHORT'}, confidence: 0.8, "
            f"entry: {entry}, stop: {stop}, target: {target}, setup_type: FVG_ENTRY}}"
        )
        return self.drop_intent(intent_id, intent_text(intent_id, "signal", payload), role, proposal=intent_id)

    def drop_approve(self, proposal: str, code: str, decision: str, *, role: str) -> str:
        intent_id = self.new_id(role)
        payload = f"{{proposal: {proposal}, code: '{code}', decision: {decision}}}"
        self.drop_intent(intent_id, intent_text(intent_id, "approve", payload), role, proposal=proposal)
        self.sent[intent_id].code_from_console = True
        return intent_id

    def drop_noise(self, role: str) -> str:
        if role == "ready-unapproved":
            return self.drop_ready(role)
        intent_id = self.new_id(role)
        if role == "bad":
            return self.drop_intent(intent_id, self.rng.choice(BAD_INTENTS)(intent_id), role)
        text = {
            "status": lambda: intent_text(intent_id, "status"),
            "account": lambda: intent_text(intent_id, "account"),
            "positions": lambda: intent_text(intent_id, "positions", "{include_orders: false}"),
            "orders": lambda: intent_text(intent_id, "positions", "{include_orders: true}"),
            "forming": lambda: intent_text(
                intent_id, "signal", f"{{signal: FORMING, pair: {self.rng.choice(PAIRS)}, confidence: 0.4}}"
            ),
            "none": lambda: intent_text(intent_id, "signal", "{signal: NONE, pair: EURUSD, confidence: 0.1}"),
        }[role]()
        return self.drop_intent(intent_id, text, role)

    def drop_wave(self, count: int) -> None:
        for _ in range(min(count, len(self.noise))):
            self.drop_noise(self.noise.pop())

    # -- daemons --------------------------------------------------------------------------------------

    def start_daemon(self, failpoint: str | None) -> DaemonRun:
        env = dict(self.env)
        env["SEAM_CLOCK_START"] = (datetime.now(UTC) + self.offset).isoformat()
        if failpoint:
            env["SEAM_FAILPOINTS"] = f"{failpoint}=hang"
        daemon = KillableDaemon(self.paths, env, failpoint)
        self.daemon = daemon
        run = DaemonRun(len(self.runs) + 1, failpoint, daemon.log)
        self.runs.append(run)
        if self._console is None:  # the store exists once the first daemon has started
            self._console = Console(self.paths, ShiftedClock(datetime.now(UTC) + self.offset))
        # The start reconciled with the gateway; after a kill in the approve window the book and seam may
        # disagree, and the drift halts the seam. The human reads the alert and resumes, so approvals go on.
        run.halt_cleared = self.console.resume(f"kill test: resumed after daemon run {run.number} started")
        return run

    def kill_daemon(self, why: str) -> None:
        daemon, run = self.daemon, self.runs[-1]
        assert daemon is not None
        if daemon.proc.poll() is not None:
            self.problems.append(
                f"daemon run {run.number} ({run.failpoint or 'no failpoint'}) exited by itself with code "
                f"{daemon.proc.returncode} before its kill; its log ends:\n{tail(daemon.output())}"
            )
        daemon.kill()
        run.end = why
        run.in_flight = sorted(p.name for p in self.paths.processing.rglob("*") if p.is_file() and p.name[0] != ".")
        self.daemon = None

    def pump(self, seconds: float, until: Callable[[], bool] | None = None) -> bool:
        """Play the approval chain for up to `seconds`; True as soon as `until()` holds."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.chain.tick()
            if until is not None and until():
                return True
            time.sleep(0.02)
        return False

    # -- the story ------------------------------------------------------------------------------------

    def plan(self) -> list[str | None]:
        """The failpoint (or None) of each of the KILLS killed runs."""
        runs: list[str | None] = [None] * KILLS
        slots = self.rng.sample(range(2, KILLS), 8)
        for number, slot in enumerate(slots):
            runs[slot] = FAILPOINTS[number % 2]
        return runs

    def play(self) -> None:
        noise_count = INTENTS - CHAIN_BUDGET
        roles, weights = zip(*NOISE_WEIGHTS.items(), strict=True)
        self.noise = self.rng.choices(roles, weights, k=noise_count)
        per_run = int(noise_count * 0.75 / KILLS)
        plan = self.plan()
        for number, failpoint in enumerate(plan):
            if failpoint in self.missing_failpoints:
                failpoint = None  # not there: one bounded wait said so; the rest of the budget goes to kills
            self.chain.reserve = 8 * sum(1 for f in plan[number + 1 :] if f and f not in self.missing_failpoints)
            self.drop_wave(self.rng.randint(per_run // 3, per_run // 2))  # written while no daemon runs
            run = self.start_daemon(failpoint)
            self.chain.plain_only = failpoint is not None
            up = time.monotonic()
            if failpoint is None:
                self.drop_wave(per_run // 2)
                self.pump(0.0 if self.rng.random() < 0.15 else self.rng.uniform(0.1, 1.4))
                self.kill_daemon(f"SIGKILL at a random moment, {time.monotonic() - up:.2f} s after it started")
            elif self.pump(FAILPOINT_WAIT, functools.partial(_reached, run.log, failpoint)):
                self.landed[failpoint] += 1
                self.kill_daemon(
                    f"SIGKILL inside the approve window, at failpoint {failpoint} "
                    f"({time.monotonic() - up:.2f} s after it started)"
                )
            else:
                self.misses[failpoint] += 1
                if self.landed[failpoint] or self.misses[failpoint] < MISSES_BEFORE_MISSING:
                    self.kill_daemon(f"SIGKILL after waiting {FAILPOINT_WAIT:g} s for failpoint {failpoint} in vain")
                    continue
                self.missing_failpoints[failpoint] = (
                    f"daemon run {run.number} was started with SEAM_FAILPOINTS={failpoint}=hang and fed approve "
                    f"intents, but its log never said 'failpoint {failpoint} reached' within {FAILPOINT_WAIT:g} s: "
                    "the failpoint is not on the order path (or no approve reached it), so no kill landed inside "
                    "the approve window there"
                )
                self.kill_daemon(f"SIGKILL after waiting {FAILPOINT_WAIT:g} s for failpoint {failpoint} in vain")
        self.chain.plain_only, self.chain.reserve = False, 0
        self.start_daemon(None)
        self.drop_wave(len(self.noise))
        self.pump(CHAIN_TAIL, lambda: self.chain.done)
        self.chain.done = True  # no new step; the one under way is finished
        self.pump(FINAL_WAIT, self.chain.idle)
        # whatever the chain did not use is noise, so that exactly INTENTS intents are sent
        for role in self.rng.choices(roles, weights, k=max(INTENTS - len(self.sent), 0)):
            self.drop_noise(role)
        if not self.pump(FINAL_WAIT, self._all_answered):
            missing = [i for i in self.sent if not (self.paths.responses / f"{i}.md").exists()]
            self.problems.append(
                f"the last daemon did not answer {len(missing)} intent(s) within {FINAL_WAIT:g} s: "
                f"{', '.join(missing[:20])}{' …' if len(missing) > 20 else ''}; its log ends:\n"
                f"{tail(self.daemon.output() if self.daemon else '')}"
            )
        assert self.daemon is not None
        self.daemon.stop()
        self.stopped_cleanly = self.daemon.proc.returncode
        self.runs[-1].end = f"stopped with SIGTERM (exit code {self.stopped_cleanly})"
        self.daemon = None

    def _all_answered(self) -> bool:
        if not self.chain.idle():
            return False
        names = {p.name for p in self.paths.responses.glob("*.md")}
        if not all(f"{i}.md" in names for i in self.sent):
            return False
        return not _entries(self.paths.incoming) and not any(
            p.is_file() and p.name != ".owner.lock" for p in self.paths.processing.rglob("*")
        )

    def close(self) -> None:
        if self.daemon is not None:
            self.daemon.kill()
            self.daemon = None
        if self._console is not None:
            self._console.close()

    # -- the checks -----------------------------------------------------------------------------------

    def check(self) -> list[str]:
        problems = list(self.problems) + list(self.missing_failpoints.values())
        if len(self.sent) != INTENTS:
            problems.append(f"the test sent {len(self.sent)} intents, not {INTENTS}")
        killed = sum(1 for r in self.runs if r.end.startswith("SIGKILL"))
        if killed != KILLS:
            problems.append(f"{killed} daemon runs were killed, not {KILLS}")
        if self.stopped_cleanly != 0:
            problems.append(f"the last daemon, stopped with SIGTERM, exited with code {self.stopped_cleanly}")
        problems += self._check_responses_and_beads()
        problems += self._check_folders()
        result = seam_cli("beads", "verify", "--seam", str(self.paths.root))
        if result.returncode != 0:
            problems.append(
                f"`seam beads verify --seam {self.paths.root}` exited {result.returncode}: "
                f"{(result.stdout + result.stderr).strip()[-1500:]}"
            )
        orders, tickets = gateway_orders(self.gateway), gateway_tickets(self.gateway)
        problems += self._check_no_duplicate_orders(tickets)
        problems += self._check_each_approval(orders)
        problems += self._check_nothing_works_for_an_ended_position(orders)
        return problems

    def _check_responses_and_beads(self) -> list[str]:
        problems = []
        names = [p.name for p in self.paths.responses.glob("*.md")]
        by_id: dict[str, list[str]] = defaultdict(list)
        for name in names:
            by_id[name.split(".", 1)[0]].append(name)
        answered: dict[str, list[dict[str, Any]]] = defaultdict(list)
        with read_only(self.paths.db) as conn:
            rows = conn.execute("SELECT seq, intent_id, payload FROM beads WHERE type = 'INTENT'").fetchall()
            ledger = conn.execute("SELECT id, status, owner FROM ledger WHERE status = 'in_progress'").fetchall()
        conn.close()
        for seq, intent_id, payload in rows:
            data = json.loads(payload)
            if data.get("event") != "answered":
                continue
            key = intent_id or str(data.get("response", "")).split(".", 1)[0]
            answered[key].append({"seq": seq, **data})
        for intent_id, sent in self.sent.items():
            files = by_id.get(intent_id, [])
            if files != [f"{intent_id}.md"]:
                problems.append(
                    f"intent {intent_id} ({sent.role}, dropped {sent.when}) has response file(s) "
                    f"{files or 'none'}; it should have exactly responses/{intent_id}.md"
                )
            beads = answered.get(intent_id, [])
            if len(beads) != 1:
                told = "; ".join(f"bead {b['seq']}: {b.get('status')} → {b.get('response')}" for b in beads)
                problems.append(
                    f"intent {intent_id} ({sent.role}, dropped {sent.when}) has {len(beads)} INTENT beads "
                    f"with event 'answered' ({told or 'none'}); it should have exactly one"
                    + self._where_it_was(intent_id)
                )
        for intent_id, status, owner in ledger:
            problems.append(f"the ledger still holds intent {intent_id} as {status} (owner {owner})")
        return problems

    def _check_folders(self) -> list[str]:
        problems = []
        for folder in (self.paths.processing, self.paths.tmp, self.paths.incoming):
            left = sorted(str(p.relative_to(self.paths.root)) for p in folder.rglob("*"))
            if left:
                problems.append(f"{folder.relative_to(self.paths.root)}/ is not empty after the last stop: {left[:20]}")
        return problems

    def _check_no_duplicate_orders(self, tickets: list[Ticket]) -> list[str]:
        problems = []
        legs: dict[tuple[str, str], set[tuple[int, int]]] = defaultdict(set)
        for t in tickets:
            leg = "parent" if not t.parent_id else f"child {t.order_type} {t.action}"
            legs[(t.ref, leg)].add((t.client_id, t.order_id))
        for (ref, leg), ids in sorted(legs.items()):
            if len(ids) > 1:
                problems.append(
                    f"the gateway received {len(ids)} different orders with orderRef {ref} as its {leg} "
                    f"(client, order id: {sorted(ids)}): one approval sent more than one order"
                    + self._who_approved(ref)
                )
        return problems

    def _check_each_approval(self, orders: list[Held]) -> list[str]:
        problems = []
        held: dict[str, list[Held]] = defaultdict(list)
        for order in orders:
            held[order.ref].append(order)
        approvals: dict[str, list[Sent]] = defaultdict(list)
        for sent in self.sent.values():
            if sent.code_from_console and sent.proposal is not None:
                approvals[self._ref_of(sent)].append(sent)
        for ref, sents in sorted(approvals.items()):
            there = held.get(ref, [])
            holds = "; ".join(o.describe() for o in there) or "nothing"
            claims = [(s, read_response(self.paths, s.id)) for s in sents]
            said_sent = [s for s, front in claims if claim_of(front) == SENT]
            unclear = [s for s, front in claims if claim_of(front) == UNCLEAR]
            for s, front in claims:
                claim = claim_of(front)
                about = (
                    f"{s.role} intent {s.id} for proposal {s.proposal} (orderRef {ref}, dropped {s.when}"
                    f"{self._where_it_was(s.id)}) answered {front.get('status') if front else 'nothing'}: "
                    f"{headline(front)!r}"
                )
                if claim == UNREAD:
                    problems.append(f"{about} — this test cannot tell whether that says the order went or not")
                elif claim == SENT and not there:
                    problems.append(f"{about} — it says the order went, but the gateway holds no order with {ref}")
                elif claim == NOT_SENT and there and not said_sent and not unclear:
                    problems.append(f"{about} — it says nothing was sent, but the gateway holds {holds}")
        for ref, there in sorted(held.items()):
            if ref not in approvals:
                problems.append(
                    f"the gateway holds {'; '.join(o.describe() for o in there)} with orderRef {ref}, and no "
                    "approve intent with a human's code was ever sent for it"
                )
        return problems

    def _check_nothing_works_for_an_ended_position(self, orders: list[Held]) -> list[str]:
        """No order still works at the gateway for a position seam has ended: a closed position's stop or target
        that outlives it can fill later and open a position nobody approved (tests/test_approval.py holds the
        same for a close without kills)."""
        conn = read_only(self.paths.db)
        try:
            states = dict(conn.execute("SELECT id, state FROM lifecycle").fetchall())
            closes: dict[str, list[str]] = defaultdict(list)
            for proposal, position in conn.execute("SELECT id, position_id FROM proposals WHERE kind = 'close'"):
                closes[position].append(proposal)
        finally:
            conn.close()
        working: dict[str, list[Held]] = defaultdict(list)
        for order in orders:
            if order.status in ("PreSubmitted", "Submitted"):
                working[order.ref].append(order)
        problems = []
        for ref, there in sorted(working.items()):
            state = states.get(ref)
            if state in ("CLOSED", "REJECTED", "CANCELLED", "EXPIRED"):
                closed_by = [f"{c} (approved by {', '.join(self._who(c)) or 'no approve'})" for c in closes[ref]]
                problems.append(
                    f"position {ref} is {state} in seam"
                    + (f", closed by {'; '.join(closed_by)}" if closed_by else "")
                    + f", but the gateway still works {'; '.join(o.describe() for o in there)}: it can fill "
                    "later and open a position nobody approved"
                )
        return problems

    def _who(self, proposal: str) -> list[str]:
        return [
            f"{s.id}{self._where_it_was(s.id)}"
            for s in self.sent.values()
            if s.code_from_console and s.proposal == proposal
        ]

    def _ref_of(self, sent: Sent) -> str:
        """The orderRef an approval's order carries: the proposal id (an open's and a close's alike)."""
        assert sent.proposal is not None
        return sent.proposal

    def _who_approved(self, ref: str) -> str:
        ids = [s.id for s in self.sent.values() if s.code_from_console and s.proposal == ref]
        return f"; approve intents for it: {', '.join(ids) or 'none'}"

    def _where_it_was(self, intent_id: str) -> str:
        runs = [r for r in self.runs if any(name.endswith(f".{intent_id}.yaml") for name in r.in_flight)]
        return "".join(f"; in flight when run {r.number} ended ({r.end})" for r in runs)

    # -- the report -----------------------------------------------------------------------------------

    def summary(self) -> str:
        roles: dict[str, int] = defaultdict(int)
        for sent in self.sent.values():
            roles[sent.role] += 1
        claims: dict[str, int] = defaultdict(int)
        for sent in self.sent.values():
            if sent.code_from_console:
                claims[claim_of(read_response(self.paths, sent.id))] += 1
        drifts: dict[str, int] = defaultdict(int)
        conn = read_only(self.paths.db)
        try:
            for (payload,) in conn.execute("SELECT payload FROM beads WHERE type = 'RECONCILIATION'"):
                for difference in json.loads(payload).get("differences", []):
                    drifts[difference] += 1
        finally:
            conn.close()
        lines = [
            f"kill test: seed {self.seed}, {len(self.sent)} intents, {len(self.runs)} daemon runs, "
            f"{time.monotonic() - self.started:.1f} s",
            "  sent: " + ", ".join(f"{role} {n}" for role, n in sorted(roles.items())),
            "  approvals say: " + ", ".join(f"{claim} {n}" for claim, n in sorted(claims.items())),
            "  kills inside the approve window: "
            + (", ".join(f"{point} {n}" for point, n in sorted(self.landed.items())) or "none")
            + (
                f" (waited in vain: {', '.join(f'{p} {n}' for p, n in sorted(self.misses.items()))})"
                if self.misses
                else ""
            ),
        ]
        lines += [f"  reconciliation found ({n}x): {difference}" for difference, n in sorted(drifts.items())]
        for run in self.runs:
            halt = f"; halt cleared: {run.halt_cleared}" if run.halt_cleared else ""
            lines.append(
                f"  run {run.number:2d} {run.failpoint or '-':22s} {run.end} ({len(run.in_flight)} in flight){halt}"
            )
        return "\n".join(lines)


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.splitlines()[-lines:])


def seed_from_env(default: int) -> int:
    raw = os.environ.get("KILL_TEST_SEED")
    return int(raw) if raw else default
