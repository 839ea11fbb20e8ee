"""mock_cse_generator: flags in, one valid signal intent written atomically into the seam, or a refusal (exit 2).

Most tests call `main([...])` in-process; two run the script the way a user would, from the repository root.
"""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from mocks.mock_cse_generator import CANONICAL_EXAMPLE, main
from seam import cli
from seam.paths import SeamPaths
from tests.conftest import REPO, DaemonThread, make_seam, wait_response

SCRIPT = REPO / "mocks" / "mock_cse_generator.py"
CANONICAL = CANONICAL_EXAMPLE.split()[1:]  # the documented command, without the program name
LEVELS = ["--entry", "1.0850", "--stop", "1.0820", "--target", "1.0910"]
READY = ["--signal", "READY", "--pair", "EURUSD", "--confidence", "0.85", "--setup-type", "FVG_ENTRY"]


@pytest.fixture(autouse=True)
def weekday_market(monkeypatch: pytest.MonkeyPatch) -> None:
    """READY signals are refused while FX is closed (weekends); these tests run on a simulated Wednesday."""
    monkeypatch.setenv("SEAM_CLOCK_START", "2026-11-18T09:00:00Z")


@pytest.fixture
def seam(tmp_path: Path) -> SeamPaths:
    return make_seam(tmp_path / "seam")


def run(seam: SeamPaths, *flags: str) -> int:
    return main(["--seam", str(seam.root), *flags])


def written(seam: SeamPaths) -> list[Path]:
    return sorted(seam.incoming.iterdir())


def the_intent(seam: SeamPaths) -> dict[str, Any]:
    [path] = written(seam)
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def assert_nothing_written(seam: SeamPaths) -> None:
    assert written(seam) == []
    assert list(seam.tmp.iterdir()) == []


# ---- writing ---------------------------------------------------------------------------------------


def test_the_canonical_command_run_as_a_script_writes_an_intent_that_seam_validate_accepts(
    seam: SeamPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT.relative_to(REPO)), "--seam", str(seam.root), *CANONICAL],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    [path] = written(seam)
    assert f"wrote {path}" in proc.stdout
    assert f"id {path.stem}" in proc.stdout
    assert list(seam.tmp.iterdir()) == []  # staged in tmp/, renamed into incoming/, nothing left behind

    assert cli.main(["validate", "--seam", str(seam.root), str(path)]) == 0
    assert "VALID" in capsys.readouterr().out
    intent = the_intent(seam)
    assert intent["seam"] == 1 and intent["kind"] == "signal" and intent["session_id"] == "mock-cse"
    assert intent["created_at"].endswith("Z")
    assert intent["payload"] == {
        "signal": "READY",
        "pair": "EURUSD",
        "direction": "LONG",
        "confidence": 0.85,
        "entry": 1.085,
        "stop": 1.082,
        "target": 1.091,
        "setup_type": "FVG_ENTRY",
    }


def test_the_default_id_is_the_pair_the_utc_time_and_four_hex_digits(seam: SeamPaths) -> None:
    now = datetime(2026, 11, 18, 9, 5, 0, tzinfo=UTC)
    assert main(["--seam", str(seam.root), *CANONICAL], now=now, rng=random.Random(1)) == 0
    intent = the_intent(seam)
    assert intent["id"] == f"eurusd-20261118-090500-{random.Random(1).getrandbits(16):04x}"
    assert intent["created_at"] == "2026-11-18T09:05:00Z"
    assert written(seam)[0].name == f"{intent['id']}.yaml"


def test_id_created_at_risk_source_and_thesis_are_written_as_given(seam: SeamPaths) -> None:
    assert (
        run(
            seam,
            *READY,
            *LEVELS,
            "--id",
            "desk-7",
            "--created-at",
            "2026-11-18T09:55:00+01:00",
            "--risk-percent",
            "0.5",
            "--source",
            "CSO",
            "--thesis",
            'gap fill: "London" # open',
        )
        == 0
    )
    intent = the_intent(seam)
    assert (intent["id"], intent["created_at"]) == ("desk-7", "2026-11-18T09:55:00+01:00")
    assert intent["payload"]["risk_percent"] == 0.5 and intent["payload"]["source"] == "CSO"
    assert intent["payload"]["thesis"] == 'gap fill: "London" # open'


@pytest.mark.parametrize(("stop", "target", "direction"), [("1.0820", "1.0910", "LONG"), ("1.0880", "1.0790", "SHORT")])
def test_a_left_out_direction_is_inferred_from_the_side_of_the_stop_and_the_output_says_so(
    seam: SeamPaths, capsys: pytest.CaptureFixture[str], stop: str, target: str, direction: str
) -> None:
    assert run(seam, *READY, "--entry", "1.0850", "--stop", stop, "--target", target) == 0
    assert f"direction {direction} (inferred" in capsys.readouterr().out
    assert the_intent(seam)["payload"]["direction"] == direction


def test_a_forming_signal_without_levels_is_accepted(seam: SeamPaths) -> None:
    assert run(seam, "--signal", "FORMING", "--pair", "EURUSD", "--confidence", "0.4") == 0
    assert the_intent(seam)["payload"] == {"signal": "FORMING", "pair": "EURUSD", "confidence": 0.4}


def test_the_seam_defaults_to_seam_root(seam: SeamPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEAM_ROOT", str(seam.root))
    assert main(["--signal", "NONE", "--pair", "EURUSD", "--confidence", "0.1"]) == 0
    assert len(written(seam)) == 1


def test_stdout_prints_the_intent_and_writes_nothing(seam: SeamPaths, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(seam, "--stdout", *CANONICAL, "--id", "printed-1") == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["id"] == "printed-1" and printed["payload"]["direction"] == "LONG"
    assert_nothing_written(seam)


def test_a_pair_made_active_in_the_seam_configuration_is_accepted(tmp_path: Path) -> None:
    seam = make_seam(tmp_path / "gbp", "pairs:\n  active: [EURUSD, GBPUSD]\n")
    assert run(seam, *READY[:3], "GBPUSD", *READY[4:], *LEVELS) == 0


# ---- refusals --------------------------------------------------------------------------------------

REFUSALS = {
    "ready without levels": ([*READY, "--direction", "LONG"], ["--entry", "--stop", "--target"]),
    "ready without a target": ([*READY, *LEVELS[:4]], ["--target: is required"]),
    "long with the stop above the entry": (
        [*READY, "--direction", "LONG", "--entry", "1.0850", "--stop", "1.0880", "--target", "1.0910"],
        ["--stop: must be below --entry"],
    ),
    "long with the target below the entry": (
        [*READY, "--direction", "LONG", "--entry", "1.0850", "--stop", "1.0820", "--target", "1.0800"],
        ["--target: must be above --entry"],
    ),
    "short with the target above the entry": (
        [*READY, "--direction", "SHORT", "--entry", "1.0850", "--stop", "1.0880", "--target", "1.0900"],
        ["--target: must be below --entry"],
    ),
    "inferred long with the target below the entry": (
        [*READY, "--entry", "1.0850", "--stop", "1.0820", "--target", "1.0800"],
        ["--target: must be above --entry"],
    ),
    "stop equal to the entry": (
        [*READY, "--entry", "1.0850", "--stop", "1.0850", "--target", "1.0910"],
        ["--stop: equals --entry"],
    ),
    "target equal to the entry": (
        [*READY, "--direction", "LONG", "--entry", "1.085", "--stop", "1.082", "--target", "1.085"],
        ["--target: equals --entry"],
    ),
    "forming with the stop on the wrong side": (
        [
            "--signal",
            "FORMING",
            "--pair",
            "EURUSD",
            "--confidence",
            "0.4",
            "--direction",
            "SHORT",
            "--entry",
            "1.085",
            "--stop",
            "1.080",
        ],
        ["--stop: must be above --entry"],
    ),
    "confidence above 1": ([*READY[:5], "1.2", *READY[6:], *LEVELS], ["--confidence: must be at most 1"]),
    "confidence below 0": ([*READY[:5], "-0.1", *READY[6:], *LEVELS], ["--confidence: must be at least 0"]),
    "confidence not a number": ([*READY[:5], "nan", *READY[6:], *LEVELS], ["--confidence"]),
    "risk below 0.5": ([*READY, *LEVELS, "--risk-percent", "0.4"], ["--risk-percent: must be at least 0.5"]),
    "risk above 2.5": ([*READY, *LEVELS, "--risk-percent", "2.6"], ["--risk-percent: must be at most 2.5"]),
    "unknown pair": ([*READY[:3], "EURXXX", *READY[4:], *LEVELS], ["--pair: must be one of"]),
    "pair not active": ([*READY[:3], "GBPUSD", *READY[4:], *LEVELS], ["--pair: GBPUSD is not active"]),
    "unknown setup type": ([*READY[:7], "XYZ_ENTRY", *LEVELS], ["--setup-type"]),
    "bad id": ([*READY, *LEVELS, "--id", "../escape"], ["--id:"]),
    "created_at without a timezone": (
        [*READY, *LEVELS, "--created-at", "2026-11-18T09:05:00"],
        ["--created-at: needs a timezone"],
    ),
    "created_at in the future": (
        [*READY, *LEVELS, "--created-at", "2999-01-01T00:00:00Z"],
        ["--created-at: is in the future"],
    ),
}


@pytest.mark.parametrize(("flags", "expected"), list(REFUSALS.values()), ids=list(REFUSALS))
def test_an_invalid_combination_is_refused_with_exit_2_naming_the_flag_and_nothing_is_written(
    seam: SeamPaths, capsys: pytest.CaptureFixture[str], flags: list[str], expected: list[str]
) -> None:
    assert run(seam, *flags) == 2
    errors = capsys.readouterr().err
    for text in expected:
        assert text in errors
    assert_nothing_written(seam)


def test_a_folder_that_is_not_a_seam_is_refused_with_the_seam_init_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--seam", str(tmp_path / "nowhere"), *CANONICAL]) == 2
    assert "--seam" in (errors := capsys.readouterr().err) and "seam init" in errors
    assert not (tmp_path / "nowhere").exists()


def test_an_intent_still_waiting_under_the_same_id_is_never_replaced(
    seam: SeamPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(seam, *CANONICAL, "--id", "same-1") == 0
    first = written(seam)[0].read_bytes()
    assert run(seam, *CANONICAL, "--id", "same-1", "--confidence", "0.5") == 2
    assert "--id" in capsys.readouterr().err
    assert written(seam)[0].read_bytes() == first


def test_the_script_refuses_with_exit_code_2_as_a_process(seam: SeamPaths) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT.relative_to(REPO)),
            "--seam",
            str(seam.root),
            *READY,
            "--direction",
            "LONG",
            "--entry",
            "1.0850",
            "--stop",
            "1.0900",
            "--target",
            "1.0910",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "--stop: must be below --entry" in proc.stderr
    assert_nothing_written(seam)


# ---- help and the daemon ---------------------------------------------------------------------------


def test_help_exits_0_and_shows_the_canonical_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    shown = capsys.readouterr().out
    assert CANONICAL_EXAMPLE in shown
    assert "Examples:" in shown and "--direction" in shown


def test_a_running_daemon_answers_the_written_intent(tmp_path: Path) -> None:
    seam = make_seam(tmp_path / "seam", "intake:\n  rescan_seconds: 0.5\n")
    with DaemonThread(seam):
        assert run(seam, *CANONICAL, "--id", "answered-1") == 0
        front = wait_response(seam, "answered-1")
    # the signal handler lands later; today the daemon answers that it is not available yet
    assert front["id"] == "answered-1" and front["kind"] == "signal"
