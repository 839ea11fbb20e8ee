"""Broker guards: the mode is chosen once and checked against what the gateway really is.

    LIVE needs IBKR_ALLOW_LIVE=true at start                       (check_live_allowed)
    PAPER = port 4002 and a DU* account; LIVE = port 4001 and U*   (check_link)
    the mode never changes without a restart                       (ModeLock)

`check_link` runs at connect (against the gateway's managed accounts, not only the configuration)
and again before every order. A mismatch sends nothing, raises a CRITICAL alert and a bead.
"""

from __future__ import annotations

from dataclasses import dataclass

from seam.broker.types import Mode
from seam.errors import GuardViolation

__all__ = ["EXPECTED", "ModeLock", "check_link", "check_live_allowed", "default_port", "mask_account"]


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


def check_live_allowed(mode: Mode, allow_live: bool) -> None:
    # INV: LIVE only with IBKR_ALLOW_LIVE=true in the environment at start
    if mode is Mode.LIVE and not allow_live:
        raise GuardViolation(
            "live_not_allowed",
            "LIVE mode needs IBKR_ALLOW_LIVE=true in the environment at start; the daemon did not start",
        )


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
