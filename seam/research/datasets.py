"""Research datasets: the data folder, its bar files, their row counts and sha256, and the names that reach them.

A dataset is a CSV or Parquet file of bars (ts, open, high, low, close, volume, and any other columns) inside
the configured data folder. Every name an intent gives is resolved here and only here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seam.errors import IntentError

__all__ = [
    "BAR_COLUMNS",
    "DATA_SUFFIXES",
    "DataFolder",
    "DatasetInfo",
    "data_folder",
    "file_sha256",
    "read_sidecar",
    "sidecar_path",
]

BAR_COLUMNS = ("ts", "open", "high", "low", "close", "volume")
DATA_SUFFIXES = (".csv", ".parquet")
SIDECAR_SUFFIX = ".meta.json"


@dataclass(frozen=True)
class DatasetInfo:
    name: str  # relative to the data folder, with '/' between folders
    path: Path
    format: str  # csv | parquet
    rows: int
    sha256: str
    size: int
    meta: dict[str, Any] | None  # the generator's sidecar, when there is one


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> dict[str, Any] | None:
    side = sidecar_path(path)
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def data_folder(root: Path, configured: Path) -> DataFolder:
    """The data folder of a seam: `research.data_folder`, relative to the seam root unless absolute."""
    return DataFolder(configured if configured.is_absolute() else root / configured)


class DataFolder:
    def __init__(self, path: Path) -> None:
        self.path = path

    def names(self) -> list[str]:
        """Every dataset file in the folder (and its subfolders), sorted by name; symlinks that leave it skipped."""
        if not self.path.is_dir():
            return []
        base = self.path.resolve()
        found = []
        for dirpath, _dirs, files in os.walk(base):
            for file in files:
                candidate = Path(dirpath) / file
                if candidate.suffix.lower() in DATA_SUFFIXES and _inside(candidate.resolve(), base):
                    found.append(candidate.relative_to(base).as_posix())
        return sorted(found)

    def resolve(self, name: str, *, field: str = "payload.dataset") -> Path:
        """The file a dataset name denotes, or an IntentError naming the field and listing what exists.

        The name must stay inside the folder: no absolute path, no `..` or `.` segment, no symlink leading out.
        A name without a suffix finds `<name>.csv` or `<name>.parquet` when exactly one exists."""
        # INV: no dataset outside the data folder is ever opened (names, `..`, absolute paths, symlinks)
        parts = name.split("/")
        if name.startswith("/") or "\\" in name or any(part in ("", ".", "..") for part in parts):
            raise IntentError.single(field, f"{name!r} is not a name inside the data folder (no '..', '.', '//', '/')")
        base = self.path.resolve()
        for candidate in self._candidates(name):
            target = candidate.resolve()
            if not _inside(target, base):
                raise IntentError.single(field, f"{name!r} leads outside the data folder")
            if target.is_file():
                return target
        raise IntentError.single(field, f"no dataset {name!r} in the data folder; datasets: {self._listing()}")

    def _candidates(self, name: str) -> list[Path]:
        direct = self.path / name
        if direct.suffix.lower() in DATA_SUFFIXES:
            return [direct]
        existing = [self.path / f"{name}{suffix}" for suffix in DATA_SUFFIXES]
        return [p for p in existing if p.exists()] or [direct]

    def _listing(self) -> str:
        names = self.names()
        return ", ".join(names) if names else f"none (the folder {self.path} holds no .csv or .parquet file)"

    def info(self, name: str) -> DatasetInfo:
        from seam.research.bars import count_rows

        path = self.resolve(name)
        fmt = "parquet" if path.suffix.lower() == ".parquet" else "csv"
        return DatasetInfo(
            name=path.relative_to(self.path.resolve()).as_posix(),
            path=path,
            format=fmt,
            rows=count_rows(path),
            sha256=file_sha256(path),
            size=path.stat().st_size,
            meta=read_sidecar(path),
        )

    def list(self) -> list[DatasetInfo]:
        return [self.info(name) for name in self.names()]


def _inside(target: Path, base: Path) -> bool:
    return target == base or base in target.parents
