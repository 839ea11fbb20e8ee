"""Validation: every problem names a dotted field path and a reason; the published JSON Schemas agree."""

from __future__ import annotations

import hashlib
import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from seam.errors import IntentError
from seam.intent import ID_PATTERN, Kind
from seam.problems import format_path, problems_from
from seam.schema import SCHEMA_DIR
from seam.validate import (
    CheckContext,
    ValidIntent,
    best_effort_id,
    parse_document,
    safe_stem,
    validate_bytes,
    validate_file,
)
from seam.yamlsafe import load_yaml
from tests.conftest import intent_text

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "intents" / "examples").glob("*.yaml"))
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday: the FX market is open
CTX = CheckContext(now=NOW)
LIMITS = {"max_bytes": 262_144, "max_depth": 32}


def problems_of(text: str | bytes, ctx: CheckContext = CTX) -> dict[str, str]:
    """path → message for every problem the intent has (it must have at least one)."""
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(IntentError) as caught:
        validate_bytes(data, ctx)
    found = {p.path: p.message for p in caught.value.problems}
    assert len(found) == len(caught.value.problems), "two problems on one path"
    return found


def schema(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8")),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


# ---- the examples -------------------------------------------------------------------------------


def test_there_is_an_example_of_every_kind() -> None:
    kinds = {load_yaml(p.read_text(encoding="utf-8"))["kind"] for p in EXAMPLES}
    assert kinds == {str(k) for k in Kind}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_intent_validates(example: Path) -> None:
    data = example.read_bytes()
    document = load_yaml(data.decode())

    intent = validate_bytes(data, CTX)

    assert intent.id == document["id"]
    assert intent.kind == document["kind"]
    assert intent.raw_sha256 == hashlib.sha256(data).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", intent.intent_sha256)
    assert validate_file(example, CTX) == intent


# ---- problem paths and reasons ------------------------------------------------------------------


def signal(fields: str) -> str:
    return intent_text("sig-1", "signal", "{" + fields + "}")


READY = (
    "signal: READY, pair: EURUSD, direction: LONG, confidence: 0.8, entry: 1.085, target: 1.091, setup_type: FVG_ENTRY"
)
QUERY = "dataset: eurusd_h1.csv, aggregates: [{fn: count}]"


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        pytest.param(
            intent_text("q", "query", "{" + QUERY + ", filter: [{field: volume, op: '~', value: 0}]}"),
            "payload.filter[0].op",
            "must be one of '==', '!=', '<', '<=', '>', '>=' or 'in' (got '~')",
            id="filter-operator",
        ),
        pytest.param(
            intent_text(
                "q",
                "query",
                "{" + QUERY + ", filter: [{field: a, op: '<', value: 1}, {field: Volume, op: '>', value: 0}]}",
            ),
            "payload.filter[1].field",
            "must be a column name",
            id="second-filter-field",
        ),
        pytest.param(
            intent_text("q", "query", "{dataset: eurusd_h1.csv, aggregates: []}"),
            "payload.aggregates",
            "is too short: at least 1",
            id="no-aggregates",
        ),
        pytest.param(signal(READY), "payload.stop", "is required", id="ready-signal-without-stop"),
        pytest.param(signal(READY + ", stop: -1"), "payload.stop", "must be greater than 0", id="negative-stop"),
        pytest.param(
            signal("signal: FORMING, pair: EURUSD, confidence: 0.4, direction: UP"),
            "payload.direction",
            "must be one of 'LONG' or 'SHORT' (got 'UP')",
            id="forming-direction",
        ),
        pytest.param(
            signal("signal: MAYBE, pair: EURUSD, confidence: 0.4"),
            "payload.signal",
            "must be one of 'READY', 'FORMING', 'NONE' (got 'MAYBE')",
            id="unknown-signal",
        ),
        pytest.param(signal("pair: EURUSD, confidence: 0.4"), "payload.signal", "is required", id="no-signal"),
        pytest.param(
            signal("signal: NONE, pair: EURUSD, confidence: 0.4, lots: 3"),
            "payload.lots",
            "is not an allowed field here (allowed: confidence, direction, entry, evidence_hash, pair, "
            "risk_percent, setup_type, signal, source, stop, target, thesis)",
            id="signal-extra-field",
        ),
        pytest.param(
            signal("signal: NONE, pair: EURUSD, confidence: 1.5"),
            "payload.confidence",
            "must be at most 1",
            id="confidence-above-1",
        ),
        pytest.param(
            signal("signal: NONE, pair: BTCUSD, confidence: 0.5"),
            "payload.pair",
            "must be one of 'EURUSD'",
            id="unknown-pair",
        ),
        pytest.param(
            intent_text("a", "approve", "{proposal: p-1, code: '12345'}"),
            "payload.code",
            "must be exactly 6 digits (got (not shown))",
            id="five-digit-code",
        ),
        pytest.param(
            intent_text("a", "approve", "{proposal: p-1, code: 123456}"),
            "payload.code",
            "must be text: write the code in quotes",
            id="code-as-number",
        ),
        pytest.param(
            intent_text("m", "memory", "{question: beads, window: 0h}"),
            "payload.window",
            "such as 30m, 24h or 7d",
            id="memory-window",
        ),
        pytest.param(
            intent_text("h", "halt", "{reason: ''}"), "payload.reason", "is too short: at least 1", id="empty-reason"
        ),
        pytest.param(
            intent_text("h", "halt", "{reason: x, cancel_orders: 'no'}"),
            "payload.cancel_orders",
            "must be true or false (got text 'no'; seam reads YAML 1.2",
            id="cancel-orders-no",
        ),
        pytest.param(
            intent_text("n", "narrate", "{template: weekly}"),
            "payload.template",
            "must be one of 'briefing', 'health', 'weekly_review' or 'status' (got 'weekly')",
            id="narrate-template",
        ),
        pytest.param(
            intent_text("n", "narrate", "{template: briefing, params: {str: [1]}}"),
            "payload.params.str",
            "must be text, a whole number, a number or true or false (got a list [1])",
            id="union-value-in-a-mapping",
        ),
        pytest.param(
            intent_text("q", "query", "{" + QUERY + ", filter: [{field: v, op: '<', value: {a: 1}}]}"),
            "payload.filter[0].value",
            "must be a number, a whole number, text or a list (got a mapping",
            id="union-value-in-a-list",
        ),
        pytest.param(
            intent_text("h", "hunt", "{hypothesis: h, dataset: d, grid: {lookback: [3, x]}}"),
            "payload.grid.lookback[1]",
            "must be a number or a whole number (got text 'x')",
            id="union-item-in-a-grid",
        ),
        pytest.param(
            'seam: "1"\nid: s\nkind: status\npayload: {}\n', "seam", "must be 1 (got text '1')", id="seam-as-text"
        ),
        pytest.param("seam: true\nid: s\nkind: status\npayload: {}\n", "seam", "must be the number 1", id="seam-true"),
        pytest.param(
            "seam: 1\nid: true\nkind: status\npayload: {}\n",
            "id",
            "must be text (got a boolean true)",
            id="id-as-boolean",
        ),
        pytest.param(
            "seam: 1\nid: s\nkind: status\npayload:\n",
            "payload",
            "must be a mapping (key: value lines) (got nothing)",
            id="empty-payload",
        ),
        pytest.param(
            intent_text("s", extra="session_id: ''\n"), "session_id", "is too short: at least 1", id="empty-session-id"
        ),
        pytest.param(
            intent_text("s", extra="created_at: 21/11/2026\n"),
            "created_at",
            "must be an ISO 8601 date-time such as 2026-11-21T09:05:00Z (got '21/11/2026')",
            id="created-at-not-iso",
        ),
    ],
)
def test_a_problem_names_the_field_path_and_the_reason(text: str, path: str, reason: str) -> None:
    found = problems_of(text)
    assert path in found, found
    assert reason in found[path]


def test_a_union_member_name_never_appears_in_a_path() -> None:
    found = problems_of(intent_text("n", "narrate", "{template: briefing, params: {a: [1], b: null, int: {}}}"))
    assert set(found) == {"payload.params.a", "payload.params.b", "payload.params.int"}


def test_the_signal_union_tag_never_appears_in_a_path() -> None:
    found = problems_of(signal("signal: READY, pair: EURUSD, confidence: 2, direction: UP"))
    assert set(found) == {
        "payload.confidence",
        "payload.direction",
        "payload.entry",
        "payload.stop",
        "payload.target",
        "payload.setup_type",
    }


def test_envelope_and_payload_problems_are_reported_together() -> None:
    found = problems_of("seam: 1\nid: ../x\nkind: halt\nurgent: yes\npayload: {reason: 5, cancel_orders: NO}\n")
    assert set(found) == {"id", "urgent", "payload.reason", "payload.cancel_orders"}


def test_payload_problems_are_not_guessed_when_the_kind_is_unknown() -> None:
    assert set(problems_of(intent_text("k", "launch", "{anything: 1}"))) == {"kind"}


def test_created_at_within_the_clock_skew_is_accepted_and_beyond_it_is_rejected() -> None:
    skew = CheckContext(now=NOW, future_skew=timedelta(minutes=5))
    at = (NOW + timedelta(minutes=4)).isoformat()
    assert validate_bytes(intent_text("ok", extra=f"created_at: {at}\n").encode(), skew).envelope.created_at

    later = (NOW + timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    found = problems_of(intent_text("late", extra=f"created_at: {later}\n"), skew)
    assert found["created_at"] == (
        "is in the future (2026-11-18T12:06:00+00:00; now 2026-11-18T12:00:00+00:00); check the writer's clock"
    )


def test_created_at_with_an_offset_is_accepted() -> None:
    intent = validate_bytes(intent_text("tz", extra="created_at: 2026-11-18T10:05:00+02:00\n").encode(), CTX)
    assert intent.envelope.created_at == datetime(2026, 11, 18, 8, 5, tzinfo=UTC)


# ---- parse_document -----------------------------------------------------------------------------


def test_a_file_at_the_size_limit_is_read_and_one_byte_more_is_refused() -> None:
    head = intent_text("big").encode()
    exact = head + b"#" * (1024 - len(head) - 1) + b"\n"
    assert parse_document(exact, max_bytes=1024, max_depth=32)["id"] == "big"
    with pytest.raises(IntentError, match="the file is 1025 bytes; the limit is 1024 bytes"):
        parse_document(exact + b"\n", max_bytes=1024, max_depth=32)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"", "the file is empty; an intent needs seam, id, kind and payload", id="empty"),
        pytest.param(b" \n\t\n  \n", "the file is empty; an intent needs seam, id, kind and payload", id="whitespace"),
        pytest.param(
            b"# just a comment\n", "the file is empty; an intent needs seam, id, kind and payload", id="comment"
        ),
        pytest.param(b"- a\n- b\n", "the top level must be a mapping (key: value lines), found a list", id="list"),
        pytest.param(b"hello\n", "the top level must be a mapping (key: value lines), found text", id="text"),
        pytest.param(b"42\n", "the top level must be a mapping (key: value lines), found a number", id="number"),
        pytest.param(
            b"true\n", "the top level must be a mapping (key: value lines), found true or false", id="boolean"
        ),
    ],
)
def test_a_document_that_is_not_a_mapping_is_a_file_problem(data: bytes, reason: str) -> None:
    with pytest.raises(IntentError) as caught:
        parse_document(data, **LIMITS)
    assert [(p.path, p.message) for p in caught.value.problems] == [("", reason)]


def test_a_yaml_problem_inside_the_payload_keeps_its_path() -> None:
    with pytest.raises(IntentError) as caught:
        parse_document(b"seam: 1\npayload:\n  reason: a\n  reason: b\n", **LIMITS)
    assert caught.value.problems[0].path == "payload.reason"


# ---- intent hashes ------------------------------------------------------------------------------


def test_the_intent_hash_ignores_formatting_comments_and_defaults() -> None:
    block = b"# a halt\nseam: 1\nid: h-1\nkind: halt\npayload:\n  reason: drill\n"
    flow = b"{payload: {cancel_orders: true, reason: 'drill'}, kind: halt, id: h-1, seam: 1}"
    a, b = validate_bytes(block, CTX), validate_bytes(flow, CTX)
    assert a.intent_sha256 == b.intent_sha256
    assert a.raw_sha256 != b.raw_sha256


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(b"seam: 1\nid: h-1\nkind: halt\npayload: {reason: drill, cancel_orders: false}\n", id="payload"),
        pytest.param(b"seam: 1\nid: h-2\nkind: halt\npayload: {reason: drill}\n", id="id"),
    ],
)
def test_the_intent_hash_changes_with_the_payload_or_the_id(other: bytes) -> None:
    base = validate_bytes(b"seam: 1\nid: h-1\nkind: halt\npayload: {reason: drill}\n", CTX)
    assert validate_bytes(other, CTX).intent_sha256 != base.intent_sha256


# ---- naming a rejection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(intent_text("ok-1", "halt", "{reason: 5}").encode(), "ok-1", id="invalid-payload-readable-id"),
        pytest.param(intent_text("ok-2", "launch").encode(), "ok-2", id="unknown-kind-readable-id"),
        pytest.param(intent_text("../../etc/passwd").encode(), None, id="path-traversal"),
        pytest.param(b'seam: 1\nid: "abc\\n"\nkind: status\npayload: {}\n', None, id="trailing-newline"),
        pytest.param(intent_text("a" * 65).encode(), None, id="too-long"),
        pytest.param(b"seam: 1\nid: 42\nkind: status\npayload: {}\n", None, id="number"),
        pytest.param(b"seam: 1\nkind: status\npayload: {}\n", None, id="missing"),
        pytest.param(b"seam: 1\nid: dup\nid: dup\n", None, id="unparsable"),
        pytest.param(b"- id: listed\n", None, id="top-level-list"),
        pytest.param(intent_text("big").encode() + b"#" * 262_144, None, id="oversize"),
    ],
)
def test_best_effort_id_reads_only_a_valid_id(data: bytes, expected: str | None) -> None:
    assert best_effort_id(data, **LIMITS) == expected


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        pytest.param("eurusd-001.yaml", "eurusd-001", id="plain"),
        pytest.param("a.b.yml", "a.b", id="inner-dot-kept"),
        pytest.param("weird name!.yaml", "weird_name_", id="spaces-and-punctuation"),
        pytest.param("..hidden.yaml", "hidden", id="leading-dots"),
        pytest.param("-rf.json", "rf", id="leading-dash"),
        pytest.param("über.yaml", "ber", id="non-ascii"),
        pytest.param("....yaml", "intent", id="only-dots"),
        pytest.param("", "intent", id="empty"),
        pytest.param("x" * 100 + ".yaml", "x" * 64, id="long"),
    ],
)
def test_safe_stem_reduces_a_file_name_to_id_characters(name: str, stem: str) -> None:
    assert safe_stem(name) == stem


def test_safe_stem_always_gives_a_valid_id() -> None:
    rng = random.Random(20261121)
    alphabet = "aZ09._-/ \\\n\t:*?<>|\"'üé☕\x00"
    for _ in range(2000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        assert re.fullmatch(ID_PATTERN, safe_stem(name)), repr(name)


# ---- problem messages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loc", "prefix", "path"),
    [
        pytest.param(("filter", 0, "op"), "payload", "payload.filter[0].op", id="index"),
        pytest.param(("seam",), "", "seam", id="top"),
        pytest.param((), "payload", "payload", id="the-prefix-itself"),
        pytest.param(("grid", "[key]"), "payload", "payload.grid", id="dict-key-marker-dropped"),
        pytest.param((0, 1), "m", "m[0][1]", id="nested-lists"),
    ],
)
def test_format_path_writes_dotted_paths_with_indexes(loc: tuple[int | str, ...], prefix: str, path: str) -> None:
    assert format_path(loc, prefix) == path


class _Demo(BaseModel):
    model_config = {"extra": "forbid", "strict": True}
    count: int
    flag: bool = False


def _errors(data: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        _Demo.model_validate(data)
    return caught.value


def test_problems_from_lists_the_allowed_fields_for_an_unknown_one() -> None:
    found = problems_from(
        _errors({"count": 1, "colour": "red"}), prefix="payload", allowed={"payload": ["count", "flag"]}
    )
    assert [(p.path, p.message) for p in found] == [
        ("payload.colour", "is not an allowed field here (allowed: count, flag)")
    ]


def test_problems_from_shows_what_was_given_in_yaml_words() -> None:
    found = problems_from(_errors({"count": "3", "flag": None}))
    assert [(p.path, p.message) for p in found] == [
        ("count", "must be a whole number (got text '3')"),
        ("flag", "must be true or false (got nothing)"),
    ]


def test_a_long_value_is_shortened_in_the_message() -> None:
    message = problems_from(_errors({"count": "x" * 500}))[0].message
    assert len(message) < 120 and message.endswith("...)")


# ---- robustness ---------------------------------------------------------------------------------


def test_any_mangled_example_is_either_valid_or_an_intent_error() -> None:
    rng = random.Random(7)
    noise = [
        b"\x00",
        b"\t",
        b"\xff",
        b"&a ",
        b"*a",
        b"!!",
        b"[",
        b"{",
        b"- ",
        b": ",
        b"\n",
        b"'",
        b'"',
        b"#",
        b"?",
        b"%YAML 1.1\n",
        b"---\n",
        b"\xef\xbb\xbf",
        b"9" * 50,
        b"\\",
    ]
    corpus = [p.read_bytes() for p in EXAMPLES]
    for _ in range(1500):
        data = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data) + 1)
            if rng.random() < 0.5:
                data[at:at] = rng.choice(noise)
            else:
                del data[at : at + rng.randint(1, 8)]
        try:
            validate_bytes(bytes(data), CTX)
        except IntentError:
            pass


# ---- the published JSON Schemas agree with the models ---------------------------------------------


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.schema.json")), ids=lambda p: p.name)
def test_every_published_schema_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_the_schemas_accept_every_example(example: Path) -> None:
    document = load_yaml(example.read_text(encoding="utf-8"))
    for name in ("envelope", document["kind"]):
        errors = [e.message for e in schema(name).iter_errors(document)]
        assert errors == [], f"{name}.schema.json refuses {example.name}: {errors}"


def test_a_kind_schema_refuses_an_intent_of_another_kind() -> None:
    status = load_yaml((SCHEMA_DIR.parent.parent / "intents" / "examples" / "status.yaml").read_text())
    assert not schema("halt").is_valid(status)


BOTH_REJECT = [
    pytest.param('seam: "1"\nid: a\nkind: status\npayload: {}\n', "envelope", id="seam-as-text"),
    pytest.param("seam: true\nid: a\nkind: status\npayload: {}\n", "envelope", id="seam-true"),
    pytest.param("seam: 2\nid: a\nkind: status\npayload: {}\n", "envelope", id="seam-2"),
    pytest.param("id: a\nkind: status\npayload: {}\n", "envelope", id="no-seam"),
    pytest.param("seam: 1\nkind: status\npayload: {}\n", "envelope", id="no-id"),
    pytest.param("seam: 1\nid: a\nkind: status\n", "envelope", id="no-payload"),
    pytest.param(intent_text("a", "launch"), "envelope", id="unknown-kind"),
    pytest.param(intent_text("a", extra="priority: high\n"), "envelope", id="extra-envelope-field"),
    pytest.param(intent_text("a", payload="[1]"), "envelope", id="list-payload"),
    pytest.param(intent_text("../../etc/passwd"), "envelope", id="path-traversal-id"),
    pytest.param(intent_text("a/b"), "envelope", id="slash-id"),
    pytest.param(intent_text("a" * 65), "envelope", id="long-id"),
    pytest.param(intent_text(".hidden"), "envelope", id="dot-id"),
    pytest.param(intent_text('""'), "envelope", id="empty-id"),
    pytest.param("seam: 1\nid: 42\nkind: status\npayload: {}\n", "envelope", id="number-id"),
    pytest.param(intent_text("a", extra="session_id: ''\n"), "envelope", id="empty-session-id"),
    pytest.param(intent_text("a", payload="{x: 1}"), "status", id="status-extra-field"),
    pytest.param(intent_text("a", "halt", "{reason: x, cancel_orders: NO}"), "halt", id="cancel-orders-NO"),
    pytest.param(intent_text("a", "halt", "{reason: 5}"), "halt", id="reason-number"),
    pytest.param(intent_text("a", "halt", "{}"), "halt", id="no-reason"),
    pytest.param(intent_text("a", "halt", "{reason: x, urgent: true}"), "halt", id="halt-extra-field"),
    pytest.param(intent_text("a", "cancel", "{order_id: 12:30:00}"), "cancel", id="order-id-sexagesimal"),
    pytest.param(intent_text("a", "cancel", "{order_id: 1042}"), "cancel", id="order-id-number"),
    pytest.param(intent_text("a", "approve", "{proposal: p, code: '12345'}"), "approve", id="code-5-digits"),
    pytest.param(intent_text("a", "approve", "{proposal: p, code: 123456}"), "approve", id="code-number"),
    pytest.param(signal(READY), "signal", id="ready-without-stop"),
    pytest.param(signal("signal: MAYBE, pair: EURUSD, confidence: 0.4"), "signal", id="unknown-signal"),
    pytest.param(signal("signal: NONE, pair: EURUSD, confidence: 'high'"), "signal", id="confidence-text"),
    pytest.param(signal("signal: NONE, pair: EURUSD, confidence: 1.5"), "signal", id="confidence-above-1"),
    pytest.param(signal("signal: NONE, pair: EURUSD, confidence: 0.5, risk_percent: 3"), "signal", id="risk-3"),
    pytest.param(signal("signal: NONE, pair: EURUSD, confidence: .nan"), "signal", id="nan"),
    pytest.param(
        intent_text("a", "query", "{" + QUERY + ", filter: [{field: v, op: '~', value: 0}]}"), "query", id="filter-op"
    ),
    pytest.param(intent_text("a", "memory", "{question: beads, window: 0h}"), "memory", id="window-0h"),
    pytest.param(intent_text("a", "hunt", "{hypothesis: h, dataset: d, grid: {a: []}}"), "hunt", id="empty-grid"),
    pytest.param(intent_text("a", "narrate", "{template: briefing, params: {a: [1]}}"), "narrate", id="param-list"),
]


@pytest.mark.parametrize(("text", "schema_name"), BOTH_REJECT)
def test_pydantic_and_the_json_schema_both_reject(text: str, schema_name: str) -> None:
    with pytest.raises(IntentError):
        validate_bytes(text.encode(), CTX)
    assert not schema(schema_name).is_valid(load_yaml(text)), f"{schema_name}.schema.json accepts it"


@pytest.mark.parametrize(
    "created_at",
    [
        pytest.param("2026-11-18", id="bare-date"),
        pytest.param("2026-11-18T09:05:00", id="no-timezone"),
        pytest.param("21/11/2026 09:05", id="not-iso"),
    ],
)
def test_pydantic_and_the_json_schema_both_reject_a_created_at_that_is_not_an_aware_date_time(created_at: str) -> None:
    pytest.importorskip("rfc3339_validator", reason="jsonschema checks date-time only with rfc3339-validator")
    text = intent_text("a", extra=f"created_at: '{created_at}'\n")
    assert "created_at" in problems_of(text)
    assert not schema("status").is_valid(load_yaml(text))


# ---- a mapping validated as it is: the same answer as its YAML read back --------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**45), max_value=10**45)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        ["012389", "1e3", "yes", "12:30:00", "2026-11-18", "EURUSD", "BUY", "READY", "x\u2028y", "a\x85b"]
    )
)
_VALUES = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
)
_EXAMPLE_DOCUMENTS = [load_yaml(p.read_text(encoding="utf-8")) for p in EXAMPLES]


@st.composite
def _documents(draw: st.DrawFn) -> dict[str, Any]:
    """Intents near the valid ones: an example with fields replaced, dropped or added, at any depth."""
    document = json.loads(json.dumps(draw(st.sampled_from(_EXAMPLE_DOCUMENTS))))
    document["kind"] = draw(st.sampled_from([document["kind"], *(str(k) for k in Kind), "launch"]))
    for _ in range(draw(st.integers(0, 3))):
        target = (
            document if draw(st.booleans()) or not isinstance(document.get("payload"), dict) else document["payload"]
        )
        key = draw(st.sampled_from([*target, "extra"]) if target else st.just("extra"))
        if draw(st.integers(0, 3)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(_VALUES)
    return document


@settings(max_examples=300, deadline=None)
@given(_documents())
def test_a_mapping_validated_as_it_is_gets_the_answer_its_yaml_gets(document: dict[str, Any]) -> None:
    from seam.validate import validate_plain
    from seam.yamlsafe import dump_yaml

    data = dump_yaml(document).encode()
    expected: ValidIntent | IntentError
    try:
        expected = validate_bytes(data, CTX, **LIMITS)
    except IntentError as exc:
        expected = exc
    try:
        got = validate_plain(document, data, CTX, **LIMITS)
    except IntentError as exc:
        assert isinstance(expected, IntentError), f"refused as a mapping, accepted as YAML: {exc.problems}"
        assert exc.problems == expected.problems
        return
    assert isinstance(expected, ValidIntent), f"accepted as a mapping, refused as YAML: {expected.problems}"
    assert got.envelope == expected.envelope
    assert got.payload == expected.payload
    assert (got.intent_sha256, got.raw_sha256) == (expected.intent_sha256, expected.raw_sha256)


def _outcome(validate: Any, *args: Any) -> Any:
    try:
        return validate(*args, CTX, **LIMITS).payload
    except IntentError as exc:
        return exc.problems


def test_a_mapping_past_the_readers_limits_is_read_back_from_its_yaml() -> None:
    """Too deep, a number too long, a float YAML has no plain word for (seam's reader takes `.inf` for text): each
    answered as its YAML is."""
    from seam.validate import validate_plain
    from seam.yamlsafe import dump_yaml

    deep: dict[str, Any] = {"v": 1}
    for _ in range(40):
        deep = {"v": deep}
    edges = ({"reason": 10**39}, {"reason": -(10**39)})  # 40 characters (read), 41 (refused by the reader)
    for payload in ({"reason": deep}, {"reason": 10**60}, {"reason": float("inf")}, {"reason": float("nan")}, *edges):
        document = {"seam": 1, "id": "a-1", "kind": "halt", "payload": payload}
        data = dump_yaml(document).encode()
        assert _outcome(validate_plain, document, data) == _outcome(validate_bytes, data), payload
