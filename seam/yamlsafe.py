"""Safe YAML for untrusted input: bounded depth, no aliases, no YAML 1.1 surprises, no duplicate keys.

Why each limit exists (each was measured on PyYAML 6 with libyaml):
- libyaml's C composer recurses once per nesting level and overflows the C stack (a segfault that
  kills the whole daemon) at roughly 25,000 levels, i.e. a 50 KB file. libyaml's *event parser* keeps
  an explicit stack, so we walk the events first and stop at `max_depth` before the composer runs.
- An alias bomb loads quickly but expands to billions of nodes when walked; intents never need
  anchors and aliases, so an alias is refused outright.
- YAML 1.1 turns `NO`/`on` into booleans, `12:30:00` into an integer, `012` into octal 10 and bare
  dates into date objects. The resolver here follows the YAML 1.2 core schema instead: only
  true/false are booleans, numbers are plain decimal (or 0x / 0o), and everything else is a string
  that the schema then checks.
- A 5,000-digit integer makes int() raise ValueError (not a YAML error); numbers are length-bounded.
- Duplicate keys silently keep the last value in PyYAML; here they are an error naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import BaseResolver

__all__ = ["YamlProblem", "decode_text", "load_yaml"]

try:  # the C parser is ~7x faster; the pure-Python one is a correct fallback
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - only where PyYAML was built without libyaml
    from yaml.parser import Parser as _ParserPy  # type: ignore[assignment]
    from yaml.reader import Reader
    from yaml.scanner import Scanner
    from yaml.composer import Composer

    class _Parser(Reader, Scanner, _ParserPy, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            _ParserPy.__init__(self)
            Composer.__init__(self)


MAX_NUMBER_CHARS = 40


@dataclass
class YamlProblem(Exception):
    """Why a text is not acceptable YAML for seam, in plain words, with a line when known."""

    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{self.message} ({where})"


class _CoreResolver(BaseResolver):
    """YAML 1.2 core schema: the only implicit types are null, true/false, int and float."""


_CoreResolver.yaml_implicit_resolvers = {}
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_CoreResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"),
    list("-+.0123456789"),
)


class _StrictConstructor(SafeConstructor):
    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:  # type: ignore[override]
        text = str(self.construct_scalar(node))
        if len(text) > MAX_NUMBER_CHARS:
            raise YamlProblem(f"number with {len(text)} characters is too long", node.start_mark.line + 1)
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:  # type: ignore[override]
        text = str(self.construct_scalar(node))
        if len(text) > MAX_NUMBER_CHARS:
            raise YamlProblem(f"number with {len(text)} characters is too long", node.start_mark.line + 1)
        return float(text)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:  # type: ignore[override]
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                raise YamlProblem("a mapping key must be a plain value", key_node.start_mark.line + 1) from None
            if duplicate:
                raise YamlProblem(f"duplicate key {key!r}", key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictConstructor.add_constructor("tag:yaml.org,2002:int", _StrictConstructor.construct_yaml_int)
_StrictConstructor.add_constructor("tag:yaml.org,2002:float", _StrictConstructor.construct_yaml_float)


class _Loader(_Parser, _StrictConstructor, _CoreResolver):  # type: ignore[misc, valid-type]
    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _StrictConstructor.__init__(self)
        _CoreResolver.__init__(self)


def decode_text(data: bytes) -> str:
    """Bytes → text, refusing binary and non-UTF-8 input; a UTF-8 byte-order mark is dropped."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise YamlProblem(f"this is a binary file, not YAML text (NUL byte at offset {nul})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise YamlProblem(f"the file is not UTF-8 text (byte 0x{bad} at offset {exc.start})") from None
    return text[1:] if text.startswith("\ufeff") else text


def _check_structure(text: str, max_depth: int) -> None:
    """Walk libyaml's event stream (iterative, no recursion) and enforce depth, aliases, one document."""
    loader = _Loader(text)
    depth = 0
    documents = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > max_depth:
                    raise YamlProblem(
                        f"nesting deeper than {max_depth} levels is not allowed",
                        event.start_mark.line + 1,
                    )
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                raise YamlProblem(
                    f"YAML aliases (*{event.anchor}) are not allowed in intents", event.start_mark.line + 1
                )
            elif isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise YamlProblem("only one YAML document per file is allowed", event.start_mark.line + 1)
    finally:
        loader.dispose()


def load_yaml(text: str, *, max_depth: int = 32) -> Any:
    """Parse untrusted YAML text under the limits described in the module docstring."""
    try:
        _check_structure(text, max_depth)
        loader = _Loader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "invalid YAML"
        raise YamlProblem(
            f"YAML syntax error: {reason}",
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"YAML error: {exc}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise YamlProblem(f"the YAML could not be read safely ({type(exc).__name__})") from None
