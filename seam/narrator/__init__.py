"""Narrator stage: one Jinja2 environment owns every template, and the word guard checks them all.

    env       the environment (StrictUndefined), its guarded loader, `render`, `check_templates`, `set_words`
    guard     Guard, WordRefused, the `echo` mark for the agent's own text, the default word list
    facts     facts drawn from beads for briefing, health, weekly_review and memory answers

Every rendered output passes the guard before anyone reads it; a refused one raises WordRefused, which
names the guard and the word, never the refused text.
"""

from __future__ import annotations

from seam.narrator.env import ENV, GUARD, build_environment, check_templates, render, set_words, template_names
from seam.narrator.guard import DEFAULT_WORDS, GUARD_NAME, Echoed, Guard, WordRefused, echo, strip_marks

__all__ = [
    "DEFAULT_WORDS",
    "ENV",
    "GUARD",
    "GUARD_NAME",
    "Echoed",
    "Guard",
    "WordRefused",
    "agent_strings",
    "build_environment",
    "check_templates",
    "echo",
    "render",
    "set_words",
    "strip_marks",
    "template_names",
]


def agent_strings(value: object) -> list[str]:
    """Every text value in an intent's payload (nested), for `render(..., echoed=...)`: the agent's own words."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return found
