"""Intake, the files: which names are intents, when a file is complete, claiming by rename exactly once.

A file is complete when no process has it open for writing. On Linux that is asked directly: a
read lease (F_SETLEASE, F_RDLCK) is refused while any writer holds the file open, so a file that an
editor or the MCP filesystem server is still writing in place is left until it is closed. Where
leases are unavailable (other systems, network filesystems, files of another user) a file is
complete once its size and mtime have not changed for `settle_seconds`.

Claiming is a rename into `processing/<owner>/`, a folder per running daemon holding a lock file
for as long as that daemon lives; a rename succeeds for exactly one claimant. Files in the folder
of a daemon that died are adopted by a live one and finished.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import logging
import os
import re
import socket
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

__all__ = [
    "INTENT_SUFFIXES",
    "Claimant",
    "Readiness",
    "count_candidates",
    "count_processing",
    "file_away",
    "is_candidate",
    "live_owners",
    "original_name",
]

logger = logging.getLogger(__name__)

INTENT_SUFFIXES = (".yaml", ".yml", ".json")
LOCK_NAME = ".owner.lock"
_IGNORED = re.compile(r"(^\.|~$|\.tmp$|\.swp$|\.swx$|\.partial$|\.crdownload$|^#.*#$)")
_PEEK_BYTES = 4096


def is_candidate(name: str) -> bool:
    """Intent files by name: not hidden, temp, editor or sync files; a YAML or JSON suffix."""
    return not _IGNORED.search(name) and name.lower().endswith(INTENT_SUFFIXES)


def count_candidates(folder: Path) -> int:
    try:
        return sum(1 for entry in os.scandir(folder) if is_candidate(entry.name))
    except FileNotFoundError:
        return 0


def count_processing(processing: Path) -> int:
    total = 0
    for entry in _scandir(processing):
        if entry.is_dir(follow_symlinks=False):
            total += sum(1 for e in _scandir(Path(entry.path)) if e.name != LOCK_NAME)
        elif entry.is_file(follow_symlinks=False):
            total += 1
    return total


def _scandir(folder: Path) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(folder))
    except FileNotFoundError:
        return []


class Readiness(Enum):
    READY = "ready"  # complete: claim it
    WRITING = "writing"  # a writer still has it open, or it is still changing
    SYMLINK = "symlink"  # refused with a response, never followed
    NOT_A_FILE = "not_a_file"  # directory, FIFO, socket, device: left alone
    GONE = "gone"


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float


class ReadinessChecker:
    """Decides whether a file in incoming/ is complete (see the module docstring)."""

    def __init__(self, settle_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.settle_seconds = settle_seconds
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        self._leases = True

    def check(self, path: Path) -> tuple[Readiness, bytes]:
        """(readiness, the first bytes of the file when READY — for the priority peek)."""
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            self._seen.pop(path.name, None)
            return Readiness.GONE, b""
        if stat.S_ISLNK(info.st_mode):
            return Readiness.SYMLINK, b""
        if not stat.S_ISREG(info.st_mode):
            return Readiness.NOT_A_FILE, b""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return Readiness.GONE, b""
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return Readiness.SYMLINK, b""
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return Readiness.NOT_A_FILE, b""
            verdict = self._writer_open(fd)
            if verdict is None:
                verdict = not self._stable(path.name, info)
            if verdict:
                return Readiness.WRITING, b""
            self._seen.pop(path.name, None)
            return Readiness.READY, os.read(fd, _PEEK_BYTES)
        finally:
            os.close(fd)

    def _writer_open(self, fd: int) -> bool | None:
        """True/False when the kernel can tell whether a writer holds the file open; None when it cannot."""
        if not self._leases:
            return None
        try:
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EBUSY):
                return True
            if exc.errno in (errno.EINVAL, errno.ENOLCK, errno.ENOTSUP, errno.ENOSYS):
                self._leases = False  # the filesystem has no leases: use the settle window from now on
            return None  # EACCES (another user's file) and the rest: judge by stability
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False

    def _stable(self, name: str, info: os.stat_result) -> bool:
        now = self._clock()
        seen = self._seen.get(name)
        if seen is None or seen.size != info.st_size or seen.mtime_ns != info.st_mtime_ns:
            self._seen[name] = _Seen(info.st_size, info.st_mtime_ns, now)
            return self.settle_seconds == 0
        return now - seen.since >= self.settle_seconds

    def forget(self, name: str) -> None:
        self._seen.pop(name, None)


# ---- owner folders and claims ------------------------------------------------------------------


def _lock_is_free(lock_path: Path) -> bool:
    """True when no live process holds the owner lock (its daemon is gone)."""
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops a lock we may have taken
    return True


def live_owners(processing: Path) -> list[str]:
    return sorted(
        entry.name
        for entry in _scandir(processing)
        if entry.is_dir(follow_symlinks=False)
        and not entry.name.startswith(".")
        and not _lock_is_free(Path(entry.path) / LOCK_NAME)
    )


def original_name(claimed: Path) -> str:
    """`000042.eurusd.yaml` → `eurusd.yaml` (claims carry a sequence prefix to stay unique)."""
    prefix, sep, rest = claimed.name.partition(".")
    return rest if sep and prefix.isdigit() else claimed.name


class Claimant:
    """This daemon's folder in processing/, its lock, and the claims it makes."""

    def __init__(self, processing: Path, owner: str | None = None) -> None:
        self.processing = processing
        host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32] or "host"
        self.owner = owner or f"{host}-{os.getpid()}-{os.urandom(3).hex()}"
        self.folder = processing / self.owner
        self._seq = itertools.count(1)
        self._lock_fd: int | None = None
        self._guard = threading.Lock()

    def open(self) -> None:
        """Create the folder with its lock already held, then publish it under the owner's name."""
        self.processing.mkdir(parents=True, exist_ok=True)
        staging = self.processing / f".starting-{self.owner}"
        staging.mkdir()
        fd = os.open(staging / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(staging, self.folder)
        self._lock_fd = fd

    def close(self) -> None:
        if self._lock_fd is None:
            return
        leftovers = [p for p in self.folder.iterdir() if p.name != LOCK_NAME]
        if not leftovers:
            (self.folder / LOCK_NAME).unlink(missing_ok=True)
            self.folder.rmdir()
        os.close(self._lock_fd)
        self._lock_fd = None

    def is_alive(self, owner: str | None) -> bool:
        if owner is None:
            return False
        if owner == self.owner:
            return True
        return not _lock_is_free(self.processing / owner / LOCK_NAME)

    def _target(self, name: str) -> Path:
        with self._guard:
            return self.folder / f"{next(self._seq):06d}.{name}"

    def claim(self, path: Path) -> Path | None:
        """Rename an incoming file into this daemon's folder; None when another claimant won."""
        target = self._target(path.name)
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return None
        return target

    def adopt_orphans(self) -> list[Path]:
        """Take over the claimed files of daemons that died (and stray files in processing/)."""
        adopted: list[Path] = []
        for entry in sorted(_scandir(self.processing), key=lambda e: e.name):
            path = Path(entry.path)
            if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                claimed = self.claim(path)
                if claimed:
                    adopted.append(claimed)
            elif entry.is_dir(follow_symlinks=False) and path != self.folder:
                adopted.extend(self._adopt_folder(path))
        return adopted

    def _adopt_folder(self, folder: Path) -> list[Path]:
        lock_path = folder / LOCK_NAME
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except FileNotFoundError:
            if folder.name.startswith(".starting-") and time.time() - folder.stat().st_mtime > 60:
                _remove_quietly(folder)
            return []
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return []  # its daemon is alive
            adopted = []
            for item in sorted(folder.iterdir()):
                if item.name == LOCK_NAME:
                    continue
                claimed = self.claim_adopted(item)
                if claimed:
                    adopted.append(claimed)
            logger.warning("adopted %d intent(s) from %s, whose daemon is gone", len(adopted), folder.name)
            lock_path.unlink(missing_ok=True)
            _remove_quietly(folder)
            return adopted
        finally:
            os.close(fd)

    def claim_adopted(self, item: Path) -> Path | None:
        target = self._target(original_name(item))
        try:
            os.rename(item, target)
        except FileNotFoundError:
            return None
        return target


def _remove_quietly(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def file_away(claimed: Path, folder: Path) -> Path:
    """Move a finished intent into processed/ or failed/ under its original name, never overwriting."""
    name = original_name(claimed)
    target = folder / name
    try:
        os.link(claimed, target, follow_symlinks=False)
    except FileExistsError:
        stem, dot, suffix = name.rpartition(".")
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        target = folder / (f"{stem}.{stamp}-{os.urandom(3).hex()}.{suffix}" if dot else f"{name}.{stamp}")
        os.rename(claimed, target)
        return target
    except OSError:  # no hard links on this filesystem: a unique name makes rename safe
        target = folder / f"{claimed.name}.{os.urandom(3).hex()}"
        os.rename(claimed, target)
        return target
    claimed.unlink()
    return target
