"""Logging's last step before output: account ids and configured secrets masked in every record, whoever logged it.

A filter on the root logger's handlers sees every record that reaches them, the IB library's included
(its wire log prints the managed accounts, its wrapper the account of every position). It rewrites the
record's final message (after `%` formatting), its exception text and its stack, so no formatter can put
the raw value back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from seam.broker.guards import mask_accounts_in

__all__ = ["SecretMask", "install"]

_TRACEBACKS = logging.Formatter()


class SecretMask(logging.Filter):
    """Masks anything shaped like an IB account id, the configured accounts, and the configured secrets."""

    def __init__(self, *, accounts: Iterable[str] = (), secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.accounts = [a for a in accounts if a]
        # longest first, so a secret that contains another is masked whole
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return mask_accounts_in(text, self.accounts)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = self.mask(message), None  # the final message; never `%`-formatted again
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


def install(mask: SecretMask, logger: logging.Logger | None = None) -> None:
    """Put `mask` on every handler of `logger` (the root logger by default), replacing an earlier one."""
    for handler in (logger or logging.getLogger()).handlers:
        for old in [f for f in handler.filters if isinstance(f, SecretMask)]:
            handler.removeFilter(old)
        handler.addFilter(mask)
