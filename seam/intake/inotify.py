"""Intake, the Linux fast path: raw inotify on one folder, read through ctypes (no dependency beyond libc).

watchdog's inotify observer builds several Python objects per event (its InotifyEvent, a FileSystemEvent, joined
paths) on a thread of its own; behind a burst of thousands of files that work competes with the halt lane for the
GIL. Here one read drains up to READ_BYTES of the kernel's queue, each event is a struct unpack and a name, and
the name goes straight to `hint`. The events are still only hints (see watch.py): a queue overflow
(IN_Q_OVERFLOW) loses names, and the intake's periodic rescan finds them.

Watched: a file renamed in (IN_MOVED_TO), created (IN_CREATE), or written and closed (IN_CLOSE_WRITE). Not
IN_MOVED_FROM: a claim renames out of the folder and is no news to the intake.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import select
import struct
import threading
from collections.abc import Callable
from pathlib import Path

from seam.paths import libc_name

__all__ = ["READ_BYTES", "InotifyWatch", "available"]

logger = logging.getLogger(__name__)

IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x08, 0x80, 0x100
IN_Q_OVERFLOW, IN_IGNORED, IN_DELETE_SELF = 0x4000, 0x8000, 0x400
IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000
MASK = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF
READ_BYTES = 1 << 20  # about 30,000 events with short names in one read
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name, NUL-padded


def _libc() -> ctypes.CDLL | None:
    name = libc_name()
    try:
        libc = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    return libc if hasattr(libc, "inotify_init1") else None


def available() -> bool:
    """This platform has inotify (Linux)."""
    return _libc() is not None


class InotifyWatch:
    """A watch on one folder whose events become `hint(name)` calls on a thread of its own. `start()` and `stop()`
    as watchdog's observers have them; `stop()` returns at once and the thread ends within one select."""

    def __init__(self, folder: Path, hint: Callable[[str | None], None]) -> None:
        libc = _libc()
        if libc is None:
            raise OSError(errno.ENOSYS, "inotify is not available on this platform")
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, f"inotify_init1: {os.strerror(code)}")
        wd = libc.inotify_add_watch(fd, os.fsencode(folder), MASK)
        if wd < 0:
            code = ctypes.get_errno()
            os.close(fd)
            raise OSError(code, f"inotify_add_watch {folder}: {os.strerror(code)}")
        self.folder = folder
        self._fd = fd
        self._hint = hint
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name=f"seam-inotify-{folder.name}", daemon=True)
        self.daemon = True  # as watchdog's observers (their thread is a daemon thread too)
        self.overflows = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass  # already stopped

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                ready, _, _ = select.select([self._fd, self._wake_r], [], [])
                if self._wake_r in ready:
                    return
                try:
                    data = os.read(self._fd, READ_BYTES)
                except BlockingIOError:
                    continue
                if not self._dispatch(data):
                    return
        except Exception:  # a defect must not end intake silently: the periodic rescan still looks
            logger.exception("the inotify watch on %s stopped; the periodic rescan still looks at it", self.folder)
        finally:
            for fd in (self._fd, self._wake_r, self._wake_w):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _dispatch(self, data: bytes) -> bool:
        """Hand every name in `data` to `hint`; False when the folder itself is gone (the watch ends)."""
        hint = self._hint
        offset, end = 0, len(data)
        while offset + _EVENT.size <= end:
            _wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
            start = offset + _EVENT.size
            offset = start + length
            if mask & IN_Q_OVERFLOW:
                self.overflows += 1
                logger.warning("inotify queue overflow on %s: the periodic rescan finds what was lost", self.folder)
                continue
            if mask & (IN_DELETE_SELF | IN_IGNORED):
                logger.warning("%s is gone; its inotify watch ends", self.folder)
                return False
            if length:
                hint(os.fsdecode(data[start:offset].rstrip(b"\0")))
        return True
