"""The bench's baseline: the least a watchdog loop must do to answer an intent durably.

    python bench/baseline_server.py DIR     (DIR holds incoming/ and responses/; DIR/ready appears when watching)

On each created/moved event in incoming/: read the file, parse it with libyaml's safe loader, check
the envelope with seam's own pydantic model (validated in JSON mode, as seam does), and write
responses/<id>.md through a temporary file in responses/: write, fsync, rename, fsync the folder
(the same durable write seam makes). Everything runs on watchdog's dispatch thread, one intent at
a time. Nothing more: no payload schema, no ledger, no beads, no claim, no templates, no rescan,
and the intent stays in incoming/.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from seam.intent import Envelope

MAX_BYTES = 262_144  # seam's default intake.max_bytes


class Answerer(FileSystemEventHandler):
    def __init__(self, root: Path) -> None:
        self.responses = root / "responses"
        self._seq = itertools.count(1)

    def on_created(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self.answer(os.fsdecode(event.src_path))

    def on_moved(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self.answer(os.fsdecode(event.dest_path))

    def answer(self, path: str) -> None:
        name = os.path.basename(path)
        if name.startswith(".") or not name.endswith((".yaml", ".yml")):
            return
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except FileNotFoundError:
            return
        intent_id, kind, status = _check(data, name)
        text = f"---\nid: {intent_id}\nkind: {kind}\nstatus: {status}\n---\n\n{status}\n"
        self._write_durably(f"{intent_id}.md", text.encode())

    def _write_durably(self, name: str, data: bytes) -> None:
        staged = self.responses / f".{name}.{os.getpid()}.{next(self._seq)}.tmp"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(staged, self.responses / name)
        folder = os.open(self.responses, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _check(data: bytes, name: str) -> tuple[str, str, str]:
    """(id, kind, status): the envelope's id when it is valid, else the file's stem and 'rejected'."""
    try:
        if len(data) > MAX_BYTES:
            raise ValueError("too large")
        # The baseline is plain libyaml safe loading by design: none of seam's depth or alias limits.
        document: Any = yaml.load(data.decode("utf-8"), Loader=yaml.CSafeLoader)  # noqa: TID251
        envelope = Envelope.model_validate_json(json.dumps(document, default=str))
    except (UnicodeDecodeError, yaml.YAMLError, ValidationError, ValueError):
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", name.rsplit(".", 1)[0]).lstrip("._-")[:64] or "intent"
        return stem, "unknown", "rejected"
    return envelope.id, str(envelope.kind), "ok"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python bench/baseline_server.py DIR", file=sys.stderr)
        return 2
    root = Path(argv[0])
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    observer = Observer()
    observer.schedule(Answerer(root), str(root / "incoming"), recursive=False)
    observer.start()
    try:
        (root / "ready").write_text(f"{os.getpid()}\n", encoding="utf-8")
        while not stop.wait(0.5):
            pass
    finally:
        observer.stop()
        observer.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
