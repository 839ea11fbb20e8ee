"""Validation stage: size cap → safe YAML → envelope → the kind's schema → named semantic checks.

Everything wrong with an intent becomes an IntentError whose problems name the field (a dotted
path) and the reason in plain words; nothing here raises anything else for bad input.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from seam import fx
from seam.config import Settings
from seam.errors import HandlerError, IntentError, Problem
from seam.intent import ID_PATTERN, KIND_MODELS, Envelope, Kind, ReadySignal, WatchSignal
from seam.problems import problems_from
from seam.store import canonical_json
from seam.yamlsafe import MAX_NUMBER_CHARS, YamlProblem, decode_text, load_yaml

__all__ = [
    "SEMANTIC_CHECKS",
    "CheckContext",
    "ValidIntent",
    "best_effort_id",
    "raw_sha256",
    "validate_bytes",
    "validate_file",
]

M = TypeVar("M", bound=BaseModel)
_ID_RE = re.compile(ID_PATTERN)
_PAYLOAD_ADAPTERS: dict[Kind, TypeAdapter[Any]] = {kind: TypeAdapter(model) for kind, model in KIND_MODELS.items()}
_TAGS: dict[Kind, set[str]] = {Kind.SIGNAL: {"READY", "FORMING", "NONE"}}


@dataclass(frozen=True)
class ValidIntent:
    envelope: Envelope
    payload: BaseModel  # the kind's model (seam/intent.py); handlers read it with `payload_as`
    intent_sha256: str
    raw_sha256: str

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def kind(self) -> Kind:
        return self.envelope.kind

    def payload_as(self, model: type[M]) -> M:
        """The payload as the kind's model; a route that sends a kind to the wrong handler is seam's defect."""
        if not isinstance(self.payload, model):
            raise HandlerError(
                f"the {self.kind} intent reached a handler for {model.__name__} payloads (a routing "
                f"defect in seam; its payload is a {type(self.payload).__name__})"
            )
        return self.payload

    def payload_dict(self) -> dict[str, Any]:
        return self.payload.model_dump(mode="json")


@dataclass(frozen=True)
class CheckContext:
    """What semantic checks may consult: the settings and the time the intent arrived."""

    now: datetime
    future_skew: timedelta = timedelta(minutes=5)
    active_pairs: frozenset[str] = frozenset({"EURUSD"})
    max_signal_age: timedelta = timedelta(minutes=15)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, now: datetime) -> CheckContext:
        """The context the daemon's pipeline checks with; the client and the generator use it too, so a
        verdict before sending is the verdict the daemon gives."""
        return cls(
            now=now,
            future_skew=timedelta(seconds=settings.validation.future_skew_seconds),
            active_pairs=frozenset(str(p) for p in settings.pairs.active),
            max_signal_age=timedelta(minutes=settings.approval.max_signal_age_minutes),
        )


Check = Callable[[ValidIntent, CheckContext], None]


def _check_created_at_not_in_future(intent: ValidIntent, ctx: CheckContext) -> None:
    created = intent.envelope.created_at
    if created is not None and created > ctx.now + ctx.future_skew:
        raise IntentError.single(
            "created_at",
            f"is in the future ({created.isoformat()}; now {ctx.now.isoformat(timespec='seconds')}); "
            "check the writer's clock",
        )


def _check_signal_age(intent: ValidIntent, ctx: CheckContext) -> None:
    """A READY signal read off an older market is not the trade it describes; without created_at it is not aged."""
    created = intent.envelope.created_at
    if not isinstance(intent.payload, ReadySignal) or created is None:
        return
    age = ctx.now - created
    if age > ctx.max_signal_age:
        raise IntentError.single(
            "created_at",
            f"the READY signal is {_in_minutes(age)} old (created {created.isoformat()}; "
            f"now {ctx.now.isoformat(timespec='seconds')}); "
            f"approval.max_signal_age_minutes is {ctx.max_signal_age.total_seconds() / 60:g}",
        )


def _in_minutes(age: timedelta) -> str:
    minutes, seconds = divmod(int(age.total_seconds()), 60)
    return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"


def _check_pair_active(intent: ValidIntent, ctx: CheckContext) -> None:
    payload = intent.payload
    if isinstance(payload, ReadySignal) and str(payload.pair) not in ctx.active_pairs:
        raise IntentError.single(
            "payload.pair",
            f"{payload.pair} is not an active pair (pairs.active: {', '.join(sorted(ctx.active_pairs))})",
        )


def _check_levels(intent: ValidIntent, ctx: CheckContext) -> None:
    payload = intent.payload
    if not isinstance(payload, ReadySignal | WatchSignal):
        return
    if payload.direction is None or payload.entry is None or payload.stop is None or payload.target is None:
        return  # FORMING/NONE may leave levels out; READY requires them by schema
    try:
        fx.check_levels(payload.direction, payload.entry, payload.stop, payload.target)
    except fx.GeometryError as exc:
        raise IntentError.single(exc.field, exc.message) from None


def _check_market_open(intent: ValidIntent, ctx: CheckContext) -> None:
    if not isinstance(intent.payload, ReadySignal):
        return
    state = fx.market_state(ctx.now)
    if not state.is_open:
        raise IntentError.single("payload.signal", f"READY signals are refused while the FX market is {state.reason}")


# kind → named checks run in order after the schema
SEMANTIC_CHECKS: dict[Kind | None, list[Check]] = {
    None: [_check_created_at_not_in_future],
    Kind.SIGNAL: [_check_pair_active, _check_levels, _check_market_open, _check_signal_age],
}


def raw_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def intent_hash(envelope: Envelope, payload: Any) -> str:
    """Same id + same kind + same payload (defaults filled in) → same hash, whatever the formatting."""
    body = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    material = canonical_json({"id": envelope.id, "kind": str(envelope.kind), "payload": body})
    return hashlib.sha256(material.encode()).hexdigest()


def parse_document(data: bytes, *, max_bytes: int, max_depth: int) -> dict[str, Any]:
    """Bytes → the top-level mapping, or IntentError."""
    if len(data) > max_bytes:
        raise IntentError.single("", f"the file is {len(data)} bytes; the limit is {max_bytes} bytes")
    try:
        text = decode_text(data)
        # whitespace only is an empty file, not a syntax error about a stray tab
        document = load_yaml(text, max_depth=max_depth) if text.strip() else None
    except YamlProblem as exc:
        raise IntentError.single(exc.path, str(exc)) from None
    if document is None:
        raise IntentError.single("", "the file is empty; an intent needs seam, id, kind and payload")
    if not isinstance(document, dict):
        found = {list: "a list", str: "text", bool: "true or false"}.get(type(document), "a number")
        raise IntentError.single("", f"the top level must be a mapping (key: value lines), found {found}")
    return document


def _validate_json_like(adapter: TypeAdapter[Any], value: Any) -> Any:
    # Validating the JSON form gives JSON Schema's semantics: strict types, but enums and date-times
    # from strings. json.dumps cannot fail here: load_yaml only produces JSON-like values.
    return adapter.validate_json(json.dumps(value))


_ENVELOPE = TypeAdapter(Envelope)


def validate_document(document: dict[str, Any], data: bytes, ctx: CheckContext) -> ValidIntent:
    problems: list[Problem] = []
    if isinstance(document.get("seam"), bool):
        problems.append(Problem("seam", "must be the number 1 (got a boolean)"))
    try:
        envelope: Envelope = _validate_json_like(_ENVELOPE, document)
    except ValidationError as exc:
        problems.extend(problems_from(exc, allowed={"": list(Envelope.model_fields)}, data=document))
        # the payload is still checked when the kind is known, so the author sees everything at once
        kind = document.get("kind")
        if isinstance(kind, str) and kind in Kind.__members__.values() and isinstance(document.get("payload"), dict):
            problems.extend(_payload_problems(Kind(kind), document["payload"]))
        raise IntentError(problems) from None
    if problems:
        raise IntentError(problems)
    try:
        payload = _validate_json_like(_PAYLOAD_ADAPTERS[envelope.kind], envelope.payload)
    except ValidationError as exc:
        raise IntentError(_payload_problems_from(envelope.kind, exc, envelope.payload)) from None
    intent = ValidIntent(envelope, payload, intent_hash(envelope, payload), raw_sha256(data))
    for check in SEMANTIC_CHECKS.get(None, []) + SEMANTIC_CHECKS.get(envelope.kind, []):
        check(intent, ctx)
    return intent


def _allowed_payload_fields(kind: Kind) -> dict[str, list[str]]:
    model = KIND_MODELS[kind]
    if get_origin(model) is Annotated:  # a discriminated union: the fields of every variant
        model = get_args(model)[0]
    members = [m for m in (get_args(model) or (model,)) if isinstance(m, type) and issubclass(m, BaseModel)]
    return {"payload": sorted({name for m in members for name in m.model_fields})} if members else {}


def _payload_problems_from(kind: Kind, exc: ValidationError, payload: dict[str, Any]) -> list[Problem]:
    return problems_from(
        exc, prefix="payload", allowed=_allowed_payload_fields(kind), drop_tag=_TAGS.get(kind), data=payload
    )


def _payload_problems(kind: Kind, payload: dict[str, Any]) -> list[Problem]:
    try:
        _validate_json_like(_PAYLOAD_ADAPTERS[kind], payload)
    except ValidationError as exc:
        return _payload_problems_from(kind, exc, payload)
    return []


def validate_bytes(data: bytes, ctx: CheckContext, *, max_bytes: int = 262_144, max_depth: int = 32) -> ValidIntent:
    return validate_document(parse_document(data, max_bytes=max_bytes, max_depth=max_depth), data, ctx)


def validate_plain(
    document: dict[str, Any], data: bytes, ctx: CheckContext, *, max_bytes: int = 262_144, max_depth: int = 32
) -> ValidIntent:
    """`validate_bytes(data)` for `data = dump_yaml(document)`, without parsing `data` back: the dumper promises that
    `load_yaml` reads it back equal (seam/yamlsafe.py). Anything that promise or the reader's limits might not cover
    (a size, depth or number over a limit, a float that is not finite, a value that is not JSON-like) is read back
    from `data` as a dropped file would be, so the answer is the same either way."""
    if len(data) > max_bytes or not _plainly_within(document, 1, max_depth):
        return validate_bytes(data, ctx, max_bytes=max_bytes, max_depth=max_depth)
    return validate_document(document, data, ctx)


def _plainly_within(value: dict[str, Any] | list[Any], depth: int, max_depth: int) -> bool:
    """Whether `value` (a collection at nesting level `depth`) holds only text keys and JSON-like values inside the
    YAML reader's limits (seam/yamlsafe.py): its depth, its numbers' length (an int is written as `str(int)`), finite
    floats (YAML has no plain word for the others that seam's reader takes for a number)."""
    if depth > max_depth:
        return False
    if isinstance(value, dict):
        if any(type(key) is not str for key in value):
            return False
        items: Any = value.values()
    else:
        items = value
    for item in items:
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if len(str(item)) > MAX_NUMBER_CHARS:
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif kind is dict or kind is list:
            if not _plainly_within(item, depth + 1, max_depth):
                return False
        else:
            return False
    return True


def validate_file(path: Path, ctx: CheckContext, *, max_bytes: int = 262_144, max_depth: int = 32) -> ValidIntent:
    """For `seam validate` and `seam submit`: read at most max_bytes + 1 and validate."""
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    return validate_bytes(data, ctx, max_bytes=max_bytes, max_depth=max_depth)


def best_effort_id(data: bytes, max_bytes: int, max_depth: int) -> str | None:
    """The intent's id when one can be read safely, for naming a rejection; else None."""
    try:
        document = parse_document(data, max_bytes=max_bytes, max_depth=max_depth)
    except IntentError:
        return None
    value = document.get("id")
    # fullmatch: with match, `$` also matches before a final newline, and "abc\n.md" would be a response name
    return value if isinstance(value, str) and _ID_RE.fullmatch(value) else None


def safe_stem(name: str) -> str:
    """A file name's stem reduced to id characters, for responses to intents without a usable id."""
    stem = name.rsplit(".", 1)[0] if "." in name[1:] else name
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", stem).lstrip("._-") or "intent"
    return cleaned[:64]
