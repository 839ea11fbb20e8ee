"""The broker service on the fake broker: every guard blocks, the link recovers on schedule, drift halts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from seam.broker.fake import FakeBroker
from seam.broker.guards import ModeLock, check_link, check_live_allowed
from seam.broker.lifecycle import IllegalTransition, Lifecycle, PositionState
from seam.broker.types import BracketRequest, LinkState, Mode, OrderRequest, OrderType, Side
from seam.clock import FakeClock
from seam.config import LoadedConfig, Secrets, Settings
from seam.errors import BrokerUnavailable, GuardViolation
from seam.paths import SeamPaths
from seam.runtime import Runtime
from tests.conftest import make_seam, seam_cli

S = PositionState


class Harness:
    """A BrokerService on a FakeBroker, a fake clock, and a sleep that only advances that clock."""

    def __init__(
        self,
        root: Path,
        *,
        mode: Mode = Mode.MOCK,
        port: int | None = None,
        account: str = "MOCK0001",
        approve: bool = True,
    ) -> None:
        self.paths: SeamPaths = make_seam(root)
        self.clock = FakeClock()
        self.broker = FakeBroker(account=account, clock=self.clock)
        self.broker.mode = mode
        self.slept: list[float] = []
        self.approvals: list[str] = []
        settings = Settings.model_validate({"broker": {"mode": str(mode), "port": port}})
        # the runtime builds the service, as for the daemon; without an approval service, so the order
        # path's approval step is this harness's (or, with approve=False, the one that refuses everything)
        self.runtime = Runtime.open(
            self.paths,
            LoadedConfig(settings, Secrets(), {}),
            clock=self.clock,
            broker_client=self.broker,
            sleep=self._sleep,
            approval=False,
        )
        self.store = self.runtime.store
        assert self.runtime.broker is not None
        self.service = self.runtime.broker
        if approve:
            self.service.approval_hook = self._approve

    async def _sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0)

    async def _approve(self, request: OrderRequest | BracketRequest, approval: object) -> None:
        self.approvals.append(request.ref)

    def beads(self, type_: str) -> list[dict[str, object]]:
        return [b.payload for b in self.store.beads(type_=type_)]

    def halt(self, reason: str = "drill") -> None:
        self.store.halt_on(reason, by="test")


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path / "seam")
    yield h
    h.runtime.close()


def run(coro):  # one loop per call keeps the tests independent
    return asyncio.run(coro)


ORDER = OrderRequest("prop-1", "EURUSD", Side.BUY, 10_000)


# ---- guards that block ----------------------------------------------------------------------------


def test_live_is_refused_without_the_allow_live_flag():
    with pytest.raises(GuardViolation, match="IBKR_ALLOW_LIVE=true"):
        check_live_allowed(Mode.LIVE, allow_live=False)
    check_live_allowed(Mode.LIVE, allow_live=True)
    check_live_allowed(Mode.PAPER, allow_live=False)


def test_the_daemon_does_not_start_in_live_mode_without_the_flag(tmp_path):
    paths = make_seam(tmp_path / "live")
    result = seam_cli("watch", "--once", "--seam", str(paths.root), env={"SEAM_BROKER__MODE": "live"})
    assert result.returncode == 2
    assert "IBKR_ALLOW_LIVE=true" in result.stderr


@pytest.mark.parametrize(
    ("mode", "port", "accounts", "configured", "guard"),
    [
        (Mode.PAPER, 4001, ["DU123456"], None, "mode_port"),
        (Mode.PAPER, 4002, ["U1234567"], None, "mode_account"),
        (Mode.LIVE, 4002, ["U1234567"], None, "mode_port"),
        (Mode.LIVE, 4001, ["DU123456"], None, "mode_account"),
        (Mode.PAPER, 4002, ["DU123456"], "DU999999", "mode_account"),
        (Mode.PAPER, 4002, [], None, "mode_account"),
    ],
)
def test_port_and_account_must_match_the_mode(mode, port, accounts, configured, guard):
    with pytest.raises(GuardViolation) as raised:
        check_link(mode, port, accounts, configured)
    assert raised.value.guard == guard


def test_matching_port_and_account_pass():
    assert check_link(Mode.PAPER, 4002, ["DU123456"], None) == "DU123456"
    assert check_link(Mode.LIVE, 4001, ["U7654321"], "U7654321") == "U7654321"


def test_the_mode_never_changes_without_a_restart():
    lock = ModeLock(Mode.PAPER)
    lock.check("paper")
    with pytest.raises(GuardViolation, match="needs a restart"):
        lock.check("live")


def test_no_order_reaches_the_broker_while_halted(harness):
    async def scenario():
        await harness.service.start(timers=False)
        harness.halt()
        with pytest.raises(GuardViolation, match="halt flag is on"):
            await harness.service.submit(ORDER)

    run(scenario())
    assert harness.broker.sent == []
    assert harness.approvals == [], "the halt check must come before the approval check"


def test_without_the_approval_step_no_order_can_be_placed(tmp_path):
    h = Harness(tmp_path / "seam", approve=False)

    async def scenario():
        await h.service.start(timers=False)
        with pytest.raises(GuardViolation) as raised:
            await h.service.submit(ORDER)
        assert raised.value.guard == "approval"

    run(scenario())
    assert h.broker.sent == []


def test_a_gateway_that_changed_account_since_connect_gets_no_order(tmp_path):
    h = Harness(tmp_path / "seam", mode=Mode.PAPER, port=4002, account="DU123456")

    async def scenario():
        await h.service.start(timers=False)
        assert h.service.supervisor.state is LinkState.CONNECTED
        h.broker.account_id = "U7654321"  # the gateway re-logged into a live account
        with pytest.raises(GuardViolation) as raised:
            await h.service.submit(ORDER)
        assert raised.value.guard == "mode_account"

    run(scenario())
    assert h.broker.sent == []
    assert h.approvals == []
    assert any(b["alert"] == "ACCOUNT_MISMATCH" and b["severity"] == "CRITICAL" for b in h.beads("ALERT"))
    assert h.beads("GUARD")[-1]["at"] == "order"


def test_a_gateway_on_the_wrong_account_is_refused_at_connect(tmp_path):
    h = Harness(tmp_path / "seam", mode=Mode.PAPER, port=4002, account="U7654321")
    connected = run(h.service.supervisor._attempt(event="CONNECT"))
    assert connected is False
    assert h.service.supervisor.state is LinkState.DISCONNECTED
    assert h.beads("GUARD")[-1]["at"] == "connect"
    assert any(b["alert"] == "ACCOUNT_MISMATCH" for b in h.beads("ALERT"))


def test_orders_are_paced_under_the_configured_rate(harness):
    async def scenario():
        await harness.service.start(timers=False)
        for number in range(6):
            await harness.service.submit(OrderRequest(f"p-{number}", "EURUSD", Side.BUY, 1_000))

    run(scenario())
    assert len(harness.broker.sent) == 6
    assert sum(harness.slept) >= (6 - 2) / 5.0 - 1e-9  # burst of 2, then 5 per second


# ---- one reference, one order ---------------------------------------------------------------------


def test_an_unclear_failure_then_a_retry_never_sends_a_second_order(harness):
    resting = OrderRequest("prop-1", "EURUSD", Side.BUY, 10_000, OrderType.LIMIT, limit_price=1.0500)

    async def scenario():
        await harness.service.start(timers=False)
        life = harness.service.lifecycle
        life.open("prop-1", "EURUSD", "BUY", 10_000)
        life.transition("prop-1", S.APPROVED)
        life.transition("prop-1", S.SUBMITTED)
        harness.broker.drop_after_next_order = True
        with pytest.raises(BrokerUnavailable, match="never sends a second"):
            await harness.service.submit(resting)
        assert await harness.service.supervisor.manual_reconnect()  # reconciles: the order is ours, no drift
        return await harness.service.submit(resting)

    orders = run(scenario())
    assert len(harness.broker.sent) == 1
    assert [o.ref for o in orders] == ["prop-1"]
    assert harness.store.flags.halt() is None
    events = [b["event"] for b in harness.beads("ORDER")]
    assert events == ["unclear", "found_existing"]


# ---- the link: reconnect schedule and escalation (fake clock) ------------------------------------


class FlakyBroker(FakeBroker):
    def __init__(self, failures: int, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.failures = failures

    async def connect(self):
        if self.failures > 0:
            self.failures -= 1
            raise BrokerUnavailable("connection refused")
        return await super().connect()


def _flaky_harness(tmp_path: Path, failures: int) -> Harness:
    h = Harness(tmp_path / "seam")
    h.broker = FlakyBroker(failures=0, clock=h.clock)
    h.service.broker = h.broker
    h.service.supervisor.broker = h.broker
    return h


def test_the_link_reconnects_on_the_5_15_45_schedule_then_escalates(tmp_path):
    h = _flaky_harness(tmp_path, 0)

    async def scenario():
        await h.service.start(timers=False)
        h.broker.failures = 10
        h.service.connection_lost("gateway restarted")
        await h.service.supervisor.wait_recovered()

    run(scenario())
    assert h.slept == [5.0, 15.0, 45.0]
    sessions = [(b["event"], b.get("attempt")) for b in h.beads("IBKR_SESSION")]
    assert sessions == [
        ("CONNECT", None),
        ("DISCONNECT", None),
        ("RECONNECT", 1),
        ("RECONNECT", 2),
        ("RECONNECT", 3),
        ("ESCALATED", None),
    ]
    assert h.service.supervisor.state is LinkState.ESCALATED
    rotting = [b for b in h.beads("ALERT") if b["alert"] == "CONNECTION_ROTTING"]
    assert rotting and rotting[0]["message"] == "Connection rotting — run RB-001"


def test_after_escalation_only_a_human_reconnect_restores_the_link_and_reconciles(tmp_path):
    h = _flaky_harness(tmp_path, 0)

    async def scenario():
        await h.service.start(timers=False)
        h.broker.failures = 3
        h.service.connection_lost("gateway restarted")
        await h.service.supervisor.wait_recovered()
        assert h.service.supervisor.state is LinkState.ESCALATED
        slept_before = list(h.slept)
        assert await h.service.supervisor.manual_reconnect()
        assert h.slept == slept_before, "a human reconnect does not wait"

    run(scenario())
    assert h.service.supervisor.state is LinkState.CONNECTED
    assert h.beads("IBKR_SESSION")[-1]["event"] == "CONNECT"
    assert h.beads("RECONCILIATION")[-1]["trigger"] == "connect"


def test_a_reconnect_that_succeeds_on_the_second_attempt_stops_the_schedule(tmp_path):
    h = _flaky_harness(tmp_path, 0)

    async def scenario():
        await h.service.start(timers=False)
        h.broker.failures = 1
        h.service.connection_lost("network blip")
        await h.service.supervisor.wait_recovered()

    run(scenario())
    assert h.slept == [5.0, 15.0]
    assert h.service.supervisor.state is LinkState.CONNECTED
    assert not [b for b in h.beads("IBKR_SESSION") if b["event"] == "ESCALATED"]


def test_the_seam_broker_reconnect_command_reaches_a_running_daemon(tmp_path):
    h = _flaky_harness(tmp_path, 0)
    result = seam_cli("broker", "reconnect", "--seam", str(h.paths.root))
    assert result.returncode == 0, result.stderr

    async def scenario():
        await h.service.start(timers=False)
        h.broker.failures = 3
        h.service.connection_lost("gone")
        await h.service.supervisor.wait_recovered()
        await h.service._check_reconnect_request()

    run(scenario())
    assert h.service.supervisor.state is LinkState.CONNECTED
    assert [b.get("attempt") for b in h.beads("IBKR_SESSION") if b["event"] == "RECONNECT"][-1] == "manual"


# ---- lifecycle ----------------------------------------------------------------------------------


def test_the_lifecycle_follows_its_table_and_records_every_transition(harness):
    life = Lifecycle(harness.store, harness.clock)
    life.open("p-1", "EURUSD", "BUY", 10_000)
    for state in (S.APPROVED, S.SUBMITTED, S.PARTIALLY_FILLED, S.FILLED, S.MANAGED, S.CLOSING, S.CLOSED):
        life.transition("p-1", state)
    moves = [(b["from"], b["to"]) for b in harness.beads("POSITION")]
    assert moves[0] == (None, "PROPOSED") and moves[-1] == ("CLOSING", "CLOSED") and len(moves) == 8


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), S.FILLED),
        ((S.APPROVED,), S.CLOSED),
        ((S.APPROVED, S.SUBMITTED, S.FILLED), S.PROPOSED),
    ],
)
def test_an_illegal_transition_raises_and_changes_nothing(harness, path, illegal):
    life = Lifecycle(harness.store, harness.clock)
    life.open("p-2", "EURUSD", "BUY", 1_000)
    for state in path:
        life.transition("p-2", state)
    before = len(harness.beads("POSITION"))
    with pytest.raises(IllegalTransition):
        life.transition("p-2", illegal)
    assert len(harness.beads("POSITION")) == before
    assert life.get("p-2").state == (path[-1] if path else S.PROPOSED)


def test_a_position_without_broker_updates_stalls_and_recovers(harness):
    life = Lifecycle(harness.store, harness.clock, stall_after=timedelta(minutes=5))
    life.open("p-3", "EURUSD", "BUY", 1_000)
    life.transition("p-3", S.APPROVED)
    life.transition("p-3", S.SUBMITTED)
    harness.clock.advance(4 * 60)
    assert life.check_stalled() == []
    harness.clock.advance(2 * 60)
    stalled = life.check_stalled()
    assert [r.id for r in stalled] == ["p-3"] and life.get("p-3").stalled_from is S.SUBMITTED
    life.transition("p-3", S.FILLED, reason="fill arrived")
    assert life.get("p-3").state is S.FILLED


# ---- reconciliation -----------------------------------------------------------------------------


def test_a_position_the_seam_never_traded_is_drift_and_sets_the_halt_flag(harness):
    async def scenario():
        await harness.service.start(timers=False)
        harness.broker.inject_position("GBPUSD", 25_000, 1.2650)
        return await harness.service.reconcile(trigger="test")

    result = run(scenario())
    assert result.drift
    assert result.differences[0].key == "GBPUSD" and result.differences[0].broker == "+25000"
    assert harness.store.flags.halt() is not None
    assert harness.beads("RECONCILIATION")[-1]["drift"] is True
    assert any(b["alert"] == "RECONCILIATION_DRIFT" and b["severity"] == "CRITICAL" for b in harness.beads("ALERT"))
    assert list((harness.paths.responses / "alerts").glob("*RECONCILIATION_DRIFT.md"))


def test_matching_state_is_no_drift_and_leaves_the_halt_flag_off(harness):
    async def scenario():
        await harness.service.start(timers=False)
        await harness.service.submit(BracketRequest("p-9", "EURUSD", Side.BUY, 10_000, stop=1.0800, target=1.0950))
        life = harness.service.lifecycle
        life.open("p-9", "EURUSD", "BUY", 10_000)
        for state in (S.APPROVED, S.SUBMITTED, S.FILLED, S.MANAGED):
            life.transition("p-9", state)
        return await harness.service.reconcile(trigger="test")

    result = run(scenario())
    assert not result.drift, [d.describe() for d in result.differences]
    assert harness.store.flags.halt() is None
