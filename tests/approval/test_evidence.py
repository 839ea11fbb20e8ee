"""The evidence a human approves states the trade as it will be sent: the real risk after the caps, a market entry
and its distance from the market, the signal's age, the thesis and the other proposals waiting on the pair; an
entry far from the market or a stale signal never becomes a proposal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from seam.clock import FakeClock
from seam.config import load_config
from seam.errors import IntentError
from seam.validate import CheckContext, validate_bytes
from tests.conftest import DaemonThread, drop, intent_text, make_seam, wait_response
from tests.test_approval import READY, Desk

FAR = READY.replace("entry: 1.0850, stop: 1.0820, target: 1.0910", "entry: 1.1850, stop: 1.1820, target: 1.1910")
NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)  # the desk's Wednesday: the FX market is open


def desk_at(root: Path, config_yaml: str = "") -> Iterator[Desk]:
    paths = make_seam(root, config_yaml)
    clock = FakeClock()  # Wednesday 2026-11-18 09:00 UTC; the fake EURUSD quote is 1.08497 / 1.08503
    with DaemonThread(paths, clock=clock) as daemon:
        yield Desk(paths, clock, daemon)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    yield from desk_at(tmp_path / "desk")


def send_created(desk: Desk, intent_id: str, created_at: str) -> dict[str, object]:
    drop(desk.paths, f"{intent_id}.yaml", intent_text(intent_id, "signal", READY, extra=f"created_at: {created_at}\n"))
    return wait_response(desk.paths, intent_id)


def rows(body: str) -> dict[str, str]:
    """The evidence table as label → value."""
    table = [line.strip("|").split("|", 1) for line in body.splitlines() if line.startswith("| ") and "|" in line[2:]]
    return {label.strip(): value.strip(" |") for label, value in table}


# ---- 15: an entry far from the market -------------------------------------------------------------


def test_a_ready_signal_whose_entry_is_far_from_the_market_is_refused_naming_the_entry_distance_and_limit(desk):
    front = desk.send("far-1", "signal", FAR)
    body = str(front["body"])
    assert front["status"] == "rejected", body
    assert "payload.entry" in body
    assert "999.7 pips from the market" in body and "ask 1.08503" in body
    assert "risk.max_entry_distance_pips is 20" in body
    assert desk.approval.pending() == [] and desk.orders_sent() == 0


def test_the_entry_distance_limit_is_a_setting(tmp_path):
    for desk in desk_at(tmp_path / "wide", "risk:\n  max_entry_distance_pips: 1000\n"):
        assert desk.propose("far-ok", FAR)["status"] == "pending_approval"
        assert desk.orders_sent() == 0


def test_the_evidence_shows_a_market_entry_and_its_distance_from_the_market(desk):
    evidence = rows(str(desk.propose("near-1")["body"]))
    assert evidence["entry order"] == "MARKET: fills at the ask (1.08503), 0.3 pips from the signal's entry 1.085"


# ---- 19: the real risk, the thesis, the age, the pair's other proposals ---------------------------


def test_the_evidence_states_the_real_risk_next_to_the_requested_one_and_why_they_differ(desk):
    body = str(desk.propose("risk-1")["body"])
    evidence = rows(body)
    # 200,000 units (the per-order cap) × 30 pips = 600 USD of 100,000 equity, not the 1.0 % the signal asked for
    assert evidence["size"] == "200,000 units = 600.0 USD at risk: 0.6% of 100,000 equity (1.0% requested)"
    assert "capped at risk.max_units_per_order 200,000" in evidence["sizing"]
    assert "1.0% of" not in body
    assert len(body.splitlines()) <= 30


def test_when_no_cap_applies_the_real_risk_is_stated_once(tmp_path):
    for desk in desk_at(tmp_path / "uncapped", "risk:\n  max_units_per_order: 1000000\n"):
        # a 25-pip stop: 400,000 units × 25 pips = 1,000 USD, the 1.0 % asked for, under every cap
        evidence = rows(str(desk.propose("risk-2", READY.replace("stop: 1.0820", "stop: 1.0825"))["body"]))
        assert evidence["size"] == "400,000 units = 1000.0 USD at risk: 1.0% of 100,000 equity"


def test_the_evidence_shows_the_thesis_on_one_line(desk):
    payload = READY.replace("}", ", thesis: 'FVG fill | London open\n\n  retest of 1.0840'}")
    evidence = rows(str(desk.propose("thesis-1", payload)["body"]))
    assert evidence["thesis"] == "FVG fill / London open retest of 1.0840"


def test_the_evidence_shows_the_signal_age_from_created_at(desk):
    front = send_created(desk, "aged-1", "2026-11-18T08:57:00Z")
    assert front["status"] == "pending_approval", front["body"]
    assert rows(str(front["body"]))["signal age"] == "3 min (created 2026-11-18T08:57:00+00:00)"


def test_without_created_at_the_evidence_says_the_age_is_not_stated(desk):
    assert rows(str(desk.propose("aged-2")["body"]))["signal age"] == "not stated (no created_at)"


def test_a_ready_signal_older_than_the_limit_is_refused_naming_created_at(desk):
    front = send_created(desk, "stale-1", "2026-11-18T08:40:00Z")
    body = str(front["body"])
    assert front["status"] == "rejected", body
    assert "created_at" in body and "20 min old" in body and "approval.max_signal_age_minutes is 15" in body
    assert desk.approval.pending() == [] and desk.orders_sent() == 0


def test_the_evidence_lists_the_other_pending_proposals_on_the_same_pair(desk):
    assert rows(str(desk.propose("pair-a")["body"]))["other pending on EURUSD"] == "none"
    desk.propose("pair-b")
    assert rows(str(desk.propose("pair-c")["body"]))["other pending on EURUSD"] == "pair-a, pair-b"


def test_the_bundle_states_facts_and_never_recommends(desk):
    body = str(desk.propose("words-1")["body"]).lower()
    for word in ("should", "recommend", "suggest", "consider", "advise"):
        assert word not in body, word


# ---- the signal-age check -------------------------------------------------------------------------


def ready_at(created_at: str | None, kind_payload: str = READY) -> bytes:
    extra = f"created_at: {created_at}\n" if created_at else ""
    return intent_text("s", "signal", kind_payload, extra=extra).encode()


def age_limit(minutes: float = 15) -> CheckContext:
    return CheckContext(now=NOW, max_signal_age=timedelta(minutes=minutes))


def test_a_ready_signal_exactly_at_the_age_limit_is_accepted_and_older_is_refused() -> None:
    assert validate_bytes(ready_at("2026-11-18T08:45:00Z"), age_limit())
    with pytest.raises(IntentError) as raised:
        validate_bytes(ready_at("2026-11-18T08:44:59Z"), age_limit())
    (problem,) = raised.value.problems
    assert problem.path == "created_at"
    assert problem.message == (
        "the READY signal is 15 min 1 s old (created 2026-11-18T08:44:59+00:00; now 2026-11-18T09:00:00+00:00); "
        "approval.max_signal_age_minutes is 15"
    )


def test_a_ready_signal_without_created_at_is_not_aged() -> None:
    assert validate_bytes(ready_at(None), age_limit())


def test_an_old_forming_signal_is_recorded_not_refused() -> None:
    assert validate_bytes(
        ready_at("2026-11-18T06:00:00Z", "{signal: FORMING, pair: EURUSD, confidence: 0.4}"), age_limit()
    )


def test_the_age_limit_comes_from_the_settings(tmp_path) -> None:
    paths = make_seam(tmp_path / "cfg", "approval:\n  max_signal_age_minutes: 60\n")
    ctx = CheckContext.from_settings(load_config(paths, env={}).settings, NOW)
    assert ctx.max_signal_age == timedelta(minutes=60)
    assert validate_bytes(ready_at("2026-11-18T08:01:00Z"), ctx)
    with pytest.raises(IntentError):
        validate_bytes(ready_at("2026-11-18T08:01:00Z"), age_limit())
