"""The stale gate: what it refuses (a world that changed in a way the human's decision depends on), what it lets
through (an exit at the market after a small move, an approval after `seam resume`), and the words it uses."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from seam.approval import stale
from seam.approval.proposals import Proposal
from seam.broker.lifecycle import PositionState
from seam.broker.types import Side
from seam.store import ProposalStatus
from tests.approval.test_codes import Desk

T0 = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)

# the anchors proposals in existing stores carry (before the close anchor left the quote out)
OLD_ANCHOR: dict[str, Any] = {
    "positions": [],
    "orders": [],
    "equity_bucket": 100_000,
    "halt": False,
    "quote_bucket": 1086,
}


def proposal(anchor: dict[str, Any], kind: str = "open", pair: str = "EURUSD") -> Proposal:
    return Proposal(
        "p-1",
        kind,
        "p-0" if kind == "close" else "p-1",
        pair,
        Side.BUY,
        10_000,
        None,
        None,
        None,
        {},
        anchor,
        "",
        "",
        T0,
        ProposalStatus.PENDING,
        0,
    )


def now_state(**changes: Any) -> dict[str, Any]:
    """The state now, new style, as the service computes it for an open proposal."""
    state: dict[str, Any] = {
        "positions": [],
        "orders": [],
        "equity": 100_000.0,
        "halt": False,
        "quote": {"pair": "EURUSD", "mid": 1.0850},
    }
    return {**state, **changes}


def found(p: Proposal, current: dict[str, Any], minutes: float = 1) -> list[str]:
    return stale.changes(p, T0 + timedelta(minutes=minutes), current, 15)


# ---- the words: a person reads them ---------------------------------------------------------------------------


def test_a_price_move_is_told_in_pips_and_prices() -> None:
    p = proposal(now_state())
    assert found(p, now_state(quote={"pair": "EURUSD", "mid": 1.0864})) == [
        "the EURUSD price moved 14 pips since the proposal (from 1.0850 to 1.0864)"
    ]


def test_a_price_move_under_ten_pips_is_not_a_conflict_even_across_a_ten_pip_mark() -> None:
    p = proposal(now_state(quote={"pair": "EURUSD", "mid": 1.08556}))
    assert found(p, now_state(quote={"pair": "EURUSD", "mid": 1.08546})) == []
    assert found(p, now_state(quote={"pair": "EURUSD", "mid": 1.0865})) == []  # 9.4 pips


def test_an_equity_change_is_told_in_money() -> None:
    p = proposal(now_state())
    assert found(p, now_state(equity=98_000.0)) == ["equity changed from 100,000 to 98,000"]
    assert found(p, now_state(equity=99_400.0)) == []  # under 1,000: noise, not a reason to refuse


def test_a_new_position_a_closed_one_and_a_resized_one_are_told_as_such() -> None:
    p = proposal(now_state(positions=[["EURUSD", 10_000], ["GBPUSD", -20_000]]))
    current = now_state(positions=[["EURUSD", 5_000], ["USDJPY", 50_000]])
    assert found(p, current) == [
        "the EURUSD position changed from 10,000 to 5,000",
        "the GBPUSD position of 20,000 short was closed",
        "a new USDJPY position of 50,000 is open",
    ]


def test_a_working_order_added_or_removed_is_told_as_such() -> None:
    p = proposal(now_state(orders=[["p-0-stop", "EURUSD", "SELL", 10_000]]))
    current = now_state(orders=[["x-9", "GBPUSD", "BUY", 20_000]])
    assert found(p, current) == [
        "a working order was added: BUY 20,000 GBPUSD (ref x-9)",
        "a working order was removed: SELL 10,000 EURUSD (ref p-0-stop)",
    ]


def test_the_halt_flag_turned_on_is_a_conflict_and_turned_off_is_not() -> None:
    assert found(proposal(now_state()), now_state(halt=True)) == ["the halt flag was turned on"]
    assert found(proposal(now_state(halt=True)), now_state()) == []


def test_the_age_is_still_a_conflict() -> None:
    assert found(proposal(now_state()), now_state(), minutes=16) == ["the proposal is 16 min old (limit 15 min)"]


# ---- a close is held to its position and the halt flag, never to the quote ------------------------------------


def test_a_close_is_not_refused_for_the_quote_the_equity_or_another_pairs_book() -> None:
    p = proposal({"positions": [["EURUSD", 10_000]], "orders": [], "halt": False}, kind="close")
    current = {"positions": [["EURUSD", 10_000], ["USDJPY", 50_000]], "orders": [["x", "USDJPY", "BUY", 1]]}
    assert found(p, {**current, "halt": False}) == []


def test_a_close_is_refused_when_its_position_changed_or_the_halt_went_on() -> None:
    p = proposal({"positions": [["EURUSD", 10_000]], "orders": [], "halt": False}, kind="close")
    assert found(p, {"positions": [], "orders": [], "halt": True}) == [
        "the EURUSD position of 10,000 was closed",
        "the halt flag was turned on",
    ]


# ---- old anchors in existing stores still compare -------------------------------------------------------------


def test_an_old_open_anchor_still_compares_its_quote_and_equity_buckets() -> None:
    p = proposal(OLD_ANCHOR)
    assert found(p, now_state(quote={"pair": "EURUSD", "mid": 1.0864})) == []  # bucket 1086 both times
    assert found(p, now_state(quote={"pair": "EURUSD", "mid": 1.0850}, equity=98_500.0)) == [
        "equity bucket: 100000 → 98000",
        "quote bucket: 1086 → 1085",
    ]


def test_an_old_close_anchor_compares_only_its_position_and_the_halt_flag() -> None:
    old = {**OLD_ANCHOR, "positions": [["EURUSD", 10_000], ["GBPUSD", 5_000]]}
    p = proposal(old, kind="close")
    close_now = {"positions": [["EURUSD", 10_000]], "orders": [], "halt": False}
    assert found(p, close_now) == []  # the quote, the equity, the GBPUSD position: not a close's business
    assert found(p, {**close_now, "positions": [["EURUSD", 4_000]]}) == [
        "the EURUSD position changed from 10,000 to 4,000"
    ]


def test_old_keys_the_current_state_lacks_are_not_compared() -> None:
    assert found(proposal({"halt": False, "gone_key": 1}), {"halt": False}) == []


# ---- end to end: a real runtime on a FakeBroker -----------------------------------------------------------------


@pytest.fixture
def desk(tmp_path: Path):  # type: ignore[no-untyped-def]
    d = Desk(tmp_path / "desk")
    yield d
    d.close()


def open_a_position(desk: Desk) -> str:
    code = desk.propose("p-open")
    assert desk.decide("p-open", code).status == "ok"
    record = desk.runtime.broker.lifecycle.find("p-open")  # type: ignore[union-attr]
    assert record is not None and record.state in (PositionState.FILLED, PositionState.MANAGED)
    return "p-open"


def propose_close(desk: Desk, position_id: str, proposal_id: str = "p-close") -> str:
    sha = hashlib.sha256(proposal_id.encode()).hexdigest()
    desk.run(desk.approval.propose_close(proposal_id, sha, position_id, "done"))
    return desk.shown[proposal_id]


def test_a_close_is_approved_after_a_one_pip_move_across_a_ten_pip_mark(desk: Desk) -> None:
    position = open_a_position(desk)
    desk.fake.set_price("EURUSD", 1.08556)  # the old 10-pip bucket 1086
    code = propose_close(desk, position)
    desk.fake.set_price("EURUSD", 1.08546)  # one pip down: bucket 1085, the reported refusal
    decided = desk.decide("p-close", code)
    assert decided.status == "ok", decided.changes
    assert [r.ref for r in desk.fake.sent] == ["p-open", "p-close"]  # the exit went out at the market


def test_a_close_is_refused_in_plain_words_when_the_position_closed_meanwhile(desk: Desk) -> None:
    position = open_a_position(desk)
    code = propose_close(desk, position)
    desk.fake.inject_position("EURUSD", 0, 0.0)  # the stop or a person at the broker closed it
    decided = desk.decide("p-close", code)
    assert decided.status == "conflict"
    assert decided.changes == ["the EURUSD position of 200,000 was closed"]
    assert [r.ref for r in desk.fake.sent] == ["p-open"]


def test_a_proposal_made_while_halted_is_approved_after_resume(desk: Desk) -> None:
    desk.runtime.store.halt_on("drill", by="test")
    code = desk.propose("p-halted")
    desk.runtime.store.halt_off(by="test", note="drill over")
    decided = desk.decide("p-halted", code)
    assert decided.status == "ok", decided.changes
    assert [r.ref for r in desk.fake.sent] == ["p-halted"]


def test_a_halt_after_the_proposal_is_a_conflict_in_plain_words(desk: Desk) -> None:
    code = desk.propose("p-then-halt")
    desk.runtime.store.halt_on("drill", by="test")
    decided = desk.decide("p-then-halt", code)
    assert decided.status == "conflict" and decided.changes == ["the halt flag was turned on"]
    assert desk.fake.sent == []
