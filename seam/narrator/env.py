"""The one Jinja2 environment: every response body, alert and note seam writes is rendered here.

StrictUndefined makes a missing fact an error at render time, never a blank in front of a trader. The loader
runs the word guard over each template's source as it is loaded, and `render` runs it over each output, so a
template or a response holding an advisory, causal or ranking word is refused instead of written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2 import BaseLoader, Environment, PackageLoader, StrictUndefined

from seam.errors import ConfigError
from seam.narrator.guard import DEFAULT_WORDS, ECHO_CLOSE, ECHO_OPEN, Echoed, Guard, WordRefused, echo, strip_marks

__all__ = [
    "ENV",
    "GUARD",
    "GuardedLoader",
    "build_environment",
    "check_templates",
    "render",
    "set_words",
    "template_names",
]

SUFFIX = ".md.j2"


class GuardedLoader(BaseLoader):
    """Another loader's templates, each checked by the guard as it is loaded."""

    def __init__(self, inner: BaseLoader, guard: Guard) -> None:
        self.inner = inner
        self.guard = guard

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        # INV: no template holding a guarded word is ever compiled
        self.guard.check_source(source, where=f"template {template}")
        return source, filename, uptodate

    def list_templates(self) -> list[str]:
        return self.inner.list_templates()


def _finalize(value: Any) -> Any:
    """Every printed value: the agent's own text (`echo`) between the echo marks, any other text without marks."""
    if isinstance(value, Echoed):
        return ECHO_OPEN + strip_marks(value) + ECHO_CLOSE
    if isinstance(value, str):
        return strip_marks(value)
    return value


def build_environment(loader: BaseLoader, guard: Guard) -> Environment:
    env = Environment(
        loader=GuardedLoader(loader, guard),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
        # templates are read once and kept (a live word-list change reloads them all: check_templates); no stat of
        # each template file at every render
        auto_reload=False,
    )
    env.filters["echo"] = echo
    return env


GUARD = Guard(DEFAULT_WORDS)
ENV = build_environment(PackageLoader("seam", "templates"), GUARD)


def template_names(env: Environment = ENV) -> list[str]:
    return [name.removesuffix(SUFFIX) for name in env.list_templates(filter_func=lambda n: n.endswith(SUFFIX))]


def render(name: str, context: Mapping[str, Any], *, echoed: Iterable[str] = (), env: Environment = ENV) -> str:
    """The named template (`briefing` reads briefing.md.j2) rendered with these facts, checked by the guard:
    WordRefused when seam's own words in it advise, claim a cause or rank. `echoed` names further strings the
    agent supplied (the intent's id and payload text), which the guard does not read."""
    text = env.get_template(f"{name}{SUFFIX}").render(context)
    guard = env.loader.guard if isinstance(env.loader, GuardedLoader) else GUARD
    return guard.check(text, where=f"the {name} template's output", echoed=echoed).strip() + "\n"


def check_templates(env: Environment = ENV) -> list[str]:
    """Load (and so check) every template now; WordRefused names the first that holds a guarded word.
    Returns the names checked."""
    names = template_names(env)
    if env.cache is not None:
        env.cache.clear()  # loaded again, so checked with the words in force now
    for name in names:
        env.get_template(f"{name}{SUFFIX}")
    return names


def set_words(words: Iterable[str], env: Environment = ENV) -> None:
    """Replace the guarded words (at start and at a live configuration reload). Every template is checked
    against the new list first: when one holds a new word, the old list stays in force and ConfigError names
    the setting, the template and the word (the operator fixes one or the other)."""
    loader = env.loader
    assert isinstance(loader, GuardedLoader)
    wanted = tuple(words)
    if tuple(loader.guard.words) == tuple(dict.fromkeys(w.strip().lower() for w in wanted if w.strip())):
        return
    trial = Guard(wanted)
    for name in template_names(env):
        source = loader.inner.get_source(env, f"{name}{SUFFIX}")[0]
        try:
            trial.check_source(source, where=f"template {name}{SUFFIX}")
        except WordRefused as refused:
            raise ConfigError("narrator.words", f"{refused.message}; the words in force stay") from None
    loader.guard.set_words(wanted)
    if env.cache is not None:
        env.cache.clear()
