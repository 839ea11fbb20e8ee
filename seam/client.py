"""Client stage: an intent enters the seam only if the daemon's validation accepts it; its own response comes back.

    check_intent(intent, config)              the daemon's validation, here: the valid intent, or IntentError
    submit(paths, config, intent)             check it, write it atomically into intents/incoming/ (a halt: priority/)
    wait_for_response(paths, submitted)       the response whose intent_sha256 is the one sent, or ResponseTimeout
    submit_and_wait(paths, config, intent)    both
    read_response(paths, intent_id)           responses/<id>.md as it stands, or None
    pending_proposals(paths, config)          proposals waiting for a human, with their evidence; never a code

The CLI, the MCP server and the skills' scripts all go through here, so an intent from any of them is checked,
written and answered the same way as a file an agent drops by hand.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from seam.clock import CLOCK_ENV, Clock, clock_from_env
from seam.config import LoadedConfig
from seam.errors import ConfigError, IntentError, ResponseTimeout
from seam.haltfile import request_halt
from seam.intent import ID_PATTERN, HaltPayload, Kind
from seam.paths import SeamPaths, write_atomic
from seam.respond import Status, split_response
from seam.store import ProposalRow
from seam.validate import CheckContext, ValidIntent, validate_bytes, validate_plain
from seam.yamlsafe import dump_yaml

__all__ = [
    "PRIORITY_DROP_KINDS",
    "Deliver",
    "PendingProposal",
    "Response",
    "Submitted",
    "answered",
    "check_intent",
    "drop_folder",
    "pending_proposals",
    "read_response",
    "response_of",
    "submit",
    "submit_and_wait",
    "timed_out",
    "wait_for_response",
]

_ID = re.compile(ID_PATTERN)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_POLL_SECONDS = 0.05


# ---- what comes back ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """One response file, read whole: the front matter's fields, the markdown body, and the full text."""

    id: str
    kind: str | None
    status: Status
    intent_sha256: str
    bead: int
    at: datetime
    path: Path
    front_matter: Mapping[str, Any] = field(repr=False, compare=False)
    body: str = field(repr=False)
    text: str = field(repr=False)

    @property
    def succeeded(self) -> bool:
        """ok or pending_approval: the intent was accepted (a proposal waits for a human)."""
        return self.status.filed_as_success

    @property
    def replay_of(self) -> int | None:
        """The bead of the earlier answer this response repeats, when the same intent was sent again
        (its facts are as of `at`; a new id gets a fresh answer); None for a first answer."""
        value = self.front_matter.get("replay_of")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Submitted:
    """An intent written into the seam: its id, the hashes its response may carry, and where it was written.

    A response carries `intent_sha256`; a rejection by the daemon's own validation (its clock or settings
    may differ from the client's) carries `raw_sha256`, the hash of the bytes as written.
    """

    id: str
    kind: str
    intent_sha256: str
    raw_sha256: str
    path: Path


@dataclass(frozen=True)
class PendingProposal:
    """A proposal waiting for a human, with the evidence a person decides on. It holds no approval code."""

    id: str
    kind: str  # open | close
    position_id: str
    pair: str
    side: str
    units: int
    entry: float | None
    stop: float | None
    target: float | None
    reward_risk: float | None
    expires_at: str | None  # when the proposal's code expires (ISO 8601), as the evidence records it
    created_at: datetime
    evidence: Mapping[str, Any] = field(compare=False)

    @classmethod
    def from_row(cls, row: ProposalRow) -> PendingProposal:
        evidence = row.evidence
        reward_risk = evidence.get("reward_risk")
        expires_at = evidence.get("expires_at")
        return cls(
            row.id,
            row.kind,
            row.position_id,
            row.pair,
            row.side,
            row.units,
            row.entry,
            row.stop,
            row.target,
            float(reward_risk) if isinstance(reward_risk, int | float) else None,
            str(expires_at) if expires_at else None,
            row.created_at,
            MappingProxyType(dict(evidence)),
        )


# ---- submitting ---------------------------------------------------------------------------------


def check_intent(intent: bytes | Mapping[str, Any], config: LoadedConfig, *, clock: Clock | None = None) -> ValidIntent:
    """The daemon's validation, here and now: the valid intent, or IntentError with every problem."""
    return _checked(intent, config, clock)[1]


def _checked(intent: bytes | Mapping[str, Any], config: LoadedConfig, clock: Clock | None) -> tuple[bytes, ValidIntent]:
    """The intent's bytes as written, and their validation; a mapping is validated as it is, not read back from the
    YAML written for it (`validate_plain`: the same answer, without a parse)."""
    settings = config.settings
    ctx = CheckContext.from_settings(settings, (clock or _clock()).now())
    limits = {"max_bytes": settings.intake.max_bytes, "max_depth": settings.validation.max_depth}
    if isinstance(intent, bytes):
        return intent, validate_bytes(intent, ctx, **limits)
    document = _plain(intent, "")
    data = dump_yaml(document).encode()
    return data, validate_plain(document, data, ctx, **limits)


Deliver = Callable[[str, bytes, ValidIntent], Path]


def submit(
    paths: SeamPaths,
    config: LoadedConfig,
    intent: bytes | Mapping[str, Any],
    *,
    clock: Clock | None = None,
    deliver: Deliver | None = None,
) -> Submitted:
    """Check the intent, then write it atomically into intents/incoming/ under a name of its own.

    `deliver(name, data, valid)`, from a process that runs the daemon itself, hands the checked intent to that
    daemon instead (`Daemon.deliver`) and returns where it put it.
    INV: an intent the daemon would reject is refused here (IntentError) and nothing is written.
    """
    data, valid = _checked(intent, config, clock)
    name = f"{valid.id}-{os.urandom(3).hex()}.yaml"
    if valid.kind == Kind.HALT:
        # INV: a halt blocks capital actions from this moment, before any daemon has read it (seam/haltfile.py)
        request_halt(
            paths,
            intent_id=valid.id,
            reason=valid.payload_as(HaltPayload).reason,
            by=valid.envelope.session_id or "seam.client",
            at=(clock or _clock()).now(),
        )
    if deliver is not None:
        target = deliver(name, data, valid)
    else:
        target = drop_folder(paths, str(valid.kind)) / name
        write_atomic(target, data, tmp_dir=paths.tmp)
    return Submitted(valid.id, str(valid.kind), valid.intent_sha256, valid.raw_sha256, target)


PRIORITY_DROP_KINDS = frozenset({"halt"})


def drop_folder(paths: SeamPaths, kind: str) -> Path:
    """Where an intent of `kind` is written: a halt into intents/priority/, whose watch of its own sees it ahead
    of any backlog in incoming/ (a seam too old to have the folder takes it in incoming/); the rest into incoming/."""
    if kind in PRIORITY_DROP_KINDS and paths.priority.is_dir():
        return paths.priority
    return paths.incoming


def wait_for_response(paths: SeamPaths, submitted: Submitted, *, timeout: float = 30.0) -> Response:
    """The response to this very intent, once a daemon has handled it; ResponseTimeout after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        response = answered(paths, submitted)
        if response is not None:
            return response
        if time.monotonic() >= deadline:
            raise timed_out(paths, submitted, timeout)
        time.sleep(_POLL_SECONDS)


def answered(paths: SeamPaths, submitted: Submitted) -> Response | None:
    """One look: the response to this very intent, or None while it has none yet."""
    # an older response with the same hash (a failed try being retried) is not this intent's answer:
    # look only once the file has left intake
    if _in_intake(paths, submitted.path.name):
        return None
    for sha256 in (submitted.intent_sha256, submitted.raw_sha256):
        response = read_response(paths, submitted.id, intent_sha256=sha256)
        if response is not None:
            return response
    return None


def response_of(path: Path, text: str, front: Mapping[str, Any] | None = None) -> Response | None:
    """A response from its text as the daemon wrote it to `path` (the daemon's `Finished`), without reading it back;
    with its `front` matter too, without parsing it."""
    if front is not None:
        end = text.find("\n---\n", 4)
        return _response(path, dict(front), text[end + 5 :].lstrip("\n"), text) if end >= 0 else None
    split = split_response(text, own=True)
    return _response(path, split[0], split[1], text) if split is not None else None


def submit_and_wait(
    paths: SeamPaths,
    config: LoadedConfig,
    intent: bytes | Mapping[str, Any],
    *,
    timeout: float = 30.0,
    clock: Clock | None = None,
) -> Response:
    """Submit the intent and wait for its response (IntentError before writing; ResponseTimeout after)."""
    return wait_for_response(paths, submit(paths, config, intent, clock=clock), timeout=timeout)


def _plain(value: Any, path: str) -> Any:
    """The JSON-like form of a value (enums by value, times in ISO 8601), or IntentError naming its path."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, Enum):
        return _plain(value.value, path)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise IntentError.single(path, "every key of a mapping must be text")
        return {key: _plain(item, f"{path}.{key}" if path else key) for key, item in value.items()}
    raise IntentError.single(
        path,
        f"a {type(value).__name__} cannot be written into an intent; use text, numbers, true/false, lists and mappings",
    )


def _in_intake(paths: SeamPaths, name: str) -> bool:
    """Still in incoming/ (or priority/), or claimed and being handled (processing/<daemon>/<seq>.<name>)."""
    return (paths.incoming / name).exists() or (paths.priority / name).exists() or _claimed(paths, name) is not None


def _claimed(paths: SeamPaths, name: str) -> Path | None:
    suffix = "." + name
    for folder in _entries(paths.processing):
        for item in _entries(folder):
            if item.name.endswith(suffix):
                return item
    return None


def _entries(folder: Path) -> list[Path]:
    """The folder's entries; none when it is not a folder or is gone (a daemon removes its own as it stops)."""
    try:
        return list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def timed_out(paths: SeamPaths, submitted: Submitted, timeout: float) -> ResponseTimeout:
    from seam.intake import live_owners  # intake brings watchdog in; only a timeout needs it

    daemons = len(live_owners(paths.processing))
    name = submitted.path.name
    kept = submitted.path if submitted.path.exists() else _claimed(paths, name)
    where = f" ({kept.relative_to(paths.root)})" if kept is not None else ""
    running = (
        "no daemon is running (start `seam watch`)"
        if daemons == 0
        else f"{daemons} daemon{'s are' if daemons > 1 else ' is'} running but has not answered it yet "
        "(is `seam watch` stuck? see `seam status`)"
    )
    message = f"no response for {submitted.id} within {timeout:g} s; the intent is kept in the seam{where}; {running}"
    return ResponseTimeout(message, intent_id=submitted.id, timeout=timeout, daemons=daemons, kept=kept)


def _clock() -> Clock:
    try:
        return clock_from_env()
    except ValueError as exc:
        raise ConfigError(CLOCK_ENV, str(exc)) from None


# ---- reading responses --------------------------------------------------------------------------


def read_response(paths: SeamPaths, intent_id: str, *, intent_sha256: str | None = None) -> Response | None:
    """responses/<id>.md as it stands now, or None when there is none (or it is not a response).

    With `intent_sha256`, only the response to that very intent: `<id>.md`, or the conflict's
    `<id>.<first 8 hex>.md`. INV: the id must match the envelope's id rule, so no name reaches outside responses/.
    """
    if not isinstance(intent_id, str) or not _ID.fullmatch(intent_id):
        raise IntentError.single("id", "must be 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit")
    if intent_sha256 is None:
        return _read(paths.responses / f"{intent_id}.md")
    if not _SHA256.fullmatch(intent_sha256):
        raise IntentError.single("intent_sha256", "must be 64 lowercase hexadecimal characters")
    for name in (f"{intent_id}.md", f"{intent_id}.{intent_sha256[:8]}.md"):
        response = _read(paths.responses / name)
        if response is not None and response.intent_sha256 == intent_sha256:
            return response
    return None


def _read(path: Path) -> Response | None:
    text = _read_text(path)
    split = split_response(text) if text is not None else None
    if text is None or split is None:
        return None
    return _response(path, split[0], split[1], text)


def _read_text(path: Path) -> str | None:
    # the daemon replaces response files by rename and never writes a link: a symlink here is not its answer
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            return handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _response(path: Path, front: dict[str, Any], body: str, text: str) -> Response | None:
    try:
        status = Status(str(front.get("status")))
        at = datetime.fromisoformat(str(front.get("at")))
        bead = int(front.get("bead", 0))
    except (TypeError, ValueError):
        return None
    kind = front.get("kind")
    return Response(
        str(front.get("id")),
        None if kind is None else str(kind),
        status,
        str(front.get("intent_sha256", "")),
        bead,
        at,
        path,
        MappingProxyType(front),
        body,
        text,
    )


# ---- proposals ----------------------------------------------------------------------------------


def pending_proposals(paths: SeamPaths, config: LoadedConfig) -> list[PendingProposal]:
    """Proposals waiting for a human, oldest first, with their evidence.

    INV: no approval code passes here: this reads the proposals, never the codes (agents call this).
    """
    from seam.runtime import Runtime

    runtime = Runtime.console(paths, config)
    try:
        rows = runtime.store.proposals.pending()
    finally:
        runtime.close()
    return [PendingProposal.from_row(row) for row in rows]
