"""Respond stage: a markdown response per intent — YAML front matter for programs, a body for people.

Responses are written atomically (temporary file, rename): a reader sees no response or a whole one.
Durability: an answer is durable when its ledger row, which holds the whole response, commits. The daemon
writes response files without an fsync of their own and `LazySync` flushes them together (syncfs) at most
SYNC_SECONDS later; a response a power cut took (missing, empty, torn) is rewritten from the ledger at
start-up (seam/intake/restore.py compares every answer with its file). `write_response(durable=True)`
(the default for every other writer) still fsyncs the file and the folder. Bodies come from Jinja2
templates with StrictUndefined, so a missing fact is an error at render time, never a blank in front of a trader.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from seam.faults import failpoint
from seam.narrator import ENV as _env
from seam.narrator import render as _render
from seam.paths import fsync_dir, libc_name, write_atomic
from seam.yamlsafe import YamlProblem, load_yaml

__all__ = [
    "SYNC_SECONDS",
    "LazySync",
    "Outcome",
    "Status",
    "holds_answer",
    "mark_replay",
    "read_front_matter",
    "render_response",
    "render_template",
    "response_front",
    "split_response",
    "warm_templates",
    "write_response",
]


class Status(StrEnum):
    OK = "ok"
    REJECTED = "rejected"
    FAILED = "failed"
    PENDING_APPROVAL = "pending_approval"
    CONFLICT = "conflict"

    @property
    def owns_id(self) -> bool:
        """Final answers own their id: the same id may then only be served again, never re-run."""
        return self in FINAL_STATUSES

    @property
    def filed_as_success(self) -> bool:
        return self in (Status.OK, Status.PENDING_APPROVAL)


FINAL_STATUSES = frozenset({Status.OK, Status.PENDING_APPROVAL})
RETRYABLE_STATUSES = frozenset({Status.REJECTED, Status.FAILED})


@dataclass(frozen=True)
class Outcome:
    """What a handler (or the pipeline itself) has to say: a status, a template and its facts."""

    status: Status
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    title: str = ""


def warm_templates() -> int:
    """Compile every template now (at the daemon's start), so no intent pays for it: a halt's first answer
    waited on its template's compilation. Returns how many there are."""
    names = _env.list_templates(filter_func=lambda name: name.endswith(".j2"))
    for name in names:
        _env.get_template(name)
    return len(names)


def render_template(name: str, context: Mapping[str, Any]) -> str:
    """Render one named template (`alert` reads seam/templates/alert.md.j2) with these facts, through the
    narrator: its word guard refuses (WordRefused) an output whose own words advise, claim a cause or rank."""
    return _render(name, context)


def render_body(outcome: Outcome, common: Mapping[str, Any]) -> str:
    """An outcome's body; `common["echoed"]` may name the agent's own strings (the intent's id and payload
    text), which are echoed as they came and not read by the word guard."""
    return _render(outcome.template, {**common, **outcome.context}, echoed=common.get("echoed", ()))


def response_front(
    *, intent_id: str, kind: str | None, status: Status, intent_sha256: str, bead: int, at: datetime
) -> dict[str, Any]:
    """The front matter `render_response` writes, as `split_response` reads it back (a test keeps them equal): a
    caller holding a response it has just rendered need not parse it."""
    return {
        "id": intent_id,
        "kind": kind,
        "status": str(status),
        "intent_sha256": intent_sha256,
        "bead": bead,
        "at": at.isoformat(timespec="milliseconds"),
    }


def render_response(
    *, intent_id: str, kind: str | None, status: Status, intent_sha256: str, bead: int, at: datetime, body: str
) -> str:
    # Every value here is an id, a kind, a status, a hex digest, a number or an ISO time: plain YAML
    # scalars that need no quoting, so the front matter is written directly (the YAML dumper was a
    # tenth of the daemon's time per intent). `read_front_matter` and a test keep it honest.
    front = (
        f"id: {_scalar(intent_id)}\nkind: {_scalar(kind) if kind else 'null'}\nstatus: {status}\n"
        f"intent_sha256: '{intent_sha256}'\nbead: {bead}\nat: '{at.isoformat(timespec='milliseconds')}'\n"
    )
    return "---\n" + front + "---\n\n" + body


_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


def mark_replay(stored: str, *, replay_bead: int, replayed_at: datetime, intent_file: str | None) -> str:
    """The first answer's text, marked as served again: its front matter gains `replay_of` (the answer's
    bead), `replayed_at` and `replay_bead`; its body starts with a note saying when it was answered.

    Everything the first answer holds is kept as it was (`bead` and `at` stay the answer's own), so a
    program reading `responses/<id>.md` still finds that answer; only the mark is added.
    """
    split = split_response(stored)
    if split is None:
        return stored
    front, body = split
    end = stored.find("\n---\n", 4)
    note = _render(
        "replay",
        {
            "answered_at": front.get("at"),
            "answer_bead": front.get("bead"),
            "replayed_at": replayed_at.isoformat(timespec="milliseconds"),
            "replay_bead": replay_bead,
            "intent_file": intent_file,
        },
    )
    mark = (
        f"replay_of: {int(front.get('bead', 0))}\n"
        f"replayed_at: '{replayed_at.isoformat(timespec='milliseconds')}'\nreplay_bead: {replay_bead}\n"
    )
    return stored[: end + 1] + mark + "---\n\n" + note.strip() + "\n\n" + body


def holds_answer(text: str, stored: str) -> bool:
    """`text` (a response file's) is the stored answer: the same text, or that text marked as a replay
    (`mark_replay`: its front matter's lines, the mark, a note, then its body, all unchanged)."""
    if text == stored:
        return True
    end = stored.find("\n---\n", 4)
    if not stored.startswith("---\n") or end < 0:
        return False
    body = stored[end + 5 :].lstrip("\n")
    return text.startswith(stored[: end + 1] + "replay_of: ") and text.endswith("\n\n" + body)


def _scalar(value: str) -> str:
    """A plain scalar when YAML reads it back as the same text, else single-quoted (ids never hold quotes)."""
    return value if _PLAIN.match(value) and value.lower() not in _YAML_WORDS else f"'{value}'"


def body_sha256(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def write_response(responses: Path, name: str, text: str, *, durable: bool = True) -> Path:
    failpoint("response_write")
    path = responses / name
    write_atomic(path, text.encode(), durable=durable)
    if durable:
        fsync_dir(responses)
    return path


SYNC_SECONDS = 0.5  # how long a response file written lazily may wait for its flush to disk

logger = logging.getLogger(__name__)


def _syncfs() -> Any:
    try:
        libc = ctypes.CDLL(libc_name() or None, use_errno=True)
        return getattr(libc, "syncfs", None)
    except OSError:
        return None


class LazySync:
    """Flushes the filesystem holding `folder` (syncfs; elsewhere sync) at most `interval` after `mark()`:
    one flush for every response written meanwhile, instead of two fsyncs each, on a thread of its own."""

    def __init__(self, folder: Path, interval: float = SYNC_SECONDS) -> None:
        self.folder = folder
        self.interval = interval
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._syncfs = _syncfs()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="seam-lazy-sync", daemon=True)
        self._thread.start()

    def mark(self) -> None:
        self._dirty.set()

    def stop(self) -> None:
        """Flush what is pending and stop the thread."""
        self._stopping.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.flush()

    def flush(self) -> None:
        try:
            fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            logger.warning("cannot flush %s (%s); start-up rewrites any response lost", self.folder, exc)
            return
        try:
            if self._syncfs is None or self._syncfs(fd) != 0:
                os.sync()
        finally:
            os.close(fd)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._dirty.wait()
            if self._stopping.wait(self.interval):
                return
            self._dirty.clear()
            self.flush()


def read_front_matter(path: Path) -> dict[str, Any] | None:
    """The front matter of a response file, or None when it is absent or not a response."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    split = split_response(text)
    return split[0] if split else None


_OWN_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def split_response(text: str, *, own: bool = False) -> tuple[dict[str, Any], str] | None:
    """A response's text as (front matter, markdown body), or None when it is not a response.

    A file is read under the limits for untrusted YAML (anyone who can write to responses/ could plant one);
    `own`: text this process rendered a moment ago (`Finished.text`), read by PyYAML's safe loader in C."""
    if not text.startswith("---\n"):
        return None
    end = text.find("\n---\n", 4)
    if end < 0:
        return None
    try:
        front = yaml.load(text[4:end], Loader=_OWN_LOADER) if own else load_yaml(text[4:end])  # noqa: TID251, S506 - a safe loader
    except (YamlProblem, yaml.YAMLError):
        return None
    return (front, text[end + 5 :].lstrip("\n")) if isinstance(front, dict) else None
