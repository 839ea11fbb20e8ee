"""Where SQL lives: SQLite statements on the seam's store only in seam/store/, DuckDB (dataset files in the data
folder, never seam.db) only in seam/research/bars.py."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

SEAM = Path(__file__).resolve().parents[1] / "seam"


@functools.cache  # parsed once for the tests of this module (the trees are only read)
def _modules() -> tuple[tuple[str, ast.Module], ...]:
    return tuple(
        (p.relative_to(SEAM.parent).as_posix(), ast.parse(p.read_text(encoding="utf-8"))) for p in SEAM.rglob("*.py")
    )


def test_duckdb_is_imported_only_by_the_bars_module() -> None:
    importers = set()
    for rel, tree in _modules():
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "duckdb" for name in names):
                importers.add(rel)
    assert importers == {"seam/research/bars.py"}


def test_no_sqlite_connection_is_opened_outside_the_store() -> None:
    openers = set()
    for rel, tree in _modules():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "connect"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "sqlite3"
            ):
                openers.add(rel)
    assert openers and all(rel.startswith("seam/store/") for rel in openers), openers
