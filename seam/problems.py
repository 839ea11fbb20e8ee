"""Turn pydantic validation errors into Problems: a dotted path and a reason in plain words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from seam.errors import Problem
from seam.intent import ID_PATTERN

__all__ = ["format_path", "problems_from"]

_TYPE_WORDS = {
    "bool_type": "true or false",
    "int_type": "a whole number",
    "float_type": "a number",
    "string_type": "text",
    "dict_type": "a mapping (key: value lines)",
    "list_type": "a list",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    # lax mode (the configuration) parses text first and reports these instead
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "bool_parsing": "true or false",
}


_PATTERN_WORDS = {
    ID_PATTERN: "1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit "
    "(no slashes, spaces or '..' paths)",
    r"^[0-9]{6}$": "exactly 6 digits",
    r"^[A-Za-z0-9._-]+$": "letters, digits, '.', '_' or '-' only",
    r"^[1-9][0-9]{0,3}[mhdw]$": "a number and a unit m, h, d or w, such as 30m, 24h or 7d",
    r"^[A-Fa-f0-9]{8,128}$": "8-128 hexadecimal digits",
    r"^[A-Z_]{2,32}$": "2-32 capital letters or '_'",
    r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$": "a dataset name: letters, digits, '.', '_', '-' or '/', "
    "starting with a letter or digit",
    r"^[a-z_][a-z0-9_]{0,31}$": "a column name: up to 32 lowercase letters, digits or '_', not starting with a digit",
    r"^[a-z_][a-z0-9_]{0,63}$": "a name of up to 64 lowercase letters, digits or '_', not starting with a digit",
}


def format_path(loc: Sequence[int | str], prefix: str = "") -> str:
    path = prefix
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key itself" of a dict entry
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def _shown(value: Any) -> str:
    if isinstance(value, bool) or value is None:  # as YAML writes them
        return {True: "true", False: "false", None: "null"}[value]
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _yaml_type(value: Any) -> str:
    if isinstance(value, _Hidden):
        return "a value"
    if value is None:
        return "empty"
    return {
        bool: "a boolean",
        int: "a whole number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _message(err: dict[str, Any], allowed: Iterable[str]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "code_not_text":
        return 'must be text: write the code in quotes, e.g. code: "012345" (YAML reads 012345 as a number)'
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        names = ", ".join(sorted(allowed))
        return f"is not an allowed field here (allowed: {names})" if names else "is not an allowed field here"
    if kind in _TYPE_WORDS:
        hint = ""
        if kind in ("bool_type", "bool_parsing") and isinstance(value, str):
            hint = "; seam reads YAML 1.2, where only true and false are booleans"
        got = "nothing" if value is None else f"{_yaml_type(value)} {_shown(value)}"
        return f"must be {_TYPE_WORDS[kind]} (got {got}{hint})"
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "?"))
        if " or " not in expected:  # a single allowed value, e.g. `seam: 1`
            return f"must be {expected} (got {_yaml_type(value)} {_shown(value)})"
        return f"must be one of {expected} (got {_shown(value)})"
    if kind == "union_tag_invalid":  # reported at the tag field itself (see problems_from)
        return f"must be one of {ctx.get('expected_tags', '?')} (got {_shown(ctx.get('tag'))})"
    if kind == "union_tag_not_found":
        return "is required"
    if kind == "string_pattern_mismatch":
        words = _PATTERN_WORDS.get(str(ctx.get("pattern")), f"the form {ctx.get('pattern')}")
        return f"must be {words} (got {_shown(value)})"
    if kind in ("string_too_long", "too_long"):
        return f"is too long: at most {ctx.get('max_length')} (got {_shown(value)})"
    if kind in ("string_too_short", "too_short"):
        return f"is too short: at least {ctx.get('min_length')} (got {_shown(value)})"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        words = {
            "greater_than": "greater than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }[kind]
        bound = next(iter(ctx.values()), "?")
        return f"must be {words} {bound} (got {_shown(value)})"
    if kind == "timezone_aware":
        return f"needs a timezone, e.g. 2026-11-21T09:05:00Z (got {_shown(value)})"
    if kind.startswith("datetime"):
        return f"must be an ISO 8601 date-time such as 2026-11-21T09:05:00Z (got {_shown(value)})"
    if kind == "finite_number":
        return "must be a finite number"
    message = str(err.get("msg", "is not valid"))
    return message[0].lower() + message[1:] if message else "is not valid"


_ABSENT = object()


def _data_path(loc: list[int | str], data: Any, keep_last_absent: bool) -> list[int | str]:
    """The part of a pydantic location that names places in the data.

    A plain union (`str | int | float`) adds one location entry per member it tried ('str', 'int',
    'list[...]'); those are not in the data and would read like fields (`payload.params.a.str`).
    """
    kept: list[int | str] = []
    node = data
    for index, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif not (keep_last_absent and index == len(loc) - 1):
            continue  # a union member's name, or pydantic's "[key]" marker
        kept.append(part)
    return kept


def _join_or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _merged(errors: list[dict[str, Any]], names: Iterable[str]) -> str:
    """One message for one path: the union members' type errors become 'must be X, Y or Z (got ...)'."""
    if len(errors) > 1 and all(e["type"] in _TYPE_WORDS for e in errors):
        words = list(dict.fromkeys(_TYPE_WORDS[e["type"]] for e in errors))
        value = errors[0].get("input")
        got = "nothing" if value is None else f"{_yaml_type(value)} {_shown(value)}"
        return f"must be {_join_or(words)} (got {got})"
    return "; or ".join(dict.fromkeys(_message(e, names) for e in errors))


SECRET_FIELDS = frozenset({"code"})


class _Hidden:
    def __repr__(self) -> str:
        return "(not shown)"


def problems_from(
    exc: ValidationError,
    *,
    prefix: str = "",
    allowed: Mapping[str, Iterable[str]] | None = None,
    drop_tag: set[str] | None = None,
    data: Any = _ABSENT,
) -> list[Problem]:
    """One Problem per field path. `allowed` maps a path to the field names valid there; `data` is the
    validated input, used to keep union members' names out of the paths."""
    grouped: dict[str, list[Any]] = {}
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        if drop_tag and loc and loc[0] in drop_tag:
            loc = loc[1:]  # a discriminated union puts its tag first; the reader wants the field
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            # pydantic reports a bad or missing tag at the union; the reader wants the tag's own field
            loc.append(str((err.get("ctx") or {}).get("discriminator", "")).strip("'\""))
        if data is not _ABSENT:
            loc = _data_path(loc, data, keep_last_absent=err["type"] in ("missing", "union_tag_not_found"))
        if loc and loc[-1] in SECRET_FIELDS:
            # INV: an approval code is never echoed, not even a wrong one, in any response or bead
            if err["type"] == "string_type":
                err = {**err, "type": "code_not_text"}
            err = {**err, "input": _Hidden()}
        grouped.setdefault(format_path(loc, prefix), []).append(err)
    problems: list[Problem] = []
    for path, errors in grouped.items():
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        names = (allowed or {}).get(parent, ()) if errors[0]["type"] == "extra_forbidden" else ()
        problems.append(Problem(path, _merged(errors, names)))
    return problems
