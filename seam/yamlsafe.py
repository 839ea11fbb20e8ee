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
- Explicit tags other than the core ones (`!!timestamp`, `!!set`, `!!binary`, `!!python/...`) would
  build values that are not JSON-like (or run constructors we never want); they are refused.
Every problem carries the dotted path of the node it is about (`payload.reason`) when one is known.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.parser import Parser as ParserPy
from yaml.reader import Reader, ReaderError
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

__all__ = ["YamlProblem", "decode_text", "dump_yaml", "load_yaml"]

try:  # the C parser is ~7x faster; the pure-Python one is a correct fallback
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - only where PyYAML was built without libyaml
    from yaml.composer import Composer

    class _Parser(Reader, Scanner, ParserPy, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            ParserPy.__init__(self)
            Composer.__init__(self)


MAX_NUMBER_CHARS = 40
_CORE = "tag:yaml.org,2002:"
# Explicit tags allowed in intents: the ones the core resolver itself produces, nothing else.
_ALLOWED_TAGS = frozenset(_CORE + name for name in ("null", "bool", "int", "float", "str", "seq", "map"))


@dataclass
class YamlProblem(Exception):
    """Why a text is not acceptable YAML for seam, in plain words, with a line when known."""

    message: str
    line: int | None = None
    column: int | None = None
    path: str = ""

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
    def __init__(self) -> None:
        super().__init__()
        self.node_paths: dict[int, str] = {}  # id(node) -> dotted path, filled in by load_yaml

    def _problem(self, message: str, node: yaml.Node) -> YamlProblem:
        return YamlProblem(message, node.start_mark.line + 1, path=self.node_paths.get(id(node), ""))

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        if len(text) > MAX_NUMBER_CHARS:
            raise self._problem(f"number with {len(text)} characters is too long", node)
        try:
            if text.startswith("0o"):
                return int(text[2:], 8)
            if text.startswith("0x"):
                return int(text[2:], 16)
            return int(text, 10)
        except ValueError:  # only reachable through an explicit !!int tag
            raise self._problem(f"{text!r} is not a whole number", node) from None

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        text = str(self.construct_scalar(node))
        if len(text) > MAX_NUMBER_CHARS:
            raise self._problem(f"number with {len(text)} characters is too long", node)
        try:
            return float(text)
        except ValueError:  # only reachable through an explicit !!float tag
            raise self._problem(f"{text!r} is not a number", node) from None

    def construct_yaml_bool(self, node: yaml.ScalarNode) -> bool:
        # SafeConstructor maps YAML 1.1 words (yes/no/on/off) and raises KeyError on anything else.
        text = str(self.construct_scalar(node)).lower()
        if text not in ("true", "false"):
            raise self._problem(f"{text!r} is not true or false", node)
        return text == "true"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                raise self._problem("a mapping key must be a plain value", key_node) from None
            if duplicate:
                raise self._problem(f"duplicate key {key!r}: each key may appear only once", key_node)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# the stubs type add_constructor for the stock loaders only
_add = _StrictConstructor.add_constructor
_add("tag:yaml.org,2002:int", _StrictConstructor.construct_yaml_int)  # type: ignore[type-var]
_add("tag:yaml.org,2002:float", _StrictConstructor.construct_yaml_float)  # type: ignore[type-var]
_add("tag:yaml.org,2002:bool", _StrictConstructor.construct_yaml_bool)  # type: ignore[type-var]


class _Loader(_Parser, _StrictConstructor, _CoreResolver):
    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _StrictConstructor.__init__(self)
        _CoreResolver.__init__(self)


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


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


def _walk_events(loader: Any, max_depth: int) -> None:
    """Walk a parser's event stream (iterative, no recursion) and enforce depth, aliases, one document."""
    depth = 0
    documents = 0
    while loader.check_event():
        event = loader.get_event()
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > max_depth:
                raise YamlProblem(f"nesting deeper than {max_depth} levels is not allowed", _line(event.start_mark))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            raise YamlProblem(f"YAML aliases (*{event.anchor}) are not allowed in intents", _line(event.start_mark))
        elif isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise YamlProblem("only one YAML document per file is allowed", _line(event.start_mark))


class _EventParserPy(Reader, Scanner, ParserPy):
    """PyYAML's pure-Python event parser: explicit stacks and no nesting limit of its own."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        ParserPy.__init__(self)

    def dispose(self) -> None:
        self.states = []


def _check_structure(text: str, max_depth: int, parser: Callable[[str], Any] | None = None) -> None:
    """Enforce seam's structural limits before any composer sees the text.

    libyaml scans ahead of the events it hands out, and newer releases stop deep nesting with an error
    of their own before our depth check sees the level that breaks the limit. So when libyaml stops the
    walk, the walk is repeated with the pure-Python parser, and seam's own limit, when it is the first
    thing wrong, is what the author reads.
    """
    loader = (parser or _Loader)(text)
    try:
        _walk_events(loader, max_depth)
    except (yaml.MarkedYAMLError, ReaderError) as first:
        try:
            fallback = _EventParserPy(text)
            try:
                _walk_events(fallback, max_depth)
            finally:
                fallback.dispose()
        except (yaml.YAMLError, ValueError, RecursionError):
            pass  # a syntax error of its own: the one libyaml found is reported
        raise first
    finally:
        loader.dispose()


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _node_paths(root: yaml.Node) -> dict[int, str]:
    """id(node) → dotted path for every node (iteratively; aliases are already refused, so it is a tree).

    Refuses explicit tags outside the core schema on the way.
    """
    paths: dict[int, str] = {}
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        paths[id(node)] = path
        if node.tag not in _ALLOWED_TAGS:
            raise YamlProblem(
                f"the YAML tag {_short_tag(node.tag)} is not allowed in intents", node.start_mark.line + 1, path=path
            )
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                label = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                child = f"{path}.{label}" if path else str(label)
                stack.append((key_node, child))
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{index}]") for index, item in enumerate(node.value))
    return paths


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    reason = exc.problem or exc.context or "invalid YAML"
    if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
        reason += " (a tab: YAML indents with spaces, never tabs)"
    return YamlProblem(
        f"YAML syntax error: {reason}",
        mark.line + 1 if mark else None,
        mark.column + 1 if mark else None,
    )


def load_yaml(text: str, *, max_depth: int = 32) -> Any:
    """Parse untrusted YAML text under the limits described in the module docstring."""
    try:
        _check_structure(text, max_depth)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            loader.node_paths = _node_paths(node)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        raise _syntax_problem(exc, text) from None
    except ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1 if isinstance(exc.position, int) else None
        raise YamlProblem(f"{exc.reason} (found character #x{exc.character:04x})", line) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"YAML error: {exc}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise YamlProblem(f"the YAML could not be read safely ({type(exc).__name__})") from None


try:  # libyaml's emitter: the same text as the pure-Python one, ~5x faster
    _SafeDumper: type[yaml.SafeDumper] = yaml.CSafeDumper  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - only where PyYAML was built without libyaml
    _SafeDumper = yaml.SafeDumper


class _Dumper(_SafeDumper):  # type: ignore[valid-type,misc]
    """PyYAML's safe dumper, quoting every string that a YAML reader could take for something else."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML quotes what YAML 1.1 would misread, and no more: `012389` (not a 1.1 octal) stays plain,
    # and seam's YAML 1.2 reader then takes it for the number 12389. So a string is written plain only
    # when both resolvers read it back as a string.
    plain_tag = _CoreResolver().resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    if plain_tag != _CORE + "str":
        return dumper.represent_scalar(_CORE + "str", value, style='"')
    return dumper.represent_str(value)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(value: Any) -> str:
    """JSON-like data as YAML text that `load_yaml` reads back equal (mapping order kept)."""
    fast = _dump_simple(value) if isinstance(value, dict) else None
    return fast if fast is not None else _dump_full(value)


def _dump_full(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


# A word PyYAML writes plain, and both resolvers read back as text, is written here without its machinery: most
# intents (`status`, `positions`, a halt's id and kind) are mappings of such words, numbers and flags only.
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_SCALARS: dict[object, str] = {None: "null", True: "true", False: "false"}


@functools.lru_cache(maxsize=4096)
def _plain_word(text: str) -> bool:
    if len(text) > 64 or not _WORD.fullmatch(text):
        return False
    node = (yaml.ScalarNode, text, (True, False))
    return bool(
        _CoreResolver().resolve(*node) == _CORE + "str"  # type: ignore[no-untyped-call]
        and yaml.resolver.Resolver().resolve(*node) == _CORE + "str"  # type: ignore[no-untyped-call]
    )


def _dump_simple(value: dict[Any, Any], indent: str = "") -> str | None:
    """The text `_dump_full` gives for a mapping of words, integers, booleans, nulls and such mappings; None for
    anything else (a float, a list, a string that needs quotes or may be folded), which takes the full path.
    tests/test_yamlsafe.py compares the two on many documents."""
    if not value:
        return "{}\n" if not indent else None
    lines = []
    for key, item in value.items():
        if type(key) is not str or not _plain_word(key):
            return None
        kind = type(item)
        if kind is str:
            if not _plain_word(item):
                return None
            lines.append(f"{indent}{key}: {item}\n")
        elif kind is int:
            lines.append(f"{indent}{key}: {item}\n")
        elif item is None or kind is bool:
            lines.append(f"{indent}{key}: {_SCALARS[item]}\n")
        elif kind is dict:
            if not item:
                lines.append(f"{indent}{key}: {{}}\n")
                continue
            inner = _dump_simple(item, indent + "  ")
            if inner is None:
                return None
            lines.append(f"{indent}{key}:\n{inner}")
        else:
            return None
    return "".join(lines)
