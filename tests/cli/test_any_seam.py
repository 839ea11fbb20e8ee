"""The operator's commands work on a seam made a second ago and on one an older release made.

They run in this process (tests/test_cli.py and tests/store/test_beads.py run the same commands as child
processes); `approvals` runs in one, on a pseudo-terminal, since what it shows depends on having one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_on_a_terminal, seam_in_process
from tests.store.test_db import old_seam


@pytest.fixture(params=["fresh", "seam-0.1.0-init", "seam-0.1.0-demo"])
def any_seam(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "fresh":
        made = seam_in_process("init", str(tmp_path / "fresh"))
        assert made.returncode == 0, made.stderr
        return tmp_path / "fresh"
    return old_seam(tmp_path, request.param)


def test_status_works_on_any_seam(any_seam: Path) -> None:
    result = seam_in_process("status", "--seam", str(any_seam))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "halt" in result.stdout


def test_beads_verify_works_on_any_seam(any_seam: Path) -> None:
    result = seam_in_process("beads", "verify", "--seam", str(any_seam))
    assert result.returncode == 0, result.stderr
    assert "chain intact" in result.stdout


def test_approvals_works_on_any_seam_at_a_terminal(any_seam: Path) -> None:
    code, screen = run_on_a_terminal(["approvals", "--seam", str(any_seam)], b"", env={"COLUMNS": "200"})
    assert code == 0, screen
    assert "Traceback" not in screen
    if any_seam.name == "seam-0.1.0-demo":
        assert "old-pending-2" in screen  # the proposal the old release left pending
    else:
        assert "No proposals are waiting for approval." in screen


def test_broker_status_works_on_any_seam(any_seam: Path) -> None:
    result = seam_in_process("broker", "status", "--seam", str(any_seam))
    assert result.returncode == 0, result.stderr
    assert "MOCK" in result.stdout


def test_submit_of_a_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    assert seam_in_process("init", str(tmp_path / "s")).returncode == 0
    result = seam_in_process("submit", "--seam", str(tmp_path / "s"), str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.yaml" in lines[0] and "nothing was sent" in lines[0], result.stderr
