from tests.conftest import seam_cli


def test_the_demo_runs_end_to_end_and_leaves_an_intact_chain(tmp_path):
    root = tmp_path / "demo"
    result = seam_cli("demo", "--seam", str(root), timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Bead chain: intact" in result.stdout
    for status in ("ok", "rejected", "conflict"):
        assert f" {status} " in result.stdout
    assert (root / "responses" / "demo-halt-1.md").exists()
    assert seam_cli("beads", "verify", "--seam", str(root)).returncode == 0
