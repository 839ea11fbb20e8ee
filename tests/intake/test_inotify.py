"""The raw inotify watch (Linux): names renamed in, created or written are hinted, a rename out is not, a queue
overflow is counted (the periodic rescan finds what it lost), and the watch ends when its folder goes."""

from __future__ import annotations

import os
import shutil
import struct
import threading
import time
from pathlib import Path

import pytest

from seam.intake import inotify

pytestmark = pytest.mark.skipif(not inotify.available(), reason="inotify is Linux's")


def _watch(folder: Path) -> tuple[inotify.InotifyWatch, list[str | None], threading.Event]:
    seen: list[str | None] = []
    event = threading.Event()

    def hint(name: str | None) -> None:
        seen.append(name)
        event.set()

    watch = inotify.InotifyWatch(folder, hint)
    watch.start()
    return watch, seen, event


def _until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_names_renamed_in_or_written_are_hinted_and_a_rename_out_is_not(tmp_path: Path) -> None:
    folder, elsewhere = tmp_path / "incoming", tmp_path / "processing"
    folder.mkdir()
    elsewhere.mkdir()
    watch, seen, _ = _watch(folder)
    try:
        (tmp_path / "a.yaml").write_text("x")
        os.rename(tmp_path / "a.yaml", folder / "a.yaml")
        (folder / "b.yaml").write_text("y")
        _until(lambda: "a.yaml" in seen and "b.yaml" in seen)
        count = len(seen)
        os.rename(folder / "a.yaml", elsewhere / "a.yaml")  # a claim: no news to the intake
        (folder / "c.yaml").write_text("z")
        _until(lambda: "c.yaml" in seen)
        assert "a.yaml" not in seen[count:]
    finally:
        watch.stop()
        watch.join(5)


def test_a_burst_is_hinted_in_full(tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    watch, seen, _ = _watch(folder)
    try:
        for i in range(2000):
            (tmp_path / f".{i}").write_bytes(b"x")
            os.rename(tmp_path / f".{i}", folder / f"{i}.yaml")
        _until(lambda: len(set(seen)) >= 2000)
        assert set(seen) == {f"{i}.yaml" for i in range(2000)}
    finally:
        watch.stop()
        watch.join(5)


def test_a_queue_overflow_is_counted_and_the_names_after_it_still_hinted(tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    seen: list[str | None] = []
    watch = inotify.InotifyWatch(folder, seen.append)
    name = b"x.yaml\0\0"
    data = struct.pack("iIII", -1, inotify.IN_Q_OVERFLOW, 0, 0) + struct.pack("iIII", 1, 0x80, 0, len(name)) + name
    assert watch._dispatch(data) is True
    assert watch.overflows == 1 and seen == ["x.yaml"]
    watch.stop()


def test_the_watch_ends_when_its_folder_is_removed(tmp_path: Path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    watch, _, _ = _watch(folder)
    shutil.rmtree(folder)
    watch.join(5)
    assert not watch._thread.is_alive()
