"""Intake, the answers kept: every response the ledger holds is in responses/, rewritten from the ledger when
it is not.

The ledger row of an answered intent holds the whole response text, committed with its terminal bead; the
file in responses/ is written after that commit. So a file can be missing (a crash or a full disk between
the commit and the write, a person deleting it) or, rarely, not be the answer (edited, damaged). Nothing is
answered again for it: the file is rewritten from the ledger, with an INTENT bead `response_rewritten`.

- At start-up every answer is compared with its file, a few hundred rows at a time on a thread of its
  own (not the intake's: 5,000 answers take about 0.6 s): a file that is missing or differs is
  rewritten. A file holding the answer marked as a replay (`mark_replay`) holds it.
- At each rescan only missing files are looked for, cheaply: a stat of responses/ (when it has not changed
  since a pass that found nothing missing, that is all), else one directory listing compared with the
  ledger's answered ids, read from its indexes. A name missing at two passes in a row is rewritten: the
  first sighting may be an answer whose writer is between its commit and its write right now.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from seam.faults import describe_fault, is_storage_fault
from seam.respond import holds_answer, write_response
from seam.store import LedgerRow, LedgerStatus, Store

__all__ = ["ResponseRestorer"]

logger = logging.getLogger(__name__)

START_CHUNK = 200  # answers compared with their files per trip to a thread at start-up (~25 ms)
QUIET_SECONDS = 60.0  # a rewrite that keeps failing (a full disk) is logged at most this often


class ResponseRestorer:
    def __init__(self, store: Store, responses: Path, *, durable: bool = True) -> None:
        self.store = store
        self.responses = responses
        self.durable = durable
        self._suspects: set[str] = set()  # missing at the last pass: rewritten if still missing at this one
        self._clean_mtime: int | None = None  # responses/'s mtime at the last pass that found nothing missing
        self._quiet_until = 0.0

    # -- start-up: every answer against its file -----------------------------------------------------

    def restore_chunk(self, after: str) -> tuple[str | None, list[str]]:
        """Compare up to START_CHUNK answers after the id `after` with their files and rewrite those missing
        or differing; returns (the id to go on after, or None when every answer was looked at; what was
        rewritten, as `name (why)`)."""
        rows = self.store.ledger.answers(after=after, limit=START_CHUNK)
        rewritten = [f"{row.response_name} ({why})" for row in rows if (why := self._restore(row, compare=True))]
        return (rows[-1].id if len(rows) == START_CHUNK else None), rewritten

    # -- the rescan: missing files only ----------------------------------------------------------------

    def restore_missing(self) -> list[str]:
        """Rewrite the answers whose files were missing at this pass and the one before; returns their names."""
        try:
            mtime = os.stat(self.responses).st_mtime_ns
        except OSError:
            return []
        settled = time.time_ns() - mtime > 1_000_000_000  # a change within the clock's tick may not show
        if not self._suspects and mtime == self._clean_mtime and settled:
            return []
        try:
            with os.scandir(self.responses) as listing:
                present = {entry.name for entry in listing}
        except OSError:
            return []
        missing = self.store.ledger.answered_names() - present
        due = missing & self._suspects
        rewritten, failed = [], set()
        for name in sorted(due):
            row = self.store.ledger.get(name.removesuffix(".md"))
            if row is None or row.response_name != name:
                continue
            why = self._restore(row, compare=False)
            if why:
                rewritten.append(name)
            elif not (self.responses / name).exists():
                failed.add(name)
        self._suspects = (missing - due) | failed
        self._clean_mtime = mtime if not missing else None
        return rewritten

    # -- one answer --------------------------------------------------------------------------------------

    def _restore(self, row: LedgerRow, *, compare: bool) -> str | None:
        """Rewrite `row`'s response when its file is missing (or, with `compare`, differs); why, or None."""
        assert row.response_name is not None and row.response is not None
        path = self.responses / row.response_name
        if _why_rewrite(path, row.response, compare=compare) is None:
            return None  # the common case, decided without the store's write lock
        try:
            with self.store.transaction() as tx:  # no answer for this id commits meanwhile
                current = self.store.ledger.get(row.id, tx)
                if (
                    current is None
                    or current.status == LedgerStatus.IN_PROGRESS
                    or current.response is None
                    or current.response_name != row.response_name
                ):
                    return None
                why = _why_rewrite(path, current.response, compare=compare)
                if why is None:
                    return None
                write_response(self.responses, current.response_name, current.response, durable=self.durable)
                self.store.append(
                    "INTENT",
                    {
                        "event": "response_rewritten",
                        "response": current.response_name,
                        "answer_bead": current.bead,
                        "why": why,
                    },
                    intent_id=current.id,
                    conn=tx,
                )
        except (OSError, sqlite3.Error) as exc:
            if is_storage_fault(exc):
                self.store.ledger.abandon_failed_transaction()
            if time.monotonic() >= self._quiet_until:
                self._quiet_until = time.monotonic() + QUIET_SECONDS
                logger.warning(
                    "cannot rewrite responses/%s from the ledger (%s); tried again at the next rescan",
                    row.response_name,
                    describe_fault(exc),
                )
            return None
        return why


def _why_rewrite(path: Path, answer: str, *, compare: bool) -> str | None:
    try:
        if not compare:
            return None if os.path.lexists(path) else "missing"
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "missing"
    except (OSError, UnicodeDecodeError):
        return "unreadable"
    return None if holds_answer(text, answer) else "differs"
