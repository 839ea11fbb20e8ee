"""Bad intents dropped into one running daemon: each is answered `rejected`, naming the field and why.

One daemon (real watchdog observer, real folders) serves the whole module. Every case is a file an
agent, an editor or an attacker could put into incoming/; none of them may crash, hang or fool the
daemon, and after all of them it still answers a good intent.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from seam.paths import SeamPaths
from tests.conftest import DaemonThread, drop, intent_text, make_seam, wait_for, wait_response

FILE = "(file)"  # how the rejection table names a problem with the file as a whole


@dataclass(frozen=True)
class Bad:
    """A bad input: its bytes, and the field path and reason the rejection must give."""

    data: bytes
    path: str
    reason: str


def envelope(case: str, kind: str = "status", payload: str = "{}", extra: str = "") -> str:
    """A well-formed intent whose id is the case's name (so the response is `<case>.md` either way)."""
    return intent_text(case, kind, payload, extra)


def forming(case: str, fields: str) -> str:
    return envelope(case, "signal", f"{{signal: FORMING, pair: EURUSD, {fields}}}")


def alias_bomb(case: str) -> str:
    lines = ["seam: 1", f"id: {case}", "kind: status", "payload:", "  a: &a [" + ", ".join(["lol"] * 9) + "]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"  {name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def oversize(case: str) -> bytes:
    head = envelope(case, "halt", "{reason: padded}").encode()
    padding = b"# " + b"x" * 98 + b"\n"
    return head + padding * (262_144 // len(padding) + 1)


def padded(case: str, size: int) -> bytes:
    """A good intent padded with a comment to exactly `size` bytes."""
    head = envelope(case).encode()
    return head + b"# " + b"x" * (size - len(head) - 3) + b"\n"


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"

# case name → the bad input. The name is also the file's stem and, where an id can be read, the id,
# so the response is always responses/<name>.md.
CASES: dict[str, Bad] = {
    # -- not YAML at all, or YAML we refuse to read
    "yaml-unclosed-bracket": Bad(
        b"seam: 1\nid: yaml-unclosed-bracket\nkind: halt\npayload: {reason: [halt, now\n",
        FILE,
        "YAML syntax error: did not find expected ',' or ']'",
    ),
    "yaml-bad-indentation": Bad(
        b"seam: 1\nid: yaml-bad-indentation\n  kind: status\npayload: {}\n",
        FILE,
        "mapping values are not allowed in this context (line 3",
    ),
    "yaml-tab-indentation": Bad(
        b"seam: 1\nid: yaml-tab-indentation\nkind: halt\npayload:\n\treason: tabbed\n",
        FILE,
        "a tab: YAML indents with spaces, never tabs) (line 5",
    ),
    "yaml-tab-among-spaces": Bad(
        b"seam: 1\nid: yaml-tab-among-spaces\nkind: halt\npayload:\n  reason: mixed\n\tcancel_orders: true\n",
        FILE,
        "a tab: YAML indents with spaces, never tabs) (line 6",
    ),
    "alias-bomb": Bad(alias_bomb("alias-bomb").encode(), FILE, "YAML aliases (*a) are not allowed in intents"),
    "single-alias": Bad(
        b"seam: 1\nid: &name single-alias\nkind: status\nsession_id: *name\npayload: {}\n",
        FILE,
        "YAML aliases (*name) are not allowed in intents (line 4)",
    ),
    "deep-flow-nesting": Bad(
        envelope("deep-flow-nesting", payload="[" * 30_000).encode(), FILE, "nesting deeper than 32 levels"
    ),
    "deep-flow-mappings": Bad(
        envelope("deep-flow-mappings", payload="{a: " * 30_000).encode(), FILE, "nesting deeper than 32 levels"
    ),
    "deep-block-nesting": Bad(
        ("seam: 1\nid: deep-block-nesting\nkind: status\npayload:\n" + "- " * 30_000 + "deep\n").encode(),
        FILE,
        "nesting deeper than 32 levels",
    ),
    "oversize-file": Bad(oversize("oversize-file"), FILE, "the limit is 262144 bytes"),
    "oversize-megabyte": Bad(  # its real size, not the bytes read before the cap stopped the read
        padded("oversize-megabyte", 1_048_576), FILE, "the file is 1048576 bytes; the limit is 262144 bytes"
    ),
    "binary-png": Bad(PNG, FILE, "this is a binary file, not YAML text (NUL byte at offset 8)"),
    "latin-1-bytes": Bad(
        envelope("latin-1-bytes", "halt", "{reason: caf\xe9 au lait}").encode("latin-1"),
        FILE,
        "not UTF-8 text (byte 0xe9",
    ),
    "control-character": Bad(
        envelope("control-character", "halt", "{reason: ring\x07bell}").encode(),
        FILE,
        "control characters are not allowed (found character #x0007) (line 4)",
    ),
    "empty-file": Bad(b"", FILE, "the file is empty"),
    "whitespace-only": Bad(b"  \n\t\n   \n", FILE, "the file is empty"),
    "comments-only": Bad(b"# seam: 1\n# id: x\n", FILE, "the file is empty"),
    "top-level-list": Bad(
        b"- seam: 1\n- id: top-level-list\n", FILE, "top level must be a mapping (key: value lines), found a list"
    ),
    "top-level-scalar": Bad(b"status please\n", FILE, "top level must be a mapping (key: value lines), found text"),
    "two-documents": Bad(
        (envelope("two-documents") + "---\n" + envelope("two-documents")).encode(),
        FILE,
        "only one YAML document per file is allowed",
    ),
    "duplicate-top-level-key": Bad(
        b"seam: 1\nid: duplicate-top-level-key\nkind: status\nkind: halt\npayload: {}\n",
        "kind",
        "duplicate key 'kind': each key may appear only once (line 4)",
    ),
    "duplicate-payload-key": Bad(
        envelope("duplicate-payload-key", "halt", "\n  reason: first\n  reason: second").encode(),
        "payload.reason",
        "duplicate key 'reason'",
    ),
    "python-object-tag": Bad(
        envelope("python-object-tag", payload="!!python/object/apply:os.system ['touch pwned']").encode(),
        "payload",
        "the YAML tag !!python/object/apply:os.system is not allowed in intents",
    ),
    "timestamp-tag": Bad(
        envelope("timestamp-tag", extra="created_at: !!timestamp 2026-11-21T09:05:00Z\n").encode(),
        "created_at",
        "the YAML tag !!timestamp is not allowed",
    ),
    "set-tag": Bad(
        envelope("set-tag", payload="!!set {a, b}").encode(), "payload", "the YAML tag !!set is not allowed"
    ),
    "binary-tag": Bad(
        envelope("binary-tag", "halt", "{reason: !!binary aGVsbG8=}").encode(),
        "payload.reason",
        "the YAML tag !!binary is not allowed",
    ),
    "bool-tag-on-a-non-boolean": Bad(
        envelope("bool-tag-on-a-non-boolean", "halt", "{reason: x, cancel_orders: !!bool maybe}").encode(),
        "payload.cancel_orders",
        "'maybe' is not true or false",
    ),
    "5000-digit-integer": Bad(
        forming("5000-digit-integer", "confidence: " + "9" * 5000).encode(),
        "payload.confidence",
        "number with 5000 characters is too long",
    ),
    # -- the envelope
    "seam-as-text": Bad(
        b'seam: "1"\nid: seam-as-text\nkind: status\npayload: {}\n', "seam", "must be 1 (got text '1')"
    ),
    "seam-as-boolean": Bad(
        b"seam: true\nid: seam-as-boolean\nkind: status\npayload: {}\n", "seam", "must be the number 1"
    ),
    "seam-version-2": Bad(
        b"seam: 2\nid: seam-version-2\nkind: status\npayload: {}\n", "seam", "must be 1 (got a whole number 2)"
    ),
    "missing-seam": Bad(b"id: missing-seam\nkind: status\npayload: {}\n", "seam", "is required"),
    "missing-id": Bad(b"seam: 1\nkind: status\npayload: {}\n", "id", "is required"),
    "missing-kind": Bad(b"seam: 1\nid: missing-kind\npayload: {}\n", "kind", "is required"),
    "missing-payload": Bad(b"seam: 1\nid: missing-payload\nkind: status\n", "payload", "is required"),
    "unknown-kind": Bad(envelope("unknown-kind", "launch").encode(), "kind", "must be one of 'status', 'halt'"),
    "extra-envelope-field": Bad(
        envelope("extra-envelope-field", extra="priority: high\n").encode(),
        "priority",
        "is not an allowed field here (allowed: created_at, id, kind, payload, seam, session_id)",
    ),
    "list-for-payload": Bad(
        envelope("list-for-payload", payload="[status]").encode(),
        "payload",
        "must be a mapping (key: value lines) (got a list",
    ),
    "id-as-number": Bad(b"seam: 1\nid: 42\nkind: status\npayload: {}\n", "id", "must be text (got a whole number 42)"),
    "path-traversal-id": Bad(envelope("../../etc/passwd").encode(), "id", "no slashes, spaces or '..' paths"),
    "id-with-slash": Bad(envelope("desk/eurusd-001").encode(), "id", "(got 'desk/eurusd-001')"),
    "id-too-long": Bad(envelope("a" * 65).encode(), "id", "1-64 characters"),
    "id-starting-with-dot": Bad(envelope(".hidden").encode(), "id", "starting with a letter or digit (no slashes"),
    "id-starting-with-dash": Bad(envelope("-rf").encode(), "id", "(got '-rf')"),
    "empty-id": Bad(envelope('""').encode(), "id", "(got '')"),
    "created-at-bare-date": Bad(
        envelope("created-at-bare-date", extra="created_at: 2026-11-21\n").encode(),
        "created_at",
        "must be an ISO 8601 date-time such as 2026-11-21T09:05:00Z (got '2026-11-21')",
    ),
    "created-at-without-timezone": Bad(
        envelope("created-at-without-timezone", extra="created_at: 2026-11-21T09:05:00\n").encode(),
        "created_at",
        "needs a timezone",
    ),
    "created-at-far-future": Bad(
        envelope("created-at-far-future", extra="created_at: 2099-01-01T00:00:00Z\n").encode(),
        "created_at",
        "is in the future (2099-01-01T00:00:00+00:00",
    ),
    # -- the payload
    "extra-payload-field": Bad(
        envelope("extra-payload-field", "halt", "{reason: drill, urgent: true}").encode(),
        "payload.urgent",
        "is not an allowed field here (allowed: cancel_orders, reason)",
    ),
    "number-for-text": Bad(
        envelope("number-for-text", "halt", "{reason: 5}").encode(),
        "payload.reason",
        "must be text (got a whole number 5)",
    ),
    "number-for-order-id": Bad(
        envelope("number-for-order-id", "cancel", "{order_id: 1042}").encode(),
        "payload.order_id",
        "must be text (got a whole number 1042)",
    ),
    "text-for-number": Bad(
        forming("text-for-number", "confidence: high").encode(),
        "payload.confidence",
        "must be a number (got text 'high')",
    ),
    "list-for-filter-item": Bad(
        envelope(
            "list-for-filter-item", "query", "{dataset: d.csv, filter: [[volume]], aggregates: [{fn: count}]}"
        ).encode(),
        "payload.filter[0]",
        "must be a mapping",
    ),
    "bad-filter-operator": Bad(
        envelope(
            "bad-filter-operator",
            "query",
            "{dataset: d.csv, filter: [{field: volume, op: '~', value: 0}], aggregates: [{fn: count}]}",
        ).encode(),
        "payload.filter[0].op",
        "must be one of '==', '!='",
    ),
    "ready-signal-without-stop": Bad(
        envelope(
            "ready-signal-without-stop",
            "signal",
            "{signal: READY, pair: EURUSD, direction: LONG, confidence: 0.8, entry: 1.085, target: 1.091, "
            "setup_type: FVG_ENTRY}",
        ).encode(),
        "payload.stop",
        "is required",
    ),
    "yaml11-NO-as-boolean": Bad(
        envelope("yaml11-NO-as-boolean", "halt", "{reason: drill, cancel_orders: NO}").encode(),
        "payload.cancel_orders",
        "must be true or false (got text 'NO'; seam reads YAML 1.2",
    ),
    "yaml11-on-as-boolean": Bad(
        envelope("yaml11-on-as-boolean", "halt", "{reason: drill, cancel_orders: on}").encode(),
        "payload.cancel_orders",
        "must be true or false (got text 'on'",
    ),
    "yaml11-yes-as-boolean": Bad(
        envelope("yaml11-yes-as-boolean", "positions", "{include_orders: yes}").encode(),
        "payload.include_orders",
        "true or false",
    ),
    "yaml11-sexagesimal-for-number": Bad(
        forming("yaml11-sexagesimal-for-number", "confidence: 12:30:00").encode(),
        "payload.confidence",
        "must be a number (got text '12:30:00')",
    ),
    "yaml11-sexagesimal-for-text": Bad(
        envelope("yaml11-sexagesimal-for-text", "cancel", "{order_id: 12:30:00}").encode(),
        "payload.order_id",
        "letters, digits, '.', '_' or '-' only (got '12:30:00')",
    ),
    "yaml11-octal-looking-code": Bad(
        envelope("yaml11-octal-looking-code", "approve", "{proposal: p-1, code: 012345}").encode(),
        "payload.code",
        "must be text: write the code in quotes",
    ),
    "nan-for-number": Bad(
        forming("nan-for-number", "confidence: .nan").encode(),
        "payload.confidence",
        "must be a number (got text '.nan')",
    ),
    "inf-for-number": Bad(
        forming("inf-for-number", "confidence: 0.5, entry: .inf").encode(),
        "payload.entry",
        "must be a number (got text '.inf')",
    ),
    "overflowing-float": Bad(
        forming("overflowing-float", "confidence: 0.5, entry: 1e999").encode(),
        "payload.entry",
        "must be a finite number",
    ),
}


GOOD_AFTER_FIFO = ("after-fifo-1", "after-fifo-2")
SECRET_TEXT = "top secret 7f3a"


class _Records(logging.Handler):
    """Keeps the daemon's log messages, to see what it decided about files it left alone."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class Seam:
    paths: SeamPaths
    daemon: DaemonThread
    log: _Records
    outside: Path  # a file outside the seam that a symlink in incoming/ points at
    outside_before: tuple[bytes, int]


@pytest.fixture(scope="module")
def seam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seam]:
    """One daemon; a FIFO and a directory named like intents; then every bad input and a few good ones at once.

    Dropping everything together keeps the module fast (each test then waits only for its own answer)
    and is the harsher test: the bad inputs arrive as a burst, interleaved with good ones.
    """
    paths = make_seam(tmp_path_factory.mktemp("bad-inputs") / "seam", "intake:\n  rescan_seconds: 0.5\n")
    outside = tmp_path_factory.mktemp("outside") / "outside.yaml"
    outside.write_text(intent_text("followed-the-link", "halt", f"{{reason: {SECRET_TEXT}}}"))
    log = _Records()
    logging.getLogger("seam").addHandler(log)
    try:
        with DaemonThread(paths) as daemon:
            os.mkfifo(paths.incoming / "x.yaml")
            (paths.incoming / "y.yaml").mkdir()
            for case, bad in CASES.items():
                drop(paths, f"{case}.yaml", bad.data)
            os.symlink(outside, paths.incoming / "sneaky-link.yaml")
            drop(paths, "bom-ok.yaml", b"\xef\xbb\xbf" + intent_text("bom-ok").encode())
            for name in GOOD_AFTER_FIFO:
                drop(paths, f"{name}.yaml", intent_text(name))
            yield Seam(paths, daemon, log, outside, (outside.read_bytes(), outside.stat().st_mtime_ns))
    finally:
        logging.getLogger("seam").removeHandler(log)


def problem_rows(body: str) -> dict[str, list[str]]:
    """The rejection table: field path → the reasons given for it."""
    rows: dict[str, list[str]] = {}
    for line in body.splitlines():
        if line.startswith("| `"):
            path, _, rest = line[3:].partition("` | ")
            rows.setdefault(path, []).append(rest.removesuffix(" |").replace("\\|", "|"))
    return rows


def answer(paths: SeamPaths, name: str, folder: Path) -> dict[str, object]:
    """Wait until the intent file `name` has been filed into `folder`, then read its response."""
    wait_for(lambda: os.path.lexists(folder / name), what=f"{name} filed into {folder.name}/")
    return wait_response(paths, name.rsplit(".", 1)[0])


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_intent_is_rejected_naming_the_field_and_the_reason(seam: Seam, case: str) -> None:
    bad, paths = CASES[case], seam.paths

    front = answer(paths, f"{case}.yaml", paths.failed)

    assert front["status"] == "rejected", front["body"]
    assert front["id"] == case
    rows = problem_rows(str(front["body"]))
    assert bad.path in rows, f"no row for {bad.path!r} in:\n{front['body']}"
    assert any(bad.reason in reason for reason in rows[bad.path]), f"{bad.reason!r} not in {rows[bad.path]}"
    assert f"Filed as `intents/failed/{case}.yaml`" in str(front["body"])
    assert not (paths.incoming / f"{case}.yaml").exists()
    assert not (paths.processed / f"{case}.yaml").exists()
    # nothing was written outside the seam (path-traversal ids, python tags)
    assert [p.name for p in paths.root.parent.iterdir()] == ["seam"]


def test_a_utf8_file_with_a_byte_order_mark_is_accepted(seam: Seam) -> None:
    front = answer(seam.paths, "bom-ok.yaml", seam.paths.processed)

    assert front["status"] == "ok", front["body"]
    assert front["id"] == "bom-ok"


def test_a_symlink_in_incoming_is_refused_and_never_followed(seam: Seam) -> None:
    front = answer(seam.paths, "sneaky-link.yaml", seam.paths.failed)

    assert front["status"] == "rejected"
    assert any("symbolic links are refused" in r for r in problem_rows(str(front["body"]))[FILE])
    text = (seam.paths.responses / "sneaky-link.md").read_text()
    assert SECRET_TEXT not in text and "followed-the-link" not in text
    assert not (seam.paths.responses / "followed-the-link.md").exists()
    assert (seam.outside.read_bytes(), seam.outside.stat().st_mtime_ns) == seam.outside_before
    assert (seam.paths.failed / "sneaky-link.yaml").is_symlink()


def test_a_fifo_and_a_directory_named_like_intents_are_left_alone_without_blocking(seam: Seam) -> None:
    for name in ("x.yaml", "y.yaml"):  # the daemon looked at each one and decided to leave it
        message = f"left alone: incoming/{name} is not a regular file"
        wait_for(lambda message=message: message in seam.log.messages, what=f"the daemon to notice {name}")
    for name in GOOD_AFTER_FIFO:  # dropped after them, answered all the same
        assert answer(seam.paths, f"{name}.yaml", seam.paths.processed)["status"] == "ok"
    fifo, folder = seam.paths.incoming / "x.yaml", seam.paths.incoming / "y.yaml"
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and folder.is_dir()
    assert not (seam.paths.responses / "x.md").exists() and not (seam.paths.responses / "y.md").exists()


def test_after_every_bad_input_the_daemon_is_alive_and_answers_a_good_intent(seam: Seam) -> None:
    paths = seam.paths
    expected = [paths.failed / f"{case}.yaml" for case in [*CASES, "sneaky-link"]]
    expected += [paths.processed / f"{name}.yaml" for name in ["bom-ok", *GOOD_AFTER_FIFO]]
    wait_for(lambda: all(os.path.lexists(p) for p in expected), what="every dropped file answered and filed")
    drop(paths, "still-alive.yaml", intent_text("still-alive"))

    front = answer(paths, "still-alive.yaml", paths.processed)

    assert front["status"] == "ok", front["body"]
    assert seam.daemon.error is None and not seam.daemon.daemon.stopping.is_set()
    assert {p.name for p in paths.incoming.iterdir()} == {"x.yaml", "y.yaml"}  # left alone, still there
