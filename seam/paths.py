"""The seam's folder layout, and `seam init`, which creates it.

<root>/seam.yaml            configuration (commented)
<root>/seam.db              bead store and intent ledger (SQLite, WAL)
<root>/.env                 secrets (optional; never committed)
<root>/intents/tmp/         writers stage files here, then rename into incoming/
<root>/intents/incoming/    intake watches this folder
<root>/intents/priority/    a drop folder for halts, with a watch of its own (seam halt, the MCP halt tool, skills)
<root>/intents/processing/<daemon>/   claimed intents, one folder per running daemon
<root>/intents/processed/   intents answered ok / pending_approval
<root>/intents/failed/      intents answered rejected / failed / conflict
<root>/responses/<id>.md    one markdown response per intent id
<root>/flags/halt           a halt requested and not yet cleared (seam/haltfile.py)
"""

from __future__ import annotations

import ctypes.util
import functools
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SeamPaths", "fsync_dir", "libc_name", "write_atomic"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeamPaths:
    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike[str]) -> SeamPaths:
        return cls(Path(root).expanduser().resolve())

    @functools.cached_property
    def config_file(self) -> Path:
        return self.root / "seam.yaml"

    @functools.cached_property
    def env_file(self) -> Path:
        return self.root / ".env"

    @functools.cached_property
    def db(self) -> Path:
        return self.root / "seam.db"

    @functools.cached_property
    def intents(self) -> Path:
        return self.root / "intents"

    @functools.cached_property
    def tmp(self) -> Path:
        return self.intents / "tmp"

    @functools.cached_property
    def incoming(self) -> Path:
        return self.intents / "incoming"

    @functools.cached_property
    def priority(self) -> Path:
        return self.intents / "priority"

    @functools.cached_property
    def processing(self) -> Path:
        return self.intents / "processing"

    @functools.cached_property
    def processed(self) -> Path:
        return self.intents / "processed"

    @functools.cached_property
    def failed(self) -> Path:
        return self.intents / "failed"

    @functools.cached_property
    def responses(self) -> Path:
        return self.root / "responses"

    @functools.cached_property
    def flags(self) -> Path:
        return self.root / "flags"

    @functools.cached_property
    def halt_request(self) -> Path:
        return self.flags / "halt"

    def folders(self) -> list[Path]:
        return [self.tmp, self.incoming, self.priority, self.processing, self.processed, self.failed, self.responses]

    def is_initialised(self) -> bool:
        # intents/priority/ came later: a seam without it is still one (`protect` gives it the folder)
        return all(p.is_dir() for p in self.folders() if p != self.priority)

    def create_folders(self) -> None:
        for folder in (*self.folders(), self.flags):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def private_files(self) -> list[Path]:
        """What only the seam's owner may read: the store (and its WAL and shared memory), the
        configuration and the secrets."""
        db = self.db
        names = ("-wal", "-shm", ".id")
        return [db, *(db.with_name(db.name + suffix) for suffix in names), self.config_file, self.env_file]

    def protect(self) -> None:
        """The seam's folders 0700 and its private files 0600 (the store creates itself 0600). A file another
        user owns is left as it is, with a warning. A seam made before intents/priority/ existed gains it here."""
        try:
            self.priority.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            logger.warning("cannot create %s (%s); halts go through incoming/", self.priority, exc)
        for folder in (self.root, self.intents, *self.folders(), self.flags):
            _chmod(folder, 0o700)
        for path in self.private_files():
            _chmod(path, 0o600)


def _chmod(path: Path, mode: int) -> None:
    try:
        if stat.S_IMODE(os.lstat(path).st_mode) != mode and not path.is_symlink():
            os.chmod(path, mode)
    except FileNotFoundError:
        pass
    except PermissionError:
        logger.warning("cannot make %s private (mode %o): it belongs to another user", path, mode)


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, tmp_dir: Path | None = None, durable: bool = True) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never a part.

    The bytes go to a unique temporary file in `tmp_dir` (same filesystem), are fsynced, and the
    file is renamed over `path`.
    """
    folder = tmp_dir or path.parent
    tmp = folder / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@functools.cache
def libc_name() -> str | None:
    """The C library's name, looked up once a process (find_library runs `ldconfig -p` in a child each time)."""
    return ctypes.util.find_library("c")
