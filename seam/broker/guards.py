"""Broker guards: the mode is chosen once and checked against what the gateway really is.

    LIVE needs IBKR_ALLOW_LIVE=true in the start's own environment  (check_live_allowed)
    PAPER = port 4002 and a DU* account; LIVE = port 4001 and U*    (check_link)
    the mode never changes without a restart                        (ModeLock)
    account ids are shown masked, in any text                       (mask_account, mask_accounts_in)

`check_link` runs at connect (against the gateway's managed accounts, not only the configuration)
and again before every order. A mismatch sends nothing, raises a CRITICAL alert and a bead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from seam.broker.types import Mode
from seam.errors import GuardViolation

__all__ = [
    "ACCOUNT_ID",
    "EXPECTED",
    "ModeLock",
    "check_link",
    "check_live_allowed",
    "default_port",
    "mask_account",
    "mask_accounts_in",
]

# An IB account id anywhere in a text: DU (paper), DF (advisor) or U (live) and its digits, not inside a
# longer word or number (the IB wire log writes them between commas: "15,1,DU7654321").
ACCOUNT_ID = re.compile(r"(?<![A-Za-z0-9])(?:DU|DF|U)\d{4,}(?!\d)")


@dataclass(frozen=True)
class Expected:
    port: int
    account_prefix: str
    account_words: str


EXPECTED = {
    Mode.PAPER: Expected(4002, "DU", "a paper account (DU...)"),
    Mode.LIVE: Expected(4001, "U", "a live account (U..., not DU...)"),
}


def default_port(mode: Mode) -> int | None:
    expected = EXPECTED.get(mode)
    return expected.port if expected else None


def check_live_allowed(mode: Mode, allow_live: bool, *, only_in_dotenv: bool = False) -> None:
    """`allow_live` must come from the process environment of this start: the agent can write the seam's
    files (seam.yaml, .env), never the environment a human starts the daemon with. `only_in_dotenv` says
    the refusal's reader found IBKR_ALLOW_LIVE=true in .env, where it does not count."""
    # INV: LIVE only with IBKR_ALLOW_LIVE=true in the process environment at start, never from a file
    if mode is Mode.LIVE and not allow_live:
        message = (
            "LIVE mode needs IBKR_ALLOW_LIVE=true in the process environment of this start "
            "(never from .env or seam.yaml); the daemon did not start"
        )
        if only_in_dotenv:
            message += "; IBKR_ALLOW_LIVE=true was found only in the seam's .env, which does not count"
        raise GuardViolation("live_not_allowed", message)


def check_link(mode: Mode, port: int | None, accounts: list[str], configured_account: str | None) -> str:
    """The account to trade, or GuardViolation when port, account or mode disagree."""
    expected = EXPECTED.get(mode)
    if expected is None:
        return accounts[0] if accounts else ""
    if port != expected.port:
        raise GuardViolation("mode_port", f"{mode.upper()} mode needs port {expected.port}, the link uses port {port}")
    if not accounts:
        raise GuardViolation("mode_account", "the gateway reported no managed accounts")
    if configured_account is not None and configured_account not in accounts:
        raise GuardViolation(
            "mode_account",
            f"the configured account {_mask(configured_account)} is not among the gateway's accounts "
            f"({', '.join(_mask(a) for a in accounts)})",
        )
    account = configured_account or accounts[0]
    if not _matches(account, expected.account_prefix, mode):
        raise GuardViolation(
            "mode_account",
            f"{mode.upper()} mode needs {expected.account_words}; the gateway is logged in to {_mask(account)}",
        )
    return account


def _matches(account: str, prefix: str, mode: Mode) -> bool:
    if mode is Mode.LIVE:
        return account.startswith("U") and not account.startswith("DU")
    return account.startswith(prefix)


def mask_account(account: str | None) -> str | None:
    """Account ids are secrets: shown as DU1***56."""
    if account is None or len(account) <= 5:
        return account
    return account[:3] + "*" * (len(account) - 5) + account[-2:]


def _mask(account: str) -> str:
    return mask_account(account) or ""


def mask_accounts_in(text: str, known: Iterable[str] = ()) -> str:
    """`text` with every account id masked: anything shaped like one, and each of `known` (the configured
    account, whatever its shape)."""
    for account in sorted({a for a in known if a}, key=len, reverse=True):
        text = text.replace(account, _mask(account) if len(account) > 5 else "***")
    return ACCOUNT_ID.sub(lambda match: _mask(match.group()), text)


class ModeLock:
    """The mode fixed at start; any later configuration that names another mode is refused."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode

    def check(self, requested: Mode | str) -> None:
        # INV: no hot switch of mode; a restart is the only way to change it
        if Mode(requested) is not self.mode:
            raise GuardViolation(
                "mode_locked",
                f"the daemon runs in {self.mode.upper()} mode; switching to {Mode(requested).upper()} needs a restart",
            )
