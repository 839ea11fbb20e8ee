"""The word guard: seam's own words never advise, claim a cause or rank; a response that would is refused.

The guard checks template sources when they are loaded and every rendered output before it is written.
Text the agent supplied (a note, a thesis, an id) is echoed back as it came: templates mark it with the
`echo` filter (and a caller may name such strings), and the guard masks those spans before it looks, so an
agent's "because" is answered normally while a seam-produced "because" fails loudly.

Echoed text travels through rendering between two private-use characters (ECHO_OPEN, ECHO_CLOSE); the
guard removes them from the text it returns, and any the agent's own text carried are dropped at `echo`,
so the agent cannot open or close a masked span.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from seam.errors import GuardViolation

__all__ = [
    "DEFAULT_WORDS",
    "ECHO_CLOSE",
    "ECHO_OPEN",
    "GUARD_NAME",
    "Echoed",
    "Guard",
    "WordRefused",
    "echo",
    "strip_marks",
]

GUARD_NAME = "narrator.words"

# Advisory (recommend, should, ...), causal (because, therefore) and ranking (best, worst, outperform)
# words, matched as whole words, case-insensitive. "top" is left out on purpose: seam's own validation
# says "the top level must be a mapping", a fact about a file, not a ranking.
DEFAULT_WORDS: tuple[str, ...] = (
    "recommend",
    "recommends",
    "recommended",
    "recommendation",
    "should",
    "suggest",
    "suggests",
    "likely",
    "unlikely",
    "predict",
    "predicts",
    "prediction",
    "best",
    "worst",
    "better",
    "because",
    "therefore",
    "consider",
    "ought",
    "advise",
    "outperform",
    "underperform",
)

ECHO_OPEN = "\ue000"
ECHO_CLOSE = "\ue001"
_ECHOED_SPAN = re.compile(f"{ECHO_OPEN}[^{ECHO_CLOSE}]*{ECHO_CLOSE}")
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


class Echoed(str):
    """A value the agent supplied, printed as it came; the guard does not read it."""


def echo(value: object) -> Echoed:
    """The `echo` filter: mark a value as the agent's own text (None prints as "-")."""
    return Echoed("-" if value is None else str(value))


def strip_marks(text: str) -> str:
    # two plain replaces: str.translate walks the text a character at a time, several times slower on a response
    return text.replace(ECHO_OPEN, "").replace(ECHO_CLOSE, "")


class WordRefused(GuardViolation):
    """Seam's own text holds a guarded word. Names the word and where, never the refused text."""

    def __init__(self, word: str, where: str) -> None:
        super().__init__(GUARD_NAME, f"{where} holds the guarded word {word!r}")
        self.word = word
        self.where = where


@dataclass(frozen=True)
class _Compiled:
    words: tuple[str, ...]
    pattern: re.Pattern[str] | None


def _compile(words: Iterable[str]) -> _Compiled:
    cleaned = tuple(dict.fromkeys(w.strip().lower() for w in words if w.strip()))
    if not cleaned:
        return _Compiled((), None)
    alternatives = "|".join(re.escape(w) for w in sorted(cleaned, key=len, reverse=True))
    return _Compiled(cleaned, re.compile(rf"(?<![\w]){'(?:' + alternatives + ')'}(?![\w])", re.IGNORECASE))


def _is_word_char(text: str, at: int) -> bool:
    """Whether text[at] exists and is what a regular expression's \\w matches (a letter, digit or underscore)."""
    return 0 <= at < len(text) and (text[at].isalnum() or text[at] == "_")


def _blank_whole(text: str, value: str) -> str:
    """`text` with every whole occurrence of `value` (not inside a longer word: an echoed "e" must not cut seam's
    own "because" in two) replaced by a space, left to right. Plain searching: every intent's id is new, and a
    pattern compiled per id cost more than the rest of the check."""
    parts: list[str] = []
    start, at = 0, text.find(value)
    while at >= 0:
        end = at + len(value)
        if not _is_word_char(text, at - 1) and not _is_word_char(text, end):
            parts += (text[start:at], " ")
            start = end
            at = text.find(value, end)
        else:
            at = text.find(value, at + 1)
    parts.append(text[start:])
    return "".join(parts)


class Guard:
    """Refuses advisory, causal and ranking words in seam's own text. The word list may be replaced at run
    time (`set_words`, for a live configuration reload); a check sees one list, never half of two."""

    def __init__(self, words: Iterable[str] = DEFAULT_WORDS) -> None:
        self._compiled = _compile(words)
        self._lock = threading.Lock()

    @property
    def words(self) -> tuple[str, ...]:
        return self._compiled.words

    def set_words(self, words: Iterable[str]) -> None:
        compiled = _compile(words)
        with self._lock:
            self._compiled = compiled

    def found(self, text: str, *, echoed: Iterable[str] = ()) -> str | None:
        """The first guarded word in `text` outside echoed spans and the `echoed` strings, or None."""
        pattern = self._compiled.pattern
        if pattern is None:
            return None
        masked = _ECHOED_SPAN.sub(" ", text)
        for value in sorted({v for v in echoed if v.strip()}, key=len, reverse=True):
            masked = _blank_whole(masked, value)
        match = pattern.search(masked)
        return match.group(0).lower() if match else None

    def check(self, text: str, *, where: str, echoed: Iterable[str] = ()) -> str:
        """`text` without the echo marks, or WordRefused naming the word and `where`."""
        word = self.found(text, echoed=echoed)
        if word is not None:
            raise WordRefused(word, where)
        return strip_marks(text)

    def check_source(self, source: str, *, where: str) -> None:
        """A template's source: every part but Jinja comments (a comment is never output)."""
        word = self.found(_JINJA_COMMENT.sub(" ", source))
        if word is not None:
            raise WordRefused(word, where)
