"""One intent, start to finish: read → validate → decide (ledger) → handle → respond → audit → file.

The daemon feeds it claimed files; `seam submit`, the MCP server and tests use the same steps.
Decisions about an id are made inside SQLite write transactions, so several daemons sharing one
seam never run the same intent twice:

    no row / rejected / failed      → run the handler          (a failed intent may be retried)
    in progress, same hash, owner alive → wait for it; owner dead → resume it
    ok / pending_approval, same hash → serve the stored response again, marked as a replay, run nothing
    any row with a different hash   → conflict (the first intent keeps `<id>.md`)

A rejected or failed answer that a dead daemon committed for the very file now adopted (same hash, that
daemon's row) is served from the ledger too: it died between the commit and the response, and the intent
is never answered twice. A step that meets a full or failing disk raises, and the daemon retries it: a
`Prepared` carries what is done, and an answer committed before the fault (`Prepared.answer`) is only
written and filed by the retry, never committed again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from seam.config import Settings
from seam.errors import GuardViolation, HandlerError, HandlerTimeout, IntentError, NotAvailable, Problem
from seam.faults import failpoint, is_storage_fault
from seam.handlers.base import HandlerContext
from seam.intake import Claimant, file_away, original_name
from seam.intake.files import NotOpened, OwnFiles, name_refusal, open_intent
from seam.intent import Kind
from seam.narrator import WordRefused, agent_strings, set_words
from seam.respond import (
    LazySync,
    Outcome,
    Status,
    body_sha256,
    mark_replay,
    render_body,
    render_response,
    response_front,
    split_response,
    write_response,
)
from seam.runtime import Runtime
from seam.store import LedgerRow, LedgerStatus
from seam.validate import (
    CheckContext,
    ValidIntent,
    best_effort_id,
    parse_document,
    raw_sha256,
    safe_stem,
    validate_bytes,
)

__all__ = ["Answer", "Decision", "Delivered", "Finished", "Pipeline", "Prepared"]

logger = logging.getLogger(__name__)


class Decision(Enum):
    RUN = "run"
    REJECT = "reject"
    ALREADY = "already"
    CONFLICT = "conflict"
    DEFER = "defer"
    HAND_BACK = "hand_back"  # a kind that needs the broker, claimed by a standby: back to incoming/, unanswered


@dataclass(frozen=True)
class Answer:
    """An answer whose bead is committed; its response file and the filing may still be to do."""

    status: Status
    name: str
    text: str
    bead: int
    ms: float
    extra: dict[str, Any] = field(default_factory=dict)
    front: dict[str, Any] | None = None  # the text's front matter, when this process rendered it (not a replay)


@dataclass
class Prepared:
    claimed: Path | None
    data: bytes
    decision: Decision
    key: str  # the intent id, or the file's stem when no valid id could be read
    key_is_id: bool
    intent_sha256: str
    started: float
    intent: ValidIntent | None = None
    error: IntentError | None = None
    row: LedgerRow | None = None
    kind: str | None = None
    reserved: bool = False  # an in-progress ledger row holds the id for this run
    adopted_from: str | None = None  # the dead daemon whose folder the claimed file was adopted from
    answer: Answer | None = None  # committed: a retry only writes the response and files the intent
    name: str = ""  # the file's name as written (its claimed name without the claim's prefix)


@dataclass(frozen=True)
class Finished:
    key: str
    kind: str | None
    status: Status
    response: Path
    bead: int
    ms: float
    filed: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    text: str = field(default="", repr=False)  # the response file's whole text, as written
    front: dict[str, Any] | None = field(default=None, repr=False)  # its front matter, when known without parsing


@dataclass(frozen=True)
class Delivered:
    """An intent this process wrote into its own processing folder a moment ago: its bytes, and their validation
    by the pipeline's own checks (`client.check_intent`)."""

    data: bytes
    valid: ValidIntent
    written: bool = True  # False: a read-only intent, written only once answered, as its archive


@dataclass(frozen=True)
class _Draft:
    """An answer made ready outside the write transaction (see `Pipeline._draft`)."""

    status: Status
    body: str
    now: datetime
    bead_payload: dict[str, Any]


_ANSWERED_TOGETHER = frozenset({Decision.RUN, Decision.REJECT, Decision.CONFLICT})


class Pipeline:
    def __init__(self, runtime: Runtime, claimant: Claimant) -> None:
        self.runtime = runtime
        self.paths = runtime.paths
        self.store = runtime.store
        self.registry = runtime.registry
        self.claimant = claimant
        self.own_files = OwnFiles(runtime.paths)
        set_words(runtime.settings.narrator.words)  # the word guard reads its list from the settings
        self.clock = runtime.clock
        self.durable = True  # fsync each response file and its folder; False with `lazy_sync` (the daemon's)
        self.lazy_sync: LazySync | None = None
        self.context = HandlerContext(
            runtime.settings,
            runtime.paths,
            runtime.store,
            runtime.clock,
            owner=claimant.owner,
            broker=runtime.broker,
            approval=runtime.approval,
        )

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    # -- prepare ----------------------------------------------------------------------------------

    def check_context(self) -> CheckContext:
        return CheckContext.from_settings(self.settings, self.clock.now())

    def read_claimed(self, claimed: Path) -> tuple[bytes, IntentError | None]:
        """The claimed file's bytes, or why it is refused: symlinks, hard links, the seam's own files
        and non-files unopened (see `open_intent`), a file over the cap unread, stating its real size."""
        try:
            fd, info = open_intent(claimed, self.own_files)
        except NotOpened as refused:
            return b"", IntentError.single("", refused.reason)
        except FileNotFoundError:
            raise
        except OSError as exc:  # permission, I/O: the file exists and seam cannot read it
            return b"", IntentError.single("", f"seam cannot read this file ({exc.strerror or exc})")
        try:
            cap = self.settings.intake.max_bytes
            data = _read_at_most(fd, cap + 1) if info.st_size <= cap else b""
            size = max(os.fstat(fd).st_size, len(data))  # it may have grown since it was judged
            if size > cap:
                return b"", IntentError.single("", f"the file is {size} bytes; the limit is {cap} bytes")
            return data, None
        finally:
            os.close(fd)

    def prepare(self, claimed: Path, *, started: float | None = None, delivered: Delivered | None = None) -> Prepared:
        """`delivered`: the file was written by this process a moment ago (seam/daemon.py Daemon.deliver) from these
        bytes, already validated by these checks: neither read nor validated again."""
        failpoint("after_claim")
        started = time.perf_counter() if started is None else started
        data, refusal = (delivered.data, None) if delivered is not None else self.read_claimed(claimed)
        renamed = name_refusal(claimed)  # the claim could not keep the name: too long, or not UTF-8
        if refusal is None and renamed is not None:
            refusal = IntentError.single("", renamed)
        return self.prepare_bytes(
            data,
            name=original_name(claimed),
            claimed=claimed,
            started=started,
            refusal=refusal,
            adopted_from=self.claimant.adopted_from.get(claimed),
            checked=delivered.valid if delivered is not None else None,
        )

    def prepare_bytes(
        self,
        data: bytes,
        *,
        name: str,
        claimed: Path | None = None,
        started: float | None = None,
        refusal: IntentError | None = None,
        adopted_from: str | None = None,
        checked: ValidIntent | None = None,
    ) -> Prepared:
        started = time.perf_counter() if started is None else started
        intent, error = None, refusal
        if error is None and checked is not None and checked.raw_sha256 == raw_sha256(data):
            intent = checked
        elif error is None:
            try:
                intent = validate_bytes(
                    data,
                    self.check_context(),
                    max_bytes=self.settings.intake.max_bytes,
                    max_depth=self.settings.validation.max_depth,
                )
            except IntentError as exc:
                error = exc
            except Exception as exc:  # a defect in seam, not in the intent: still answer, never strand the file
                logger.exception("validating %s raised", name)
                error = IntentError.single(
                    "",
                    f"seam could not read this intent (internal error "
                    f"{type(exc).__name__}); it is kept in intents/failed/ — report it",
                )
        if intent is None:
            assert error is not None
            limits = (self.settings.intake.max_bytes, self.settings.validation.max_depth)
            # A refused file is unread (no bytes), except one refused for its name: its id names the answer.
            found = best_effort_id(data, *limits)
            kind = _best_effort_kind(data, *limits)
            rejected = Prepared(
                claimed,
                data,
                Decision.REJECT,
                found or safe_stem(name),
                found is not None,
                raw_sha256(data),
                started,
                error=error,
                kind=kind,
                adopted_from=adopted_from,
                name=name,
            )
            if adopted_from is not None:  # answered before its daemon died? (an id-less file: by its stem)
                row = self.store.ledger.get(rejected.key)
                if row is not None and _answered_this_file(rejected, row):
                    rejected.row, rejected.decision = row, Decision.ALREADY
            return rejected
        prepared = Prepared(
            claimed,
            data,
            Decision.RUN,
            intent.id,
            True,
            intent.intent_sha256,
            started,
            intent=intent,
            kind=str(intent.kind),
            adopted_from=adopted_from,
            name=name,
        )
        if self.registry.route(intent.kind).needs_broker and self.runtime.standing_by():
            prepared.decision = Decision.HAND_BACK  # another daemon owns the broker: its intent, not ours
            return prepared
        self._decide(prepared)
        return prepared

    def _decide(self, p: Prepared) -> None:
        assert p.intent is not None
        reserve = not self.registry.route(p.intent.kind).read_only
        if not reserve:
            # A kind without side effects needs no reservation: running it twice harms nothing, and the
            # finish transaction re-checks the id. This saves a write transaction (and its fsync).
            p.decision = self._decision_for(p, self.store.ledger.get(p.key))
            p.reserved = False
            return
        with self._transaction() as tx:
            p.decision = self._decision_for(p, self.store.ledger.get(p.key, tx))
            if p.decision is Decision.RUN:
                self.store.ledger.put(
                    tx,
                    LedgerRow(
                        p.key, p.intent_sha256, p.kind, LedgerStatus.IN_PROGRESS, self.claimant.owner, None, None, None
                    ),
                )
                p.reserved = True

    def _decision_for(self, p: Prepared, row: LedgerRow | None) -> Decision:
        p.row = row
        if row is not None and _answered_this_file(p, row):
            return Decision.ALREADY
        if row is None or row.status in (LedgerStatus.REJECTED, LedgerStatus.FAILED):
            return Decision.RUN
        if row.intent_sha256 != p.intent_sha256:
            return Decision.CONFLICT
        if row.status == LedgerStatus.IN_PROGRESS:
            # another live daemon is running this very intent: wait; its daemon died mid-way: resume
            return Decision.DEFER if self.claimant.is_alive(row.owner) else Decision.RUN
        return Decision.ALREADY

    # -- handle -----------------------------------------------------------------------------------

    async def handle(self, p: Prepared, pool: Executor | None = None) -> Outcome:
        assert p.intent is not None
        route = self.registry.route(p.intent.kind)
        limit = self.settings.timeout_for(p.intent.kind)
        context = dataclasses.replace(self.context, settings=self.settings, pool=pool or self.context.pool)
        try:
            async with asyncio.timeout(limit):  # no task of its own, unlike wait_for: one intent, two loop turns fewer
                return await route.handler(context, p.intent)
        except TimeoutError:
            exc = HandlerTimeout(f"the {p.intent.kind} handler did not finish within {limit:g} s and was stopped")
            return self.failed(exc)
        except IntentError as exc:
            p.error = exc
            return rejected_outcome(exc)
        except HandlerError as exc:
            return self.failed(exc)
        except GuardViolation as exc:
            return Outcome(
                Status.FAILED,
                "failed",
                {
                    "reason": f"Refused by the safety guard `{exc.guard}`: {exc.message}",
                    "what_to_do": "Nothing was sent. Clear the condition the guard names, then send a new intent.",
                },
            )
        except Exception as exc:  # the daemon never dies on one intent; the reader learns what failed
            logger.exception("handler for %s (%s) raised", p.key, p.intent.kind)
            return Outcome(
                Status.FAILED,
                "failed",
                {
                    "reason": f"Internal error in the {p.intent.kind} handler: {type(exc).__name__}: {exc}",
                    "what_to_do": "Retry with the same id; if it fails again, the daemon log has the traceback.",
                },
            )

    @staticmethod
    def failed(exc: HandlerError) -> Outcome:
        template = "not_available" if isinstance(exc, NotAvailable) else "failed"
        return Outcome(
            Status.FAILED, template, {"reason": str(exc)[0].upper() + str(exc)[1:] + ".", "what_to_do": exc.what_to_do}
        )

    # -- finish -----------------------------------------------------------------------------------

    def finish(self, p: Prepared, outcome: Outcome | None) -> Finished:
        """Append the terminal bead and ledger row in one transaction, then write the response, then file.

        Called again for the same `p` after a storage fault: an answer committed before it is not committed
        again; its response is written and the intent filed."""
        if p.answer is not None:
            return self._complete(p)
        if p.decision is Decision.ALREADY:
            return self._serve_again(p)
        finished = self._finish_answer(p, outcome)
        return finished if finished is not None else self._serve_again(p)

    def finish_together(self, items: list[tuple[Prepared, Outcome | None]]) -> list[Finished | Exception]:
        """`finish` for several intents of a backlog, their terminal beads and ledger rows in one transaction (one
        commit, one WAL fsync), then each response and filing. Each item's result, or the exception that stopped it:
        a full or failing disk at the commit stops them all (none is answered; each is retried), one at a response
        stops that one only. A defect inside the shared transaction rolls it back and each is finished alone, so it
        stays with its own intent. Only for answers that reserved nothing (`batchable`)."""
        drafts = [self._draft(p, outcome) for p, outcome in items]
        answers: list[Answer | None]
        try:
            with self._transaction() as tx:
                answers = [self._record(tx, p, draft) for (p, _), draft in zip(items, drafts, strict=True)]
        except Exception as exc:
            if is_storage_fault(exc):
                return [exc for _ in items]
            logger.exception("answering %d intents together failed; each is answered alone", len(items))
            return [self._finish_alone(p, outcome) for p, outcome in items]
        results: list[Finished | Exception] = []
        for (p, _), answer in zip(items, answers, strict=True):
            p.answer = answer
            try:
                if answer is None:
                    results.append(self._serve_again(p))
                else:
                    failpoint("after_commit")
                    results.append(self._complete(p))
            except Exception as exc:  # its own fault or defect: the others' answers stand
                results.append(exc)
        return results

    def _finish_alone(self, p: Prepared, outcome: Outcome | None) -> Finished | Exception:
        try:
            return self.finish(p, outcome)
        except Exception as exc:
            return exc

    @staticmethod
    def batchable(p: Prepared) -> bool:
        """Whether `p` is left with only its answer to commit, one that reserved nothing: a read-only kind, a
        rejection or a conflict, which `finish_together` may commit with others."""
        return p.answer is None and not p.reserved and p.decision in _ANSWERED_TOGETHER

    def _finish_answer(self, p: Prepared, outcome: Outcome | None) -> Finished | None:
        draft = self._draft(p, outcome)
        with self._transaction() as tx:
            answer = self._record(tx, p, draft)
        if answer is None:
            return None
        p.answer = answer
        failpoint("after_commit")
        return self._complete(p)

    def _draft(self, p: Prepared, outcome: Outcome | None) -> _Draft:
        """Everything of an answer that can be made outside the write transaction: the transaction holds the
        store's one write lock, so only the bead, the ledger row and the commit happen inside it."""
        if outcome is None:
            outcome = self._outcome_without_handler(p)
        now = self.clock.now()
        refusal: list[str] = []
        try:
            body = self._body(p, outcome, now)
        except WordRefused as refused:  # INV: seam's own words never advise, claim a cause or rank
            logger.error("%s: %s; answered failed instead", p.key, refused)
            refusal = [str(refused)]
            outcome = word_refused_outcome(refused, outcome.template)
            body = self._body(p, outcome, now)
        bead_payload = {
            "event": "answered",
            "status": str(outcome.status),
            "kind": p.kind,
            "intent_sha256": p.intent_sha256,
            "response": "",
            "body_sha256": body_sha256(body),
            "ms": 0.0,
            "problems": [str(x) for x in p.error.problems] if p.error else refusal,
        }
        return _Draft(outcome.status, body, now, bead_payload)

    def _record(self, tx: sqlite3.Connection, p: Prepared, draft: _Draft) -> Answer | None:
        """Inside the write transaction: the terminal bead and the ledger row of `p`'s answer; None when an identical
        intent was answered meanwhile (then `p` is served that answer)."""
        row = self.store.ledger.get(p.key, tx)
        if (
            p.decision is Decision.RUN
            and not p.reserved
            and row is not None
            and row.intent_sha256 == p.intent_sha256
            and row.response is not None
        ):
            p.row, p.decision = row, Decision.ALREADY
            return None
        status, now = draft.status, draft.now
        owned = self._owns_name(p, row)
        name = f"{p.key}.md" if owned else f"{p.key}.{p.intent_sha256[:8]}.md"
        ms = (time.perf_counter() - p.started) * 1000
        bead_payload = {**draft.bead_payload, "response": name, "ms": round(ms, 2)}
        session_id = p.intent.envelope.session_id if p.intent else None
        bead = self.store.append(
            "INTENT", bead_payload, intent_id=p.key if p.key_is_id else None, session_id=session_id, conn=tx
        )
        front = response_front(
            intent_id=p.key, kind=p.kind, status=status, intent_sha256=p.intent_sha256, bead=bead.seq, at=now
        )
        text = render_response(
            intent_id=p.key,
            kind=p.kind,
            status=status,
            intent_sha256=p.intent_sha256,
            bead=bead.seq,
            at=now,
            body=draft.body,
        )
        # A file without a readable id is answered under its stem: its row lets a restart see the answer.
        if owned:
            self.store.ledger.put(
                tx,
                LedgerRow(
                    p.key, p.intent_sha256, p.kind, _ledger_status(status), self.claimant.owner, name, text, bead.seq
                ),
            )
        failpoint("answer_commit")
        return Answer(status, name, text, bead.seq, ms, front=front)

    def _body(self, p: Prepared, outcome: Outcome, now: datetime) -> str:
        """The outcome's markdown body; the intent's id and payload text are the agent's own (echoed, unguarded)."""
        status = outcome.status
        common = {
            "generated_at": now.isoformat(timespec="seconds"),
            "intent_name": p.key,
            "kind": p.kind or "unknown",
            "filed_as": f"intents/{'processed' if status.filed_as_success else 'failed'}/"
            f"{original_name(p.claimed) if p.claimed else p.name or p.key}",
            "sources": [],
            "echoed": [p.key, *(agent_strings(p.intent.payload_dict()) if p.intent else [])],
        }
        return render_body(outcome, common)

    def _complete(self, p: Prepared) -> Finished:
        """The committed answer's response file, then the filing: what a retry after a storage fault redoes."""
        answer = p.answer
        assert answer is not None
        path = write_response(self.paths.responses, answer.name, answer.text, durable=self.durable)
        failpoint("response_unsynced")  # written, not yet flushed: what a power cut here may take is rewritten at start
        if self.lazy_sync is not None:
            self.lazy_sync.mark()  # flushed with the others within SYNC_SECONDS; the ledger row is the answer
        filed = self._file(p, answer.status)
        return Finished(
            p.key, p.kind, answer.status, path, answer.bead, answer.ms, filed, answer.extra, answer.text, answer.front
        )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The store's write transaction; when a full or failing disk makes it fail, this thread's
        connection is left outside any transaction (SQLite may keep one open after a failed COMMIT), so
        the retry, on whichever thread, can begin again."""
        try:
            with self.store.transaction() as tx:
                yield tx
        except Exception as exc:
            if is_storage_fault(exc):
                self.store.ledger.abandon_failed_transaction()
            raise

    def _owns_name(self, p: Prepared, row: LedgerRow | None) -> bool:
        if p.decision is Decision.CONFLICT:
            return False
        if p.decision is Decision.RUN and p.reserved:
            return True  # our in-progress row reserved the id
        return row is None or row.status in (LedgerStatus.REJECTED, LedgerStatus.FAILED)

    def _outcome_without_handler(self, p: Prepared) -> Outcome:
        if p.decision is Decision.REJECT:
            assert p.error is not None
            return rejected_outcome(p.error)
        assert p.decision is Decision.CONFLICT and p.row is not None and p.intent is not None
        presented = self.registry.route(p.intent.kind).presented
        if presented is not None:
            try:
                presented(self.context, p.intent)
            except Exception:  # a defect in seam: the conflict is still answered, never stranded
                logger.exception("presenting %s (%s) raised", p.key, p.intent.kind)
        state = "still being handled" if p.row.status == LedgerStatus.IN_PROGRESS else f"answered {p.row.status}"
        reason = f"The id `{p.key}` already belongs to another intent with a different payload ({state})."
        return Outcome(
            Status.CONFLICT,
            "conflict",
            {
                "reason": reason,
                "this_sha": p.intent_sha256,
                "other_sha": p.row.intent_sha256,
                "other_status": p.row.status,
            },
        )

    def _serve_again(self, p: Prepared) -> Finished:
        """Same id, same payload, already answered: the same response, nothing re-executed, marked as a replay.

        The ledger keeps the first answer as it was written; `responses/<id>.md` is rebuilt from it each time.
        When the file already holds that answer (marked or not), this is a replay: the file becomes the
        answer plus a mark, so the agent that sent the intent again reads that it is an earlier answer. When
        the file is missing or is not that answer, the first answer never reached its readers (a crash
        between the commit and the write): it is written as it was, unmarked.
        """
        row = p.row
        assert row is not None and row.response is not None and row.response_name is not None
        path = self.paths.responses / row.response_name
        # The very file its dead daemon answered (adopted, that daemon's row) is no replay, even when the
        # start-up restore already rewrote its response: nobody sent it twice.
        same_file = p.adopted_from is not None and row.owner == p.adopted_from and row.intent_sha256 == p.intent_sha256
        replay = not same_file and _holds_answer(path, row)
        with self._transaction() as tx:
            bead = self.store.append(
                "INTENT",
                {
                    "event": "already_answered",
                    "kind": p.kind,
                    "intent_sha256": p.intent_sha256,
                    "answer_bead": row.bead,
                    "marked_as_replay": replay,
                },
                intent_id=p.key,
                conn=tx,
            )
            failpoint("answer_commit")
        status = Status(row.status)
        text = row.response
        if replay:
            intent_file = None
            if p.claimed is not None:
                folder = "processed" if status.filed_as_success else "failed"
                intent_file = f"intents/{folder}/{original_name(p.claimed)}"
            text = mark_replay(text, replay_bead=bead.seq, replayed_at=self.clock.now(), intent_file=intent_file)
        ms = (time.perf_counter() - p.started) * 1000
        p.answer = Answer(status, row.response_name, text, bead.seq, ms, {"already": True, "replay": replay})
        return self._complete(p)

    def _file(self, p: Prepared, status: Status) -> Path | None:
        if p.claimed is None:
            return None
        folder = self.paths.processed if status.filed_as_success else self.paths.failed
        filed = file_away(p.claimed, folder)
        self.claimant.adopted_from.pop(p.claimed, None)
        return filed


def _answered_this_file(p: Prepared, row: LedgerRow) -> bool:
    """The rejected or failed answer in `row` was committed for this very claimed file by the daemon it was
    adopted from, which died before writing the response or filing the file: serve it, never answer again.
    (A new file in incoming/ with a failed intent's id is no adopted file: it may be retried.)"""
    return (
        p.adopted_from is not None
        and row.owner == p.adopted_from
        and row.intent_sha256 == p.intent_sha256
        and row.status in (LedgerStatus.REJECTED, LedgerStatus.FAILED)
        and row.response is not None
        and row.response_name is not None
    )


def _holds_answer(path: Path, row: LedgerRow) -> bool:
    """The response file is there and is the ledger's answer (its bead and intent hash), marked or not."""
    try:
        split = split_response(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False
    if split is None:
        return False
    front = split[0]
    return front.get("bead") == row.bead and front.get("intent_sha256") == row.intent_sha256


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = os.read(fd, limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _best_effort_kind(data: bytes, max_bytes: int, max_depth: int) -> str | None:
    """The kind named by a rejected intent, when it is one we know (for the response's front matter)."""
    try:
        kind = parse_document(data, max_bytes=max_bytes, max_depth=max_depth).get("kind")
    except IntentError:
        return None
    return kind if isinstance(kind, str) and kind in KIND_VALUES else None


KIND_VALUES = frozenset(str(k) for k in Kind)


def rejected_outcome(error: IntentError) -> Outcome:
    return Outcome(Status.REJECTED, "rejected", {"problems": [_plain(x) for x in error.problems]})


def word_refused_outcome(refused: WordRefused, template: str) -> Outcome:
    """The answer when the word guard refused a rendered body: `failed`, naming the guard and the word, never
    the refused text. The intent is filed under failed/, so it may be sent again with the same id."""
    return Outcome(
        Status.FAILED,
        "error",
        {
            "reason": f"The `{template}` response was not written: the narrator's word guard refused it.",
            "what_to_do": "Nothing in the intent needs fixing; report this to the seam's maintainers "
            "(the daemon log names the template). The intent may be sent again with the same id.",
            "refused": {"guard": refused.guard, "word": refused.word, "template": template},
        },
    )


def _plain(problem: Problem) -> dict[str, str]:
    return {"path": problem.path, "message": problem.message}


def _ledger_status(status: Status) -> str:
    return {
        Status.OK: LedgerStatus.OK,
        Status.PENDING_APPROVAL: LedgerStatus.PENDING_APPROVAL,
        Status.REJECTED: LedgerStatus.REJECTED,
    }.get(status, LedgerStatus.FAILED)
