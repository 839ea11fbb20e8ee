"""Faults: failpoints where a test makes the daemon hang, crash or meet a storage error, and what counts as a
storage fault (a full or failing disk) that the daemon waits out and retries instead of answering.

Set SEAM_FAILPOINTS="after_claim=hang,after_commit=crash" in the daemon's environment. Unset (always,
outside tests) a failpoint costs a lookup in the environment and one in a dictionary (about 1.4 µs).
`hang` blocks the calling thread so a test can `kill -9` the process at that exact step; `crash` ends the process
at once, like a power cut of the process (os._exit: no cleanup, no flush). `enospc` and `eio` raise that OSError
there, every time or, as `enospc*3`, the first three times: a disk that is full, then freed.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
import threading

__all__ = ["STORAGE_ERRNOS", "describe_fault", "failpoint", "is_storage_fault"]


def _parse(raw: str) -> dict[str, str]:
    points: dict[str, str] = {}
    for item in raw.split(","):
        name, _, action = item.strip().partition("=")
        if name:
            points[name] = action or "crash"
    return points


_PARSED: tuple[str, dict[str, str]] = ("", {})  # SEAM_FAILPOINTS as last read, and what it names


def _points() -> dict[str, str]:
    """The failpoints the environment names now: read at each call, not at import, so a process that imported seam
    before its environment was set (a forked child) sees its own; parsed again only when the value changes."""
    global _PARSED
    raw = os.environ.get("SEAM_FAILPOINTS", "")
    if raw != _PARSED[0]:
        _PARSED = (raw, _parse(raw))
    return _PARSED[1]


_RAISED: dict[str, int] = {}
_RAISED_LOCK = threading.Lock()
_ERRNOS = {"enospc": errno.ENOSPC, "eio": errno.EIO, "edquot": errno.EDQUOT}


def failpoint(name: str) -> None:
    action = _points().get(name)
    if action is None:
        return
    kind, _, times = action.partition("*")
    if kind in _ERRNOS:
        with _RAISED_LOCK:
            raised = _RAISED.get(name, 0)
            if times and raised >= int(times):
                return
            _RAISED[name] = raised + 1
        code = _ERRNOS[kind]
        raise OSError(code, f"{os.strerror(code)} (failpoint {name})")
    sys.stderr.write(f"seam: failpoint {name} reached ({action})\n")
    sys.stderr.flush()
    if action == "hang":
        threading.Event().wait()
    os._exit(86)


# Errors of the storage under the seam, not of one file: they clear when space is freed or the disk recovers.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})
_SQLITE_STORAGE_CODES = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY})
_SQLITE_STORAGE_WORDS = ("database or disk is full", "disk i/o error", "attempt to write a readonly database")


def is_storage_fault(exc: BaseException) -> bool:
    """True for an error meaning the disk is full or failing (ENOSPC, EDQUOT, EIO, EROFS; SQLite's FULL,
    IOERR and READONLY): the step that met it is retried later, never answered as the intent's fault."""
    if isinstance(exc, OSError):
        return exc.errno in STORAGE_ERRNOS
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            return (code & 0xFF) in _SQLITE_STORAGE_CODES  # extended codes keep the primary in the low byte
        return any(words in str(exc).lower() for words in _SQLITE_STORAGE_WORDS)
    cause = exc.__cause__
    return cause is not None and is_storage_fault(cause)


def describe_fault(exc: BaseException) -> str:
    """One line for the log: `No space left on device` rather than a traceback."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
