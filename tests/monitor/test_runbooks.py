"""Runbooks RB-001..RB-008: package data with every section, naming only real `seam` commands; every CRITICAL alert
type names one that exists; `seam runbook` prints them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from seam.cli import build_parser, main
from seam.cli.runbook import runbook_ids, runbook_text
from seam.monitor.alerts import ALERT_TYPES, Severity

IDS = [f"RB-00{n}" for n in range(1, 9)]
SECTIONS = ("## Symptoms", "## Immediate actions", "## Investigation", "## Resolution", "## Post-incident review")
TOPICS = {
    "RB-001": "connection loss",
    "RB-002": "reconciliation drift",
    "RB-003": "stalled position",
    "RB-004": "emergency halt",
    "RB-005": "kill flag",
    "RB-006": "telegram down",
    "RB-007": "gateway auto-update",
    "RB-008": "pacing violation",
}


def test_there_are_the_eight_runbooks():
    assert runbook_ids() == IDS


@pytest.mark.parametrize("runbook_id", IDS)
def test_each_runbook_has_every_section_and_its_topic(runbook_id):
    text = runbook_text(runbook_id)
    assert text is not None
    assert TOPICS[runbook_id] in text.splitlines()[0].lower()
    for section in SECTIONS:
        assert section in text, (runbook_id, section)


def _commands() -> dict[str, set[str]]:
    """Each `seam` command and its sub-actions, from the real parser."""
    import argparse

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands: dict[str, set[str]] = {}
    for name, p in sub.choices.items():
        actions = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        commands[name] = set(actions[0].choices) if actions else set()
    return commands


@pytest.mark.parametrize("runbook_id", IDS)
def test_every_seam_command_a_runbook_names_is_a_real_command(runbook_id):
    commands = _commands()
    text = runbook_text(runbook_id) or ""
    named = re.findall(r"`seam ([a-z-]+)(?: ([a-z-]+))?", text)
    assert named, runbook_id
    for command, action in named:
        assert command in commands, (runbook_id, command)
        if commands[command]:
            assert action in commands[command], (runbook_id, command, action)


@pytest.mark.parametrize("runbook_id", IDS)
def test_runbooks_carry_no_advisory_or_causal_words(runbook_id):
    banned = re.compile(r"\b(recommend|should|suggest|likely|predict|best|because|consider|worst|better|top)\b", re.I)
    assert not banned.search(runbook_text(runbook_id) or "")


def test_every_critical_alert_type_names_a_runbook_that_exists():
    critical = [t for t in ALERT_TYPES.values() if t.severity is Severity.CRITICAL]
    assert critical
    for alert_type in critical:
        assert alert_type.runbook in IDS, alert_type
        assert alert_type.name in (runbook_text(alert_type.runbook) or ""), alert_type


def test_every_runbook_an_alert_names_exists():
    for alert_type in ALERT_TYPES.values():
        assert not alert_type.runbook or runbook_text(alert_type.runbook) is not None, alert_type


def test_the_runbooks_ship_in_the_wheel():
    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert "monitor/runbooks/*.md" in project["tool"]["setuptools"]["package-data"]["seam"]


def test_seam_runbook_prints_one(capsys):
    assert main(["runbook", "RB-004"]) == 0
    assert capsys.readouterr().out.startswith("# RB-004 — Emergency halt")


def test_seam_runbook_lists_them_and_refuses_an_unknown_one(capsys):
    assert main(["runbook"]) == 0
    assert capsys.readouterr().out.count("RB-00") == 8
    assert main(["runbook", "RB-099"]) == 2
    assert main(["runbook", "../../etc/passwd"]) == 2
    assert "no runbook" in capsys.readouterr().err
