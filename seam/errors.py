"""The one error tree of seam, grouped by who must act.

    SeamError                      root; never raised bare
    ├── ConfigError                the operator fixes seam.yaml / the environment (exit code 2)
    ├── IntentError                the intent's author fixes the intent (response status `rejected`)
    │   └── (carries `problems`: a list of Problem(path, message))
    ├── HandlerError               the system could not do it (response status `failed`)
    │   ├── HandlerTimeout         the handler ran past its kind's time limit
    │   ├── NotAvailable           the kind is defined but its handler has not landed
    │   └── BrokerError            the broker side failed
    │       └── BrokerUnavailable  the link is down: retry later
    ├── GuardViolation             a safety rule refused the action (never retried automatically)
    ├── ResponseTimeout            no response in time; the intent stays in the seam (exit code 3)
    ├── StoreError                 the bead store is unreadable or its chain is broken
    └── RegistryError              seam's own wiring is wrong (a kind routed twice or not at all): at start-up

Third-party exceptions are translated at the boundary where they occur (`raise ... from exc`).
The daemon loop is the only place with a broad `except`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BrokerError",
    "BrokerUnavailable",
    "ConfigError",
    "GuardViolation",
    "HandlerError",
    "HandlerTimeout",
    "IntentError",
    "NotAvailable",
    "Problem",
    "RegistryError",
    "ResponseTimeout",
    "SeamError",
    "StoreError",
]


class SeamError(Exception):
    """Root of every error seam raises on purpose."""


class ConfigError(SeamError):
    """Invalid configuration; `key` names the offending setting."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an intent: where (a dotted path) and why, in plain words."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class IntentError(SeamError):
    """The intent is wrong; the author must fix it. Carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("IntentError needs at least one problem")
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems

    @classmethod
    def single(cls, path: str, message: str) -> IntentError:
        return cls([Problem(path, message)])


class HandlerError(SeamError):
    """The system could not carry the intent out. `what_to_do` tells the reader the next step."""

    what_to_do = "Retry with the same id once the cause is cleared."

    def __init__(self, message: str, what_to_do: str | None = None) -> None:
        super().__init__(message)
        if what_to_do is not None:
            self.what_to_do = what_to_do


class HandlerTimeout(HandlerError):
    what_to_do = "Retry with the same id; raise handlers.timeouts for this kind if it keeps happening."


class NotAvailable(HandlerError):
    what_to_do = "This kind is defined and validated, but its handler is not part of this release."


class BrokerError(HandlerError):
    """The broker refused or failed."""


class BrokerUnavailable(BrokerError):
    what_to_do = "Retry with the same id once the broker link is back (`seam broker status`)."


class GuardViolation(SeamError):
    """A safety rule refused the action. `guard` names the rule."""

    def __init__(self, guard: str, message: str) -> None:
        super().__init__(f"{guard}: {message}")
        self.guard = guard
        self.message = message


class ResponseTimeout(SeamError):
    """No response arrived within the wait. The intent stays in the seam (`kept`: where it lies now, None once
    a daemon has filed it away) and is answered once a daemon takes it; `daemons` is how many were alive
    when the wait ended (0: the operator starts `seam watch`)."""

    def __init__(self, message: str, *, intent_id: str, timeout: float, daemons: int, kept: Path | None) -> None:
        super().__init__(message)
        self.intent_id = intent_id
        self.timeout = timeout
        self.daemons = daemons
        self.kept = kept


class StoreError(SeamError):
    """The bead store cannot be used as it is."""


class RegistryError(SeamError):
    """A defect in seam's wiring, found at start-up, before any intent is taken."""
