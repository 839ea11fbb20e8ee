"""`seam submit` through the client: what it says when no daemon answers."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_seam, seam_cli


def test_submit_timing_out_says_the_intent_is_kept_and_that_no_daemon_runs(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "idle")
    intent = tmp_path / "s.yaml"
    intent.write_text("seam: 1\nid: alone\nkind: status\npayload: {}\n")
    result = seam_cli("submit", str(intent), "--seam", str(paths.root), "--timeout", "0.3")
    assert result.returncode == 3
    [line] = result.stderr.strip().splitlines()
    assert "no response for alone within 0.3 s" in line and "kept in the seam (intents/incoming/alone-" in line
    assert "no daemon is running (start `seam watch`)" in line


def test_submit_no_wait_writes_the_intent_and_names_it(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "idle")
    intent = tmp_path / "s.yaml"
    intent.write_text("seam: 1\nid: fire-and-forget\nkind: status\npayload: {}\n")
    result = seam_cli("submit", str(intent), "--seam", str(paths.root), "--no-wait")
    assert result.returncode == 0, result.stderr
    [written] = paths.incoming.glob("fire-and-forget-*.yaml")
    assert f"submitted fire-and-forget as intents/incoming/{written.name}" in result.stdout
