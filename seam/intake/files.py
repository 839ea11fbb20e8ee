"""Intake, the files: which names are intents, when a file is complete, claiming by rename exactly once.

A file is judged by its inode before it is opened, and refused unopened when it is a symlink, a hard
link or one of the seam's own files (see `open_intent`: closing any descriptor of a file drops this
process's POSIX locks on it, SQLite's on seam.db among them).

A file is complete when no process has it open for writing. On Linux that is asked directly: a
read lease (F_SETLEASE, F_RDLCK) is refused while any writer holds the file open, so a file that an
editor or the MCP filesystem server is still writing in place is left until it is closed. Where
leases are unavailable (other systems, network filesystems, files of another user) a file is
complete once its size and mtime have not changed for `settle_seconds`.

Claiming is a rename into `processing/<owner>/`, a folder per running daemon holding a lock file
for as long as that daemon lives; a rename succeeds for exactly one claimant. Files in the folder
of a daemon that died are adopted by a live one and finished. A name the claim cannot keep (too long
for its prefix, or not UTF-8, which no response could show) is claimed under a shortened UTF-8 one
whose prefix says why, and the pipeline answers it rejected; a claim that fails for any other reason
is logged once and tried again only at the rescan, never in a loop. A claim that fails because the disk
is full or failing (see `seam.faults.is_storage_fault`) raises instead: the scheduler tries it again on a
timer with backoff, as the daemon does every step of an intent that meets such a fault.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import json
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

import yaml

from seam.faults import describe_fault, failpoint, is_storage_fault
from seam.paths import SeamPaths, write_atomic

__all__ = [
    "INTENT_SUFFIXES",
    "MAX_NAME_BYTES",
    "REFUSED",
    "Claimant",
    "NotOpened",
    "OwnFiles",
    "Readiness",
    "count_candidates",
    "count_processing",
    "file_away",
    "is_candidate",
    "live_owners",
    "looks_well_formed",
    "name_refusal",
    "open_intent",
    "original_name",
    "peek",
]

logger = logging.getLogger(__name__)

INTENT_SUFFIXES = (".yaml", ".yml", ".json")
LOCK_NAME = ".owner.lock"
_IGNORED = re.compile(r"(^\.|~$|\.tmp$|\.swp$|\.swx$|\.partial$|\.crdownload$|^#.*#$)")
_PEEK_BYTES = 4096
# The longest incoming name kept whole: a claim adds a 7-byte sequence prefix and filing a second file
# of one name adds a 23-byte stamp, and both must stay within the 255 bytes a name may have (ext4).
MAX_NAME_BYTES = 200
_SHORT_STEM_BYTES = 100
_CLAIMED = re.compile(r"(\d+)(?:-(long\d+|notutf8))?\.(.+)", re.DOTALL)  # 000042.x.yaml, 000042-long250.aaa.yaml


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
            total += sum(1 for e in _scandir(entry.path) if e.name != LOCK_NAME)
        elif entry.is_file(follow_symlinks=False):
            total += 1
    return total


def _scandir(folder: str | Path) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(folder))
    except FileNotFoundError:
        return []


_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def looks_well_formed(head: bytes) -> bool:
    """Whether a file's first bytes look like an intent: a mapping with `seam: 1`, an id, a kind and a
    payload. Only for the order files are taken in (garbage waits behind intents): never a verdict, which
    is the pipeline's full validation. A head that fills the whole peek is given the benefit of the doubt."""
    if b"seam" not in head or b"kind" not in head:
        return False
    if len(head) >= _PEEK_BYTES:
        return True
    try:
        text = head.decode("utf-8")
        document = json.loads(text) if text.lstrip().startswith("{") else _safe_parse(text)
    except Exception:  # any parse failure (or a hostile nesting) means: not well-formed
        return False
    return (
        isinstance(document, dict)
        and document.get("seam") == 1
        and isinstance(document.get("id"), str)
        and isinstance(document.get("kind"), str)
        and "payload" in document
    )


def _safe_parse(text: str) -> object:
    loader = _SAFE_LOADER(text)  # the safe loader (libyaml's when present): plain data only
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


class Readiness(Enum):
    READY = "ready"  # complete: claim it
    WRITING = "writing"  # a writer still has it open, or it is still changing
    SYMLINK = "symlink"  # refused with a response, never followed
    HARD_LINK = "hard_link"  # refused with a response, never opened
    OWN_FILE = "own_file"  # the seam's store, configuration or secrets: refused with a response, never opened
    NOT_A_FILE = "not_a_file"  # directory, FIFO, socket, device: left alone
    GONE = "gone"


REFUSED = frozenset({Readiness.SYMLINK, Readiness.HARD_LINK, Readiness.OWN_FILE})  # claimed, answered rejected


class NotOpened(Exception):
    """`open_intent` refused the file; `reason` is the plain words for the rejection."""

    def __init__(self, readiness: Readiness, reason: str) -> None:
        super().__init__(reason)
        self.readiness = readiness
        self.reason = reason


class OwnFiles:
    """The seam's own files, known by inode and not by name: a hard link is another name for the inode."""

    def __init__(self, paths: SeamPaths) -> None:
        db = paths.db
        self._files = (
            (db, "store"),
            (db.with_name(f"{db.name}-wal"), "store"),
            (db.with_name(f"{db.name}-shm"), "store"),
            (paths.config_file, "configuration"),
            (paths.env_file, "secrets"),
        )

    def which(self, info: os.stat_result) -> str | None:
        """`store (seam.db)` when `info` is one of them, else None."""
        for path, what in self._files:
            try:
                own = os.stat(path)
            except OSError:
                continue
            if (own.st_dev, own.st_ino) == (info.st_dev, info.st_ino):
                return f"{what} ({path.name})"
        return None


# O_PATH names an inode without opening it (its close drops no lock); /proc/self/fd opens that inode.
_REOPEN = hasattr(os, "O_PATH") and os.path.isdir("/proc/self/fd")


def open_intent(path: Path, own: OwnFiles) -> tuple[int, os.stat_result]:
    """A descriptor for reading the intent file at `path`, and its stat; NotOpened when it is refused.

    Closing any descriptor of a file drops every POSIX lock this process holds on it: opening seam.db
    through a hard link would silently unlock SQLite, and another reader would then delete the WAL
    under it. So the file is judged by its inode first. FileNotFoundError when the file is gone.
    """
    return _open_judged(path, own, os.O_RDONLY | os.O_NONBLOCK)


def _open_judged(path: Path, own: OwnFiles | None, flags: int) -> tuple[int, os.stat_result]:
    """On Linux the judgement is made on an O_PATH descriptor and the file opened through it, so a
    name swapped in between cannot change what is opened."""
    if not _REOPEN:
        return _open_after_lstat(path, own, flags)
    handle = os.open(path, os.O_PATH | os.O_NOFOLLOW)
    try:
        info = os.fstat(handle)
        _judge(info, own)
        return os.open(f"/proc/self/fd/{handle}", flags), info
    finally:
        os.close(handle)


def _open_after_lstat(path: Path, own: OwnFiles | None, flags: int) -> tuple[int, os.stat_result]:
    """Without O_PATH: judged by lstat, then opened not following a symlink (a swap in between is not seen)."""
    _judge(os.lstat(path), own)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotOpened(Readiness.SYMLINK, _SYMLINK_REFUSED) from exc
        raise
    try:
        info = os.fstat(fd)
        _judge(info, own)
    except NotOpened:
        os.close(fd)
        raise
    return fd, info


_SYMLINK_REFUSED = "symbolic links are refused; write the intent file itself into incoming/"


def _judge(info: os.stat_result, own: OwnFiles | None) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise NotOpened(Readiness.SYMLINK, _SYMLINK_REFUSED)
    if not stat.S_ISREG(info.st_mode):
        raise NotOpened(Readiness.NOT_A_FILE, "not a regular file")
    if info.st_nlink > 1:  # one of the seam's own files in intents/ is a second name for it, so it has two
        what = own.which(info) if own is not None else None
        if what is not None:
            raise NotOpened(Readiness.OWN_FILE, f"this is the seam's own {what}; it was not opened")
        raise NotOpened(
            Readiness.HARD_LINK,
            f"this is a hard link to another file (it has {info.st_nlink} names); it was not opened: "
            "write the intent file itself into incoming/",
        )


def peek(path: Path, own: OwnFiles) -> bytes:
    """The first bytes of an intent file, for the priority lane; none when it is refused or unreadable."""
    try:
        fd, _ = open_intent(path, own)
    except (OSError, NotOpened):
        return b""
    try:
        return os.read(fd, _PEEK_BYTES)
    finally:
        os.close(fd)


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float


class ReadinessChecker:
    """Decides whether a file in incoming/ is complete (see the module docstring)."""

    def __init__(self, settle_seconds: float, own: OwnFiles, clock: Callable[[], float] = time.monotonic) -> None:
        self.settle_seconds = settle_seconds
        self._own = own
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        self._leases = True

    def check(self, path: Path) -> tuple[Readiness, bytes]:
        """(readiness, the first bytes of the file when READY — for the priority peek)."""
        try:
            fd, info = open_intent(path, self._own)
        except FileNotFoundError:
            self._seen.pop(path.name, None)
            return Readiness.GONE, b""
        except NotOpened as refused:
            return refused.readiness, b""
        try:
            writing = self._writer_open(fd)
            if writing is None:
                writing = not self._stable(path.name, info)
            if writing:
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


def _open_lock(lock_path: Path) -> int:
    """An owner lock file opened for flock. Anything but a plain file of one name is NotOpened: a lock
    name planted as a link to seam.db would otherwise be opened, and its close drop SQLite's locks."""
    return _open_judged(lock_path, None, os.O_RDWR)[0]


def _lock_is_free(lock_path: Path) -> bool:
    """True when no live process holds the owner lock (its daemon is gone)."""
    try:
        fd = _open_lock(lock_path)
    except (FileNotFoundError, NotOpened):
        return True  # no lock, or one no daemon made: nobody holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops a lock we may have taken
    return True


def live_owners(processing: Path, *, alive: str | None = None) -> list[str]:
    """The owners of processing/'s folders whose daemons run (their lock is held); `alive`, the caller's own, is
    known to run and not tested."""
    return sorted(
        entry.name
        for entry in _scandir(processing)
        if entry.is_dir(follow_symlinks=False)
        and not entry.name.startswith(".")
        and (entry.name == alive or not _lock_is_free(Path(entry.path) / LOCK_NAME))
    )


def original_name(claimed: Path) -> str:
    """`000042.eurusd.yaml` → `eurusd.yaml` (claims carry a sequence prefix to stay unique)."""
    match = _CLAIMED.fullmatch(claimed.name)
    return match.group(3) if match else claimed.name


def name_refusal(claimed: Path) -> str | None:
    """Why the claim could not keep the file's name (`000042-long250.…`, `000042-notutf8.…`), in plain
    words for the rejection; None when it kept it."""
    why = _name_problem_of(claimed)
    if why is None:
        return None
    if why == "notutf8":
        return "the file name is not UTF-8 text: write the intent again under a UTF-8 name"
    return (
        f"the file name is {why.removeprefix('long')} bytes; seam accepts names of at most {MAX_NAME_BYTES} "
        "bytes: write the intent again under a shorter name"
    )


def _name_problem_of(claimed: Path) -> str | None:
    match = _CLAIMED.fullmatch(claimed.name)
    return match.group(2) if match else None


def _name_problem(name: str) -> str | None:
    raw = os.fsencode(name)
    if len(raw) > MAX_NAME_BYTES:
        return f"long{len(raw)}"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "notutf8"
    return None


def _shortened(name: str) -> str:
    """A name's first bytes as UTF-8 text (never half a character) and its suffix."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or len(suffix) > 8:
        stem, dot, suffix = name, "", ""
    head = os.fsencode(stem)[:_SHORT_STEM_BYTES].decode("utf-8", "ignore").strip(". ") or "intent"
    return f"{head}{dot}{suffix}"


class Claimant:
    """This daemon's folder in processing/, its lock, and the claims it makes."""

    def __init__(self, processing: Path, owner: str | None = None) -> None:
        self.processing = processing
        host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32] or "host"
        self.owner = owner or f"{host}-{os.getpid()}-{os.urandom(3).hex()}"
        self.folder = processing / self.owner
        self._filed = (processing.parent / "processed", processing.parent / "failed")  # the layout of seam/paths.py
        self._seq = itertools.count(1)
        self._lock_fd: int | None = None
        self._guard = threading.Lock()
        self.unclaimable: set[str] = set()  # names whose claim failed: the scheduler retries them only at its rescan
        # claimed files adopted from a dead daemon's folder → that daemon's owner name, until they are filed:
        # a ledger answer that daemon committed for the same file is this file's answer (see the pipeline)
        self.adopted_from: dict[Path, str] = {}

    def open(self) -> None:
        """Create the folder with its lock already held, then publish it under the owner's name."""
        self.processing.mkdir(parents=True, exist_ok=True)
        staging = self.processing / f".starting-{self.owner}"
        staging.mkdir()
        fd = os.open(staging / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
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

    def _target(self, name: str, problem: str | None = None) -> Path:
        """A sequence number (claims stay unique) and the name; a name it cannot keep is shortened, and
        the prefix says why, for the rejection."""
        with self._guard:
            seq = next(self._seq)
        problem = problem or _name_problem(name)
        if problem is None:
            return self.folder / f"{seq:06d}.{name}"
        return self.folder / f"{seq:06d}-{problem}.{_shortened(name)}"

    def claim(self, path: Path) -> Path | None:
        """Rename an incoming file into this daemon's folder; None when another claimant won or the rename failed."""
        target = self._target(path.name)
        if not self._rename(path, target):
            return None
        refusal = name_refusal(target)
        if refusal is not None:
            logger.warning(
                "claimed %s/%r as %s, to be answered rejected: %s", path.parent.name, path.name, target.name, refusal
            )
        return target

    def claim_new(self, name: str, data: bytes, *, tmp_dir: Path) -> Path:
        """An intent written by this very process, put straight into this daemon's folder as claimed (written whole,
        then renamed in): it never passes through incoming/, so no watch or other daemon sees it. Not fsync'd: its
        writer waits for the answer, which is durable when its ledger row commits; a crash before that leaves the
        file (if the disk kept it) to be adopted and answered at the next start, as any claimed file."""
        target = self._target(name)
        write_atomic(target, data, tmp_dir=tmp_dir, durable=False)
        return target

    def hand_back(self, claimed: Path) -> Path | None:
        """Put a claimed file back into incoming/, unanswered (a standby claimed an intent only the broker's
        owner handles): under its original name, or, taken meanwhile, a marked one (the intent carries its id).
        None when no name is free: it stays claimed."""
        incoming = self.processing.parent / "incoming"
        name = original_name(claimed)
        for n in range(100):
            target = incoming / (name if n == 0 else f"handed-back-{n}.{name}")
            if not target.exists():
                os.rename(claimed, target)
                return target
        return None

    def _rename(self, path: Path, target: Path) -> bool:
        """False when another claimant won (the file is gone) or the rename failed: a failure is logged
        once per name, and the name is left where it is until the next rescan, never retried in a loop."""
        try:
            failpoint("claim_rename")
            os.rename(path, target)
        except FileNotFoundError:
            return False
        except OSError as exc:
            if is_storage_fault(exc):
                raise  # a full or failing disk: the caller retries on a timer, never the once-logged refusal
            with self._guard:
                first = path.name not in self.unclaimable
                self.unclaimable.add(path.name)
            if first:
                logger.warning(
                    "cannot claim %s/%r (%s); it stays there and is tried again at each rescan",
                    path.parent.name,
                    path.name,
                    exc.strerror or exc,
                )
            return False
        self.unclaimable.discard(path.name)
        return True

    def adopt_orphans(self) -> list[Path]:
        """Take over the claimed files of daemons that died (and stray files in processing/)."""
        adopted: list[Path] = []
        for entry in sorted(_scandir(self.processing), key=lambda e: e.name):
            path = Path(entry.path)
            if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                try:
                    claimed = self.claim(path)
                except OSError as exc:  # a storage fault: the next rescan adopts it
                    logger.warning(
                        "cannot adopt %s (%s); tried again at the next rescan", path.name, describe_fault(exc)
                    )
                    continue
                if claimed:
                    adopted.append(claimed)
            elif entry.is_dir(follow_symlinks=False) and path != self.folder:
                adopted.extend(self._adopt_folder(path))
        return adopted

    def _adopt_folder(self, folder: Path) -> list[Path]:
        lock_path = folder / LOCK_NAME
        try:
            fd = _open_lock(lock_path)
        except FileNotFoundError:
            if folder.name.startswith(".starting-") and time.time() - folder.stat().st_mtime > 60:
                _remove_quietly(folder)
            return []
        except NotOpened:
            return []  # no daemon made this lock: the folder is not one to adopt
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return []  # its daemon is alive
            items = [i for i in sorted(folder.iterdir()) if i.name != LOCK_NAME and not self._finish_filing(i)]
            adopted = []
            for item in items:
                try:
                    claimed = self.claim_adopted(item)
                except OSError as exc:  # a storage fault (claim_adopted raises no other): the next rescan adopts it
                    logger.warning(
                        "cannot adopt %s from %s (%s); tried again at the next rescan",
                        item.name,
                        folder.name,
                        describe_fault(exc),
                    )
                    break
                if claimed:
                    self.adopted_from[claimed] = folder.name
                    adopted.append(claimed)
            if adopted:
                logger.warning("adopted %d intent(s) from %s, whose daemon is gone", len(adopted), folder.name)
            if not any(os.path.lexists(item) for item in items):  # a file left behind is adopted at the next rescan
                lock_path.unlink(missing_ok=True)
                _remove_quietly(folder)
            return adopted
        finally:
            os.close(fd)

    def _finish_filing(self, item: Path) -> bool:
        """A daemon that died between file_away's link and unlink left the claimed name beside the filed
        one, both naming one inode: remove the claimed name, as file_away would have (adopted, it
        would be refused as a hard link). True when it was such a file."""
        try:
            info = os.lstat(item)
        except FileNotFoundError:
            return True
        if not stat.S_ISREG(info.st_mode) or info.st_nlink < 2:
            return False
        for folder in self._filed:
            try:
                filed = os.lstat(folder / original_name(item))
            except (FileNotFoundError, NotADirectoryError):
                continue
            if (filed.st_dev, filed.st_ino) == (info.st_dev, info.st_ino):
                item.unlink()
                return True
        return False

    def claim_adopted(self, item: Path) -> Path | None:
        target = self._target(original_name(item), _name_problem_of(item))
        return target if self._rename(item, target) else None


def _remove_quietly(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _same_file(a: Path, b: Path) -> bool:
    try:
        one, other = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    return (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino)


def file_away(claimed: Path, folder: Path) -> Path:
    """Move a finished intent into processed/ or failed/ under its original name, never overwriting."""
    name = original_name(claimed)
    target = folder / name
    try:
        os.link(claimed, target, follow_symlinks=False)
        failpoint("filing_linked")  # a crash here leaves two names: Claimant._finish_filing completes it
    except FileExistsError:
        if _same_file(claimed, target):  # an earlier try linked it and could not unlink the claimed name
            claimed.unlink()
            return target
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
