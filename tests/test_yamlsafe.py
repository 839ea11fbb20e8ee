"""Safe YAML for untrusted input: YAML 1.2 scalars, bounded depth and numbers, no aliases, no exotic tags."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from seam.yamlsafe import YamlProblem, decode_text, load_yaml

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "intents" / "examples").glob("*.yaml"))


def problem(text: str, **kwargs: Any) -> YamlProblem:
    with pytest.raises(YamlProblem) as caught:
        load_yaml(text, **kwargs)
    return caught.value


# ---- decode_text --------------------------------------------------------------------------------


def test_utf8_text_is_decoded_unchanged() -> None:
    assert decode_text("reason: café ☕\n".encode()) == "reason: café ☕\n"


def test_a_utf8_byte_order_mark_is_dropped() -> None:
    assert decode_text(b"\xef\xbb\xbfseam: 1\n") == "seam: 1\n"


def test_a_nul_byte_marks_the_file_as_binary_and_names_the_offset() -> None:
    with pytest.raises(YamlProblem, match=r"binary file, not YAML text \(NUL byte at offset 8\)"):
        decode_text(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


def test_latin1_bytes_are_refused_naming_the_byte_and_its_offset() -> None:
    with pytest.raises(YamlProblem, match=r"not UTF-8 text \(byte 0xe9 at offset 11\)"):
        decode_text("reason: caf\xe9\n".encode("latin-1"))


def test_no_bytes_decode_to_no_text() -> None:
    assert decode_text(b"") == ""


# ---- YAML 1.2 core scalars ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "read"),
    [
        pytest.param("NO", "NO", id="NO-stays-text"),
        pytest.param("no", "no", id="no-stays-text"),
        pytest.param("on", "on", id="on-stays-text"),
        pytest.param("off", "off", id="off-stays-text"),
        pytest.param("yes", "yes", id="yes-stays-text"),
        pytest.param("y", "y", id="y-stays-text"),
        pytest.param("12:30:00", "12:30:00", id="sexagesimal-stays-text"),
        pytest.param("2026-11-21", "2026-11-21", id="bare-date-stays-text"),
        pytest.param("2026-11-21T09:05:00Z", "2026-11-21T09:05:00Z", id="timestamp-stays-text"),
        pytest.param("1_000", "1_000", id="underscored-number-stays-text"),
        pytest.param("0b101", "0b101", id="binary-literal-stays-text"),
        pytest.param(".nan", ".nan", id="nan-stays-text"),
        pytest.param(".inf", ".inf", id="inf-stays-text"),
        pytest.param("012", 12, id="leading-zero-is-decimal-not-octal"),
        pytest.param("0o12", 10, id="0o-is-octal"),
        pytest.param("0x1F", 31, id="0x-is-hex"),
        pytest.param("-7", -7, id="negative-int"),
        pytest.param("+3", 3, id="plus-int"),
        pytest.param("1.0850", 1.085, id="decimal"),
        pytest.param(".5", 0.5, id="leading-dot-decimal"),
        pytest.param("1e3", 1000.0, id="exponent"),
        pytest.param("true", True, id="true"),
        pytest.param("True", True, id="True"),
        pytest.param("FALSE", False, id="FALSE"),
        pytest.param("~", None, id="tilde-is-null"),
        pytest.param("null", None, id="null"),
        pytest.param("", None, id="nothing-is-null"),
        pytest.param('"true"', "true", id="quoted-true-is-text"),
        pytest.param("'5'", "5", id="quoted-number-is-text"),
    ],
)
def test_plain_scalars_follow_the_yaml_1_2_core_schema(written: str, read: object) -> None:
    value = load_yaml(f"v: {written}\n")["v"]
    assert value == read
    assert type(value) is type(read)


def test_an_anchor_without_an_alias_is_harmless() -> None:
    assert load_yaml("a: &name 1\nb: 2\n") == {"a": 1, "b": 2}


def test_a_document_with_explicit_start_and_end_markers_is_one_document() -> None:
    assert load_yaml("---\nseam: 1\n...\n") == {"seam": 1}


def test_everything_loaded_is_plain_json_data() -> None:
    for example in EXAMPLES:
        data = load_yaml(example.read_text(encoding="utf-8"))
        assert json.loads(json.dumps(data)) == data, example.name


# ---- refusals -----------------------------------------------------------------------------------


def test_a_single_alias_is_refused_naming_it_and_its_line() -> None:
    found = problem("id: &i a1\nsession_id: *i\n")
    assert found.message == "YAML aliases (*i) are not allowed in intents"
    assert found.line == 2


def test_an_alias_bomb_is_refused_before_anything_is_expanded() -> None:
    lines = ["a: &a [" + ", ".join(["lol"] * 9) + "]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    assert "aliases (*a)" in problem("\n".join(lines)).message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("v: " + "[" * 30_000, id="flow-sequences"),
        pytest.param("v: " + "{a: " * 30_000, id="flow-mappings"),
        pytest.param("- " * 30_000 + "x\n", id="block-sequences"),
        pytest.param("".join(f"{' ' * i}k:\n" for i in range(3_000)), id="block-mappings"),
    ],
)
def test_deep_nesting_is_refused_without_reaching_the_recursive_composer(text: str) -> None:
    # libyaml's C composer overflows the C stack at ~25,000 levels: a segfault, not an exception.
    assert problem(text).message == "nesting deeper than 32 levels is not allowed"


class _LibyamlWithItsOwnLimit:
    """A C parser that refuses nesting past 3 levels in words of its own, as PyYAML 6.0.4's libyaml does
    (with its own limit and wording): seam's own depth limit must still be what the author reads."""

    def __init__(self, text: str) -> None:
        from seam.yamlsafe import _Loader

        self._inner = _Loader(text)
        self._depth = 0

    def check_event(self) -> bool:
        return bool(self._inner.check_event())

    def get_event(self) -> Any:
        import yaml

        event = self._inner.get_event()
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self._depth += 1
            if self._depth > 3:
                raise yaml.MarkedYAMLError(
                    "while scanning", event.start_mark, "a wording seam does not own", event.start_mark
                )
        return event

    def dispose(self) -> None:
        self._inner.dispose()


def test_seams_depth_message_wins_when_the_c_parser_refuses_deep_nesting_first() -> None:
    from seam.yamlsafe import _check_structure

    with pytest.raises(YamlProblem) as caught:
        _check_structure("v: " + "[" * 40 + "]" * 40, 32, parser=_LibyamlWithItsOwnLimit)
    assert caught.value.message == "nesting deeper than 32 levels is not allowed"


def test_a_real_syntax_error_found_by_the_c_parser_is_still_reported_as_one() -> None:
    found = problem("v: [1, 2\nw: }\n")
    assert found.message.startswith("YAML syntax error")
    assert found.line is not None


def test_nesting_up_to_the_limit_is_read_and_one_more_level_is_refused() -> None:
    assert load_yaml("[" * 5 + "]" * 5, max_depth=5) == [[[[[]]]]]
    assert "deeper than 5 levels" in problem("[" * 6 + "]" * 6, max_depth=5).message


def test_a_second_document_is_refused() -> None:
    found = problem("seam: 1\n---\nseam: 1\n")
    assert found.message == "only one YAML document per file is allowed"
    assert found.line == 2


@pytest.mark.parametrize(
    ("text", "path"),
    [
        pytest.param("id: a\nid: b\n", "id", id="top-level"),
        pytest.param("payload:\n  reason: a\n  reason: b\n", "payload.reason", id="nested"),
        pytest.param("payload:\n  filter:\n    - {op: '<', op: '>'}\n", "payload.filter[0].op", id="in-a-list"),
        pytest.param("{1: a, 0x1: b}\n", "0x1", id="same-number-written-two-ways"),
    ],
)
def test_a_duplicate_key_is_refused_naming_its_path(text: str, path: str) -> None:
    found = problem(text)
    assert found.path == path
    assert found.message.startswith("duplicate key ")
    assert "each key may appear only once" in found.message


def test_a_list_used_as_a_mapping_key_is_refused() -> None:
    found = problem("payload:\n  ? [a, b]\n  : 1\n")
    assert found.message == "a mapping key must be a plain value"
    assert found.path == "payload.?"


@pytest.mark.parametrize(
    ("text", "tag", "path"),
    [
        pytest.param(
            "payload: !!python/object/apply:os.system ['touch pwned']\n",
            "!!python/object/apply:os.system",
            "payload",
            id="python-object",
        ),
        pytest.param(
            "payload: !!python/name:builtins.print\n", "!!python/name:builtins.print", "payload", id="python-name"
        ),
        pytest.param("created_at: !!timestamp 2026-11-21T09:05:00Z\n", "!!timestamp", "created_at", id="timestamp"),
        pytest.param("payload: {items: !!set {a, b}}\n", "!!set", "payload.items", id="set"),
        pytest.param("payload: {blob: !!binary aGVsbG8=}\n", "!!binary", "payload.blob", id="binary"),
        pytest.param("payload: !!omap [a: 1]\n", "!!omap", "payload", id="omap"),
        pytest.param("payload: {list: [1, !local 2]}\n", "!local", "payload.list[1]", id="local-tag"),
        pytest.param("payload: !!merge {}\n", "!!merge", "payload", id="merge"),
    ],
)
def test_explicit_tags_outside_the_core_schema_are_refused_naming_the_field(text: str, tag: str, path: str) -> None:
    found = problem(text)
    assert found.message == f"the YAML tag {tag} is not allowed in intents"
    assert found.path == path


@pytest.mark.parametrize(
    ("written", "read"),
    [
        pytest.param("!!str 5", "5", id="str"),
        pytest.param('!!int "12"', 12, id="int"),
        pytest.param("!!float 1", 1.0, id="float"),
        pytest.param("!!bool True", True, id="bool"),
        pytest.param("!!null ''", None, id="null"),
    ],
)
def test_explicit_core_tags_are_allowed(written: str, read: object) -> None:
    value = load_yaml(f"v: {written}\n")["v"]
    assert value == read and type(value) is type(read)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        pytest.param("!!bool maybe", "'maybe' is not true or false", id="bool-maybe"),
        pytest.param("!!bool yes", "'yes' is not true or false", id="bool-yes"),
        pytest.param("!!int abc", "'abc' is not a whole number", id="int-abc"),
        pytest.param("!!int 12:30", "'12:30' is not a whole number", id="int-sexagesimal"),
        pytest.param("!!float .nan", "'.nan' is not a number", id="float-dot-nan"),
    ],
)
def test_a_core_tag_on_a_value_it_cannot_read_is_a_problem_not_a_crash(written: str, message: str) -> None:
    found = problem(f"payload:\n  v: {written}\n")
    assert found.message == message
    assert found.path == "payload.v"
    assert found.line == 2


def test_a_5000_digit_integer_is_refused_by_length_naming_the_field() -> None:
    found = problem("payload:\n  confidence: " + "9" * 5000 + "\n")
    assert found.message == "number with 5000 characters is too long"
    assert found.path == "payload.confidence"


def test_a_40_digit_integer_is_still_read() -> None:
    assert load_yaml("v: " + "1" * 40) == {"v": int("1" * 40)}


def test_a_long_float_is_refused_by_length() -> None:
    assert "too long" in problem("v: 0." + "1" * 60).message


def test_a_syntax_error_gives_the_reason_line_and_column() -> None:
    found = problem("seam: 1\nid: a\n  kind: status\n")
    assert found.message == "YAML syntax error: mapping values are not allowed in this context"
    assert (found.line, found.column) == (3, 7)
    assert str(found) == "YAML syntax error: mapping values are not allowed in this context (line 3, column 7)"


def test_a_tab_used_for_indentation_is_named_as_the_problem() -> None:
    found = problem("payload:\n\treason: tabbed\n")
    assert "a tab: YAML indents with spaces, never tabs" in found.message
    assert found.line == 2


def test_an_unclosed_bracket_is_a_syntax_error() -> None:
    assert "did not find expected ',' or ']'" in problem("v: [1, 2\n").message


def test_a_control_character_is_refused_with_its_code_and_line() -> None:
    found = problem("a: 1\nb: ring\x07bell\n")
    assert found.message == "control characters are not allowed (found character #x0007)"
    assert found.line == 2


# ---- dump_yaml: what seam writes, it reads back the same ---------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "012389",
        "020968",
        "012345",
        "NO",
        "yes",
        "on",
        "1.0",
        "1e3",
        "0x1F",
        "0o17",
        "true",
        "False",
        "null",
        "~",
        "",
        "12:30:00",
        "2026-11-18",
        "-5",
        "+7",
        ".5",
        "EURUSD",
        "a: b",
        "- x",
        "# not a comment",
        "café ☕",
    ],
)
def test_a_string_written_by_dump_yaml_reads_back_as_the_same_string(text: str) -> None:
    from seam.yamlsafe import dump_yaml

    assert load_yaml(dump_yaml({"code": text})) == {"code": text}


def test_dump_yaml_keeps_numbers_booleans_and_order() -> None:
    from seam.yamlsafe import dump_yaml

    value = {"seam": 1, "id": "a-1", "kind": "approve", "payload": {"entry": 1.085, "ok": True, "none": None}}
    text = dump_yaml(value)
    assert load_yaml(text) == value
    assert text.splitlines()[:3] == ["seam: 1", "id: a-1", "kind: approve"]


_WORDS = ["status", "mcp", "EURUSD", "a-1", "x.y_z", "yes", "No", "null", "True", "off", "y", "n", "e1", "inf", "nan"]
_OTHERS = ["1.5", "012389", "0x1F", "-3", "a b", "café", "", "a: b", "#x", "~", "x" * 70, "=", "<<"]


def _random_document(rng: random.Random, depth: int = 0) -> dict[str, object]:
    def scalar() -> object:
        return rng.choice(
            [rng.choice(_WORDS), rng.choice(_OTHERS), rng.randint(-(10**12), 10**12), True, False, None, 1.25]
        )

    document: dict[str, object] = {}
    for _ in range(rng.randint(0, 5)):
        key = rng.choice([*_WORDS, *_OTHERS[:3]])
        roll = rng.random()
        if roll < 0.15 and depth < 3:
            document[key] = _random_document(rng, depth + 1)
        elif roll < 0.2:
            document[key] = [scalar()]
        else:
            document[key] = scalar()
    return document


def test_the_short_path_for_simple_intents_writes_exactly_what_pyyaml_writes() -> None:
    from seam.yamlsafe import _dump_full, _dump_simple, dump_yaml

    rng = random.Random(20261203)
    short = 0
    for _ in range(3000):
        document = _random_document(rng)
        fast = _dump_simple(document)
        if fast is not None:
            short += 1
            assert fast == _dump_full(document), document
        assert dump_yaml(document) == _dump_full(document)
        assert load_yaml(dump_yaml(document)) == document
    assert short > 300  # the short path is taken, not skipped each time
    status = {"seam": 1, "id": "status-20261203T154847-4e74ad", "kind": "status", "session_id": "mcp", "payload": {}}
    assert _dump_simple(status) == _dump_full(status)
