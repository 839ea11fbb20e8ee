"""The Agent Skills in skills/ (and their copy in .claude/skills/): valid by the reference validator, frontmatter
as the spec allows, scripts that answer --help and that really submit intents to a running daemon."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from seam.paths import SeamPaths
from seam.yamlsafe import load_yaml
from tests.conftest import REPO, DaemonThread, run_child

SKILLS = REPO / "skills"
CLAUDE_SKILLS = REPO / ".claude" / "skills"
EXPECTED = {"seam-intents", "seam-trade-approval", "seam-research", "seam-operations", "seam-mock-signals"}
# the Agent Skills specification's frontmatter fields; nothing else may appear
SPEC_FIELDS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}
NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
# a wednesday morning: the FX market is open for READY signals, whatever day the suite runs
WEDNESDAY = "2026-11-18T09:00:00Z"


def skill_dirs(root: Path) -> list[Path]:
    return sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith((".", "_")))


def scripts() -> list[Path]:
    """Every runnable script of every skill (a module named with a leading _ is a helper, not a script)."""
    return sorted(path for skill in skill_dirs(SKILLS) for path in (skill / "scripts").glob("[!_]*.py"))


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path, without the bytecode Python leaves behind."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def frontmatter(skill: Path) -> tuple[dict[str, object], str]:
    text = (skill / "SKILL.md").read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{skill.name}/SKILL.md must open with YAML frontmatter"
    head, sep, body = text[4:].partition("\n---\n")
    assert sep, f"{skill.name}/SKILL.md: the frontmatter is not closed with ---"
    data = load_yaml(head)
    assert isinstance(data, dict), f"{skill.name}/SKILL.md: the frontmatter must be a mapping"
    return data, body


def run_script(script: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    # forked by the zygote when it can be (tests/zygote.py); no __pycache__ left in the skill folders
    return run_child(list(args), {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, None, timeout, script=script)


def validator() -> str:
    """The reference validator's command, next to this Python (a virtualenv), else on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "agentskills"
    command = str(beside) if beside.exists() else shutil.which("agentskills")
    assert command, "the reference validator is missing: pip install -e '.[test]' (it is skills-ref)"
    return command


# ---- the skills as the spec defines them ----------------------------------------------------------


def test_the_five_skills_are_there_in_both_places():
    assert {path.name for path in skill_dirs(SKILLS)} == EXPECTED
    assert {path.name for path in skill_dirs(CLAUDE_SKILLS)} == EXPECTED


def test_every_skill_passes_the_reference_validator():
    from skills_ref import validate  # skills-ref, the spec's reference library

    problems = {
        str(skill.relative_to(REPO)): validate(skill) for root in (SKILLS, CLAUDE_SKILLS) for skill in skill_dirs(root)
    }
    assert not {name: found for name, found in problems.items() if found}


def test_every_skill_passes_the_validator_command_ci_runs():
    """`agentskills validate DIR`, as a person or CI runs it (the copies in .claude/skills/ are byte-identical)."""
    command = validator()
    runs = [
        (
            skill,
            subprocess.Popen([command, "validate", str(skill)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT),
        )
        for skill in skill_dirs(SKILLS)
    ]
    failed = {}
    for skill, proc in runs:
        output, _ = proc.communicate(timeout=60)
        if proc.returncode != 0:
            failed[skill.name] = output.decode(errors="replace")
    assert not failed, failed


@pytest.mark.parametrize("skill", skill_dirs(SKILLS), ids=lambda path: path.name)
def test_frontmatter_has_only_the_spec_fields_and_names_its_folder(skill):
    data, body = frontmatter(skill)
    assert set(data) <= SPEC_FIELDS, f"fields outside the spec: {sorted(set(data) - SPEC_FIELDS)}"
    assert data["name"] == skill.name
    assert NAME.fullmatch(skill.name) and len(skill.name) <= 64
    description = data["description"]
    assert isinstance(description, str) and 0 < len(description.strip()) <= 1024
    assert body.strip() and len(body.splitlines()) < 500  # the spec's progressive disclosure: a short body


@pytest.mark.parametrize("skill", skill_dirs(SKILLS), ids=lambda path: path.name)
def test_every_file_a_skill_points_to_is_in_the_skill(skill):
    text = (skill / "SKILL.md").read_text(encoding="utf-8")
    named = set(re.findall(r"(?<![\w/.])((?:references|scripts)/[\w.-]+\.(?:md|py))", text))
    assert named, "SKILL.md should point to its references/ and scripts/"
    assert {name for name in named if not (skill / name).is_file()} == set()
    assert list((skill / "references").glob("*.md")) and list((skill / "scripts").glob("[!_]*.py"))


def test_claude_skills_are_byte_for_byte_the_skills():
    skills, claude = tree(SKILLS), tree(CLAUDE_SKILLS)
    assert sorted(skills) == sorted(claude), "the two trees hold different files: copy skills/ to .claude/skills/"
    differ = [name for name in skills if skills[name] != claude[name]]
    assert not differ, f"differ from skills/: {differ} (copy skills/ to .claude/skills/)"


def test_every_skill_carries_the_same_script_helper():
    helpers = {skill.name: (skill / "scripts" / "_shared.py").read_bytes() for skill in skill_dirs(SKILLS)}
    assert len(set(helpers.values())) == 1, "scripts/_shared.py differs between skills: keep one copy in all"


# ---- the scripts ------------------------------------------------------------------------------------


@pytest.mark.parametrize("script", scripts(), ids=lambda path: f"{path.parent.parent.name}/{path.name}")
def test_every_script_answers_help(script):
    result = run_script(script, "--help", timeout=30)
    assert result.returncode == 0, result.stderr
    assert "--seam" in result.stdout and "exit codes" in result.stdout


def test_a_script_outside_a_seam_says_so_and_exits_2(tmp_path):
    result = run_script(SKILLS / "seam-intents" / "scripts" / "check.py", "--seam", str(tmp_path), "x.yaml")
    assert result.returncode == 2
    assert "is not a seam" in result.stderr and "seam init" in result.stderr


def test_check_refuses_a_bad_intent_naming_the_field_and_writes_nothing(seam_paths, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seam: 1\nid: halt-1\nkind: halt\npayload: {cancel_orders: true}\n", encoding="utf-8")
    good = REPO / "intents" / "examples" / "status.yaml"
    result = run_script(
        SKILLS / "seam-intents" / "scripts" / "check.py", "--seam", str(seam_paths.root), str(good), str(bad)
    )
    assert result.returncode == 1
    assert f"VALID   {good}" in result.stdout and f"INVALID {bad}" in result.stdout
    assert "payload.reason" in result.stderr
    assert list(seam_paths.incoming.iterdir()) == []


def test_no_daemon_means_a_timeout_that_says_so(seam_paths):
    result = run_script(
        SKILLS / "seam-operations" / "scripts" / "status.py", "--seam", str(seam_paths.root), "--timeout", "0.3"
    )
    assert result.returncode == 3
    assert "no daemon is running" in result.stderr


# ---- against a running daemon ----------------------------------------------------------------------


def test_submit_sends_an_intent_to_the_daemon_and_prints_its_response(running):
    root = str(running.paths.root)
    result = run_script(
        SKILLS / "seam-intents" / "scripts" / "submit.py", "--seam", root, "intents/examples/status.yaml"
    )
    assert result.returncode == 0, result.stderr
    front = load_yaml(result.stdout.split("---\n")[1])
    assert front["id"] == "status-001" and front["kind"] == "status" and front["status"] == "ok"
    assert "# Status" in result.stdout
    assert (running.paths.responses / "status-001.md").read_text(encoding="utf-8") == result.stdout
    again = run_script(SKILLS / "seam-intents" / "scripts" / "response.py", "--seam", root, "status-001")
    assert again.returncode == 0 and again.stdout == result.stdout


def test_the_research_script_sends_a_research_kind_and_prints_its_answer(running):
    script = SKILLS / "seam-research" / "scripts" / "research.py"
    root = str(running.paths.root)
    result = run_script(script, "--seam", root, "--kind", "memory", "--payload", '{"question": "approvals"}')
    assert result.returncode == 0, result.stdout + result.stderr
    assert "status: ok" in result.stdout and "kind: memory" in result.stdout
    refused = run_script(script, "--seam", root, "intents/examples/halt.yaml")
    assert refused.returncode == 1 and "sends only query, hunt, memory, narrate" in refused.stderr


def test_halt_sets_the_flag_and_status_shows_it(running):
    scripts_dir = SKILLS / "seam-operations" / "scripts"
    root = str(running.paths.root)
    halted = run_script(scripts_dir / "halt.py", "--seam", root, "--reason", "Drill from the skill test")
    assert halted.returncode == 0, halted.stderr
    assert "kind: halt" in halted.stdout and "status: ok" in halted.stdout
    status = run_script(scripts_dir / "status.py", "--seam", root)
    assert status.returncode == 0, status.stderr
    assert "Drill from the skill test" in status.stdout


@pytest.fixture
def wednesday_desk(
    seam_paths: SeamPaths, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[DaemonThread, dict[str, str]]]:
    """A daemon on a simulated Wednesday (its scripts share the clock through the environment), and the codes
    it shows its human channel, captured here to prove no script ever prints one."""
    monkeypatch.setenv("SEAM_CLOCK_START", WEDNESDAY)
    shown: dict[str, str] = {}
    with DaemonThread(seam_paths) as daemon:
        daemon.daemon.runtime.approval.channels = [lambda proposal, code, _at: shown.__setitem__(proposal.id, code)]
        yield daemon, shown


def test_a_mock_ready_signal_becomes_evidence_and_pending_lists_it_without_its_code(wednesday_desk):
    daemon, shown = wednesday_desk
    root = str(daemon.paths.root)
    levels = ["--entry", "1.0850", "--stop", "1.0820", "--target", "1.0910", "--setup-type", "FVG_ENTRY"]
    generator_flags = ["--id", "mock-1", "--signal", "READY", "--pair", "EURUSD", "--confidence", "0.85", *levels]
    proposed = run_script(SKILLS / "seam-mock-signals" / "scripts" / "mock_signal.py", "--seam", root, *generator_flags)
    assert proposed.returncode == 0, proposed.stderr
    assert "status: pending_approval" in proposed.stdout and "Proposal mock-1: LONG" in proposed.stdout
    assert "direction LONG (inferred" in proposed.stderr

    approval = SKILLS / "seam-trade-approval" / "scripts"
    listed = run_script(approval / "pending.py", "--seam", root, "--json")
    assert listed.returncode == 0, listed.stderr
    (pending,) = json.loads(listed.stdout)
    assert pending["id"] == "mock-1" and pending["side"] == "BUY" and pending["evidence"]["reward_risk"] == 2.0
    text = run_script(approval / "pending.py", "--seam", root, "mock-1")
    assert text.returncode == 0 and "## mock-1: open BUY" in text.stdout

    code = shown["mock-1"]  # INV: the code reached the human channel, and no script output
    for result in (proposed, listed, text):
        assert code not in result.stdout + result.stderr
