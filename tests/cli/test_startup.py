"""`seam` imports only what the command it runs needs: `--version` nothing but the parser, a command its own
module (and what that command uses), never another command's, nor numpy, DuckDB or the MCP SDK unless it uses them.
Every child process a test or an agent starts pays for each import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, make_seam

# runs `seam ARGS...` the way `python -m seam` does, then prints which of the watched modules were imported
PROBE = """
import json, sys
from seam.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("numpy", "duckdb", "mcp", "seam.config", "seam.runtime")
print(json.dumps(sorted(m for m in sys.modules if m.startswith("seam.cli.") or m in heavy)))
"""


def imported_by(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=REPO, timeout=60, check=True
    )
    imported: list[str] = json.loads(done.stdout.splitlines()[-1])
    return imported


def test_version_imports_no_command_module() -> None:
    assert imported_by("--version") == []


def test_a_command_imports_its_own_module_and_nothing_heavy_it_does_not_use(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    assert imported_by("config", "show", "--seam", str(paths.root)) == [
        "seam.cli.common",
        "seam.cli.config",
        "seam.config",
    ]
