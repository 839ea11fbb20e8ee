"""Intake, the watch: filesystem events under incoming/ become hints, "look at this name".

Events are only hints that something changed; the truth is a look at the folder, at start-up, on every
hint and on a periodic rescan (inotify drops events when its queue overflows, and a polling observer
sees only snapshots): see scheduler.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from seam.intake import inotify

__all__ = ["WATCHES", "Watch", "make_observer"]


class _Hints(FileSystemEventHandler):
    """Turns every event under incoming/ into a hint: 'look at this name'."""

    def __init__(self, incoming: Path, hint: Callable[[str | None], None]) -> None:
        self.incoming = str(incoming)
        self.hint = hint

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write", "deleted"):
            return
        path = event.dest_path if event.event_type == "moved" else event.src_path
        path = os.fsdecode(path)
        if os.path.dirname(path) == self.incoming:
            self.hint(os.path.basename(path))


def _incoming_observer(hint: Callable[[str | None], None], incoming: Path) -> BaseObserver | None:
    """watchdog's inotify observer, tuned for one folder that is only ever a source of hints.

    - It leaves out IN_MOVED_FROM: watchdog holds every IN_MOVED_FROM for 0.5 s to pair it with its
      IN_MOVED_TO, and its queue is first in, first out — so each claim (a rename out of incoming/)
      would hold back every later event by half a second. A file renamed in still arrives
      (IN_MOVED_TO, reported as created), and so does one written in place (IN_CLOSE_WRITE).
    - Its emitter hands each event straight to `hint` instead of the observer's queue, which scans
      itself on every insertion: behind a burst of thousands of files a halt's event waited there
      for half a second.
    Returns None where inotify is not available (the platform's own observer is used instead).
    """
    try:
        from watchdog.observers.inotify import InotifyEmitter, InotifyObserver
        from watchdog.observers.inotify_c import InotifyConstants as C
        from watchdog.observers.inotify_c import InotifyFD
    except (ImportError, OSError):
        return None
    hints = _Hints(incoming, hint)

    class IncomingEmitter(InotifyEmitter):
        def get_event_mask_from_filter(self) -> Any:
            return C.IN_CREATE | C.IN_MOVED_TO | C.IN_CLOSE_WRITE | C.IN_MODIFY | C.IN_DELETE_SELF

        def queue_event(self, event: FileSystemEvent) -> None:
            hints.on_any_event(event)

    class IncomingObserver(InotifyObserver):
        def __init__(self) -> None:
            self._inotify_fd = InotifyFD()
            self._inotify_fd.start()
            BaseObserver.__init__(self, IncomingEmitter, inotify_fd=self._inotify_fd)

    return IncomingObserver()


WATCHES = ("events", "watchdog", "platform", "polling")


class Watch(Protocol):
    """What the intake needs of a watch: watchdog's observers have it, and so does the raw inotify watch."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def make_observer(
    incoming: Path,
    hint: Callable[[str | None], None],
    *,
    polling: bool,
    polling_interval: float,
    watch: str | None = None,
) -> Watch:
    """The watch on one folder. `watch`:
    - "events", the default: on Linux raw inotify (seam/intake/inotify.py, the least work per event); elsewhere
      as "watchdog";
    - "watchdog": watchdog's inotify emitter, tuned as above (Linux); elsewhere the platform's observer;
    - "platform": watchdog's own observer for the platform as it is (FSEvents on macOS);
    - "polling": snapshots, for synced and network folders (the default when `polling`)."""
    watch = watch or ("polling" if polling else "events")
    if watch not in WATCHES:
        raise ValueError(f"unknown watch {watch!r}; one of {', '.join(WATCHES)}")
    if watch == "events" and inotify.available():
        return inotify.InotifyWatch(incoming, hint)
    observer = _incoming_observer(hint, incoming) if watch in ("events", "watchdog") else None
    if observer is None:
        observer = PollingObserver(timeout=polling_interval) if watch == "polling" else Observer()
    observer.schedule(_Hints(incoming, hint), str(incoming), recursive=False)
    observer.daemon = True
    return observer
