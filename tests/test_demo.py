"""`seam demo` end to end, as a user runs it: the whole story, an intact chain, and no approval code anywhere."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from seam.config import load_config
from seam.demo import run_demo
from seam.demo.agent import intent_yaml
from seam.demo.script import simulated_start
from seam.paths import SeamPaths
from seam.runtime import Runtime
from seam.yamlsafe import load_yaml
from tests.conftest import seam_cli

TRADES = {"t1-long": "target", "t2-short": "stop", "t3-short": "target"}
PROPOSALS = (*TRADES, "drill-signal")  # three trades and the halt drill's proposal


def _run_demo(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    result = seam_cli("demo", "--seam", str(root), *extra, timeout=150)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    return result


def _codes_and_beads(root: Path) -> tuple[list[str], dict[str, str]]:
    """The approval codes the demo's agent presented (its approve intents, filed once answered; the store
    keeps only their keyed digests) and every bead as text, read as the operator's console reads them."""
    paths = SeamPaths.at(root)
    filed = sorted(paths.processed.glob("*approve*.yaml")) + sorted(paths.failed.glob("*approve*.yaml"))
    codes = [str(load_yaml(path.read_text())["payload"]["code"]) for path in filed]
    console = Runtime.console(paths, load_config(paths, env={}))
    try:
        beads = {
            f"bead {b.seq}": " ".join(
                str(v)
                for v in (b.seq, b.type, b.at, b.intent_id, b.session_id, json.dumps(b.payload), b.prev_hash, b.hash)
            )
            for b in console.store.beads()
        }
    finally:
        console.close()
    assert len(codes) >= len(PROPOSALS), [path.name for path in filed]  # each proposal's, and the drill's second
    return codes, beads


def _assert_the_story_was_told(root: Path, result: subprocess.CompletedProcess[str]) -> None:
    out = result.stdout
    assert "Market clock simulated" in out
    assert "plays the human" in out
    assert "Trades: 3 (target 2, stop 1)" in out, out[-3000:]
    for position, exit_ in TRADES.items():
        rows = [line for line in out.splitlines() if re.match(rf"^\W*{position}\b", line) and "│" in line]
        assert rows and rows[-1].rstrip(" │").endswith(exit_), rows
        trade = root / "responses" / f"trade-{position}.md"
        assert trade.exists() and "Trade closed" in trade.read_text()
    assert "Bead chain: intact" in out
    # the heartbeat, and one alert delivered to the fake Bot API the demo starts
    assert "The heartbeat" in out and "HEARTBEAT bead" in out
    assert "Telegram received the CRITICAL HALT_ON alert" in out
    refused = (root / "responses" / "approve-drill-signal.md").read_text()
    assert "status: failed" in refused and "safety guard `halt`" in refused
    assert seam_cli("beads", "verify", "--seam", str(root)).returncode == 0


def _assert_no_code_leaked(root: Path, result: subprocess.CompletedProcess[str]) -> None:
    codes, beads = _codes_and_beads(root)
    places = {"stdout": result.stdout, "stderr": result.stderr, **beads}
    for path in (root / "responses").rglob("*"):
        if path.is_file():
            places[str(path.relative_to(root))] = path.read_text(encoding="utf-8")
    for code in codes:
        # a whole word, and not the digits after a decimal point (prices and times carry fractions)
        word = re.compile(rf"(?<![\w.]){code}(?!\w)")
        leaks = [where for where, text in places.items() if word.search(text)]
        assert not leaks, f"an approval code appears in {leaks}"


def test_the_mock_demo_trades_three_times_over_two_sessions_and_never_shows_a_code(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    result = _run_demo(root)
    _assert_the_story_was_told(root, result)
    assert "Daemon session 2 is running (MOCK broker" in result.stdout
    _assert_no_code_leaked(root, result)


def test_the_demo_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something.txt").write_text("mine")
    result = seam_cli("demo", "--seam", str(tmp_path), timeout=60)
    assert result.returncode == 2
    assert "not empty" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["something.txt"]


@pytest.mark.slow
def test_the_paper_demo_goes_through_the_fake_gateway_and_survives_a_dropped_link(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    result = _run_demo(root, "--mode", "paper")
    _assert_the_story_was_told(root, result)
    assert "Daemon session 2 is running (PAPER broker" in result.stdout
    assert "IBKR_SESSION DISCONNECT" in result.stdout and "IBKR_SESSION CONNECT" in result.stdout
    assert list((root / "responses" / "alerts").glob("*CONNECTION_LOST.md"))
    _assert_no_code_leaked(root, result)


def test_the_paper_demo_refuses_in_one_line_when_the_ib_library_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for library in ("ib_async", "ib_insync"):
        monkeypatch.setitem(sys.modules, library, None)  # what a broken installation looks like to an import
    printed = io.StringIO()
    code = run_demo(str(tmp_path / "demo"), out=Console(file=printed, width=200), mode="paper")
    assert code == 1
    message = "seam demo: the IB client library is missing from this installation: pip install ib_async"
    assert printed.getvalue() == message + "\n"
    assert not (tmp_path / "demo").exists()


def test_an_unknown_mode_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    printed = io.StringIO()
    assert run_demo(str(tmp_path / "demo"), out=Console(file=printed, width=200), mode="live") == 2
    assert "unknown mode 'live'" in printed.getvalue()
    assert not (tmp_path / "demo").exists()


def test_an_approval_code_with_a_leading_zero_is_written_so_it_reads_back_as_text() -> None:
    # YAML 1.1 dumpers leave 020968 unquoted, and seam's YAML 1.2 loader then reads the integer 20968
    text = intent_yaml("approve-t1-long", "approve", {"proposal": "t1-long", "code": "020968", "decision": "approve"})
    assert load_yaml(text)["payload"] == {"proposal": "t1-long", "code": "020968", "decision": "approve"}


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 11, 25, 23, 59, tzinfo=UTC),
        datetime(2026, 11, 29, 3, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
    ],
    ids=["wednesday", "sunday", "tuesday"],
)
def test_the_market_clock_starts_at_nine_on_the_latest_wednesday(now: datetime) -> None:
    start = simulated_start(now)
    assert (start.weekday(), start.hour, start.minute) == (2, 9, 0)
    assert 0 <= (now.date() - start.date()).days < 7
