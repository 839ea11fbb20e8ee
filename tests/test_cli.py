"""The `seam` command as a user runs it: in a child process where the process is the subject (its exit codes, its
environment, its standard input, the terminal it lacks), through `seam.cli.main` where the subject is what a command
does and says."""

from __future__ import annotations

import pytest

from tests.conftest import REPO, DaemonThread, intent_text, make_seam, seam_cli, seam_in_process


def test_init_creates_the_folders_a_commented_config_and_the_bead_store(tmp_path):
    root = tmp_path / "desk"
    result = seam_in_process("init", str(root))
    assert result.returncode == 0, result.stderr
    for folder in (
        "intents/tmp",
        "intents/incoming",
        "intents/processing",
        "intents/processed",
        "intents/failed",
        "responses",
    ):
        assert (root / folder).is_dir(), folder
    assert (root / "seam.db").exists()
    config = (root / "seam.yaml").read_text()
    assert config.startswith("# seam configuration.")
    assert "# concurrency: 8" in config


def test_every_command_honours_seam_root_from_the_environment(tmp_path):
    root = tmp_path / "via-env"
    assert seam_cli("init", env={"SEAM_ROOT": str(root)}).returncode == 0
    result = seam_cli("status", env={"SEAM_ROOT": str(root)})
    assert result.returncode == 0, result.stderr
    assert "MOCK" in result.stdout


def test_commands_on_a_folder_that_is_not_a_seam_say_so_and_exit_2(tmp_path):
    result = seam_cli("status", "--seam", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert "is not a seam" in result.stderr and "seam init" in result.stderr


@pytest.fixture
def live_seam(tmp_path):
    paths = make_seam(tmp_path / "seam")
    with DaemonThread(paths):
        yield paths


def test_submit_waits_for_the_response_prints_it_and_exits_0_when_ok(live_seam, tmp_path):
    intent = tmp_path / "s.yaml"
    intent.write_text(intent_text("submitted-1"))
    result = seam_cli("submit", str(intent), "--seam", str(live_seam.root), "--timeout", "10")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "status: ok" in result.stdout and "# Status" in result.stdout


def test_submit_reads_standard_input(live_seam):
    result = seam_cli("submit", "-", "--seam", str(live_seam.root), input_text=intent_text("from-stdin"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "id: from-stdin" in result.stdout


def test_submit_exits_1_when_the_response_is_failed(live_seam, tmp_path):
    intent = tmp_path / "a.yaml"
    intent.write_text(intent_text("cancel-1", "cancel", "{order_id: no-such-order}"))
    result = seam_cli("submit", str(intent), "--seam", str(live_seam.root), "--timeout", "10")
    assert result.returncode == 1
    assert "status: failed" in result.stdout


def test_submit_refuses_an_invalid_intent_before_writing_it(live_seam, tmp_path):
    intent = tmp_path / "bad.yaml"
    intent.write_text(intent_text("bad-1", "halt", "{reason: x, cancel_orders: NO}"))
    result = seam_in_process("submit", str(intent), "--seam", str(live_seam.root))
    assert result.returncode == 1
    assert "payload.cancel_orders" in result.stdout and "nothing was written" in result.stdout
    assert not list(live_seam.incoming.iterdir())


def test_submit_of_a_conflicting_intent_prints_the_conflict_not_the_first_answer(live_seam, tmp_path):
    first, second = tmp_path / "1.yaml", tmp_path / "2.yaml"
    first.write_text(intent_text("shared", "halt", "{reason: one}"))
    second.write_text(intent_text("shared", "halt", "{reason: two}"))
    assert seam_in_process("submit", str(first), "--seam", str(live_seam.root)).returncode == 0
    result = seam_in_process("submit", str(second), "--seam", str(live_seam.root))
    assert result.returncode == 1
    assert "status: conflict" in result.stdout


def test_submit_without_a_daemon_times_out_with_exit_3_and_keeps_the_intent(tmp_path):
    paths = make_seam(tmp_path / "idle")
    intent = tmp_path / "s.yaml"
    intent.write_text(intent_text("nobody-home"))
    result = seam_cli("submit", str(intent), "--seam", str(paths.root), "--timeout", "0.5")
    assert result.returncode == 3
    assert "seam watch" in result.stderr
    assert len(list(paths.incoming.glob("nobody-home-*.yaml"))) == 1


def test_validate_exits_0_for_the_examples_and_1_with_every_error_for_a_bad_file(tmp_path):
    examples = sorted(str(p) for p in (REPO / "intents" / "examples").glob("*.yaml"))
    wednesday = {"SEAM_CLOCK_START": "2026-11-18T09:00:00Z"}  # READY signals are refused on weekends
    good = seam_in_process("validate", *examples, "--seam", str(tmp_path), env=wednesday)
    assert good.returncode == 0, good.stdout
    assert good.stdout.count("VALID") == len(examples) >= 13
    bad = tmp_path / "bad.yaml"
    bad.write_text("seam: 1\nid: ../x\nkind: halt\npayload: {cancel_orders: NO}\n")
    result = seam_in_process("validate", str(bad), "--seam", str(tmp_path))
    assert result.returncode == 1
    assert "id:" in result.stdout and "payload.reason: is required" in result.stdout
    assert "payload.cancel_orders" in result.stdout


def test_watch_once_answers_what_is_there_and_exits(tmp_path):
    paths = make_seam(tmp_path / "once")
    (paths.incoming / "a.yaml").write_text(intent_text("once-a"))
    (paths.incoming / "b.yaml").write_text(intent_text("once-b", "halt", "{reason: drill}"))
    result = seam_cli("watch", "--once", "--seam", str(paths.root))
    assert result.returncode == 0, result.stderr
    assert "answered 2 intent(s): ok 2" in result.stderr
    assert "intent once-a kind=status status=ok ms=" in result.stderr  # one log line per intent
    assert (paths.responses / "once-b.md").exists()


def test_status_reports_the_halt_flag_after_a_halt(tmp_path):
    paths = make_seam(tmp_path / "halted")
    (paths.incoming / "h.yaml").write_text(intent_text("h", "halt", "{reason: news spike}"))
    assert seam_cli("watch", "--once", "--seam", str(paths.root)).returncode == 0
    result = seam_in_process("status", "--seam", str(paths.root), "--json")
    assert result.returncode == 0
    assert "ON since" in result.stdout and "news spike" in result.stdout


def test_resume_refuses_without_an_interactive_terminal(tmp_path):
    paths = make_seam(tmp_path / "r")
    result = seam_cli("resume", "--seam", str(paths.root), input_text="y\n")
    assert result.returncode == 2
    assert "interactive terminal" in result.stderr


def test_help_lists_every_command():
    result = seam_in_process("--help")
    assert result.returncode == 0
    for command in ("init", "watch", "submit", "status", "validate", "schema", "beads", "config", "resume", "demo"):
        assert command in result.stdout
