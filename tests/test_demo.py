"""`seam demo` end to end, as a user runs it: the whole story, an intact chain, and no approval code anywhere."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import seam_cli

TRADES = {"t1-long": "target", "t2-short": "stop", "t3-short": "target"}


def _run_demo(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    result = seam_cli("demo", "--seam", str(root), *extra, timeout=150)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    return result


def _codes(root: Path) -> list[str]:
    with closing(sqlite3.connect(root / "seam.db")) as conn:
        return [str(row[0]) for row in conn.execute("SELECT code FROM approval_codes")]


def _bead_texts(root: Path) -> dict[str, str]:
    with closing(sqlite3.connect(root / "seam.db")) as conn:
        rows = conn.execute("SELECT seq, type, at, intent_id, session_id, payload, prev_hash, hash FROM beads")
        return {f"bead {row[0]}": " ".join(str(value) for value in row) for row in rows}


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
    refused = (root / "responses" / "approve-drill-signal.md").read_text()
    assert "status: failed" in refused and "safety guard `halt`" in refused
    assert seam_cli("beads", "verify", "--seam", str(root)).returncode == 0


def _assert_no_code_leaked(root: Path, result: subprocess.CompletedProcess[str]) -> None:
    codes = _codes(root)
    assert len(codes) == 4  # three trades and the halt drill's proposal
    places = {"stdout": result.stdout, "stderr": result.stderr, **_bead_texts(root)}
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
