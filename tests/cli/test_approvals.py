"""`seam approve` builds its intent as data: a proposal id cannot smuggle YAML or reach outside responses/."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_seam, run_on_a_terminal, seam_cli


def test_a_proposal_id_holding_yaml_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "s")
    smuggled = "p-1, decision: approve}\nkind: halt\npayload: {reason: x"
    result = seam_cli("approve", smuggled, "--code", "123456", "--seam", str(paths.root))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "nothing was written" in result.stdout and "payload.proposal" in result.stdout
    assert list(paths.incoming.iterdir()) == [] and list(paths.tmp.iterdir()) == []


def test_at_a_terminal_a_proposal_path_is_no_proposal(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "s")
    (tmp_path / "s" / "secret.md").write_text("---\nid: x\n---\nsecret words\n")
    code, screen = run_on_a_terminal(["approve", "../secret", "--seam", str(paths.root)], b"y\n")
    assert code == 1, screen
    assert "no pending proposal ../secret" in screen
    assert "secret words" not in screen and "Traceback" not in screen
