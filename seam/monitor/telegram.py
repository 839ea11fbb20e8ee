"""Telegram stage: alerts, approval codes and proposals out through a durable queue; commands and buttons in.

    BotApi            the Bot API over httpx: timeouts on every call; the token never appears in a repr, an
                      exception or a log record (httpx's own request log included)
    TelegramService   the delivery worker (the on-disk outbox, one row at a time, in order, retried with a
                      capped doubling wait or Telegram's retry_after) and the update poller (getUpdates long
                      poll: /status, /health, /halt, and the Approve / Reject buttons of an offered proposal)
    decisions         the Approve / Reject actions for an ApprovalService: the press of an authorized person
                      is the human action; it takes the same path as `seam approve` at the console

Errors (SeamError → HandlerError):
    TelegramError          a Bot API call did not succeed
    ├── TelegramUnavailable  no answer, a 5xx, a 429 (retry_after), a refused token: the row waits and retries
    └── TelegramRefused      a 4xx for this request: retrying cannot help, the row leaves the queue

Delivery is once and in order, except in one window: Telegram took a message and its answer was lost (a
timeout, the daemon killed before the row was marked). Then the row is sent again: at-least-once is inherent
there. The row turns `delivered` in the statement that records Telegram's message id, right after the answer.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from seam.approval import codes
from seam.approval.codes import CodeChannel
from seam.approval.proposals import Proposal
from seam.blocking import Offload, in_default_pool
from seam.clock import Clock
from seam.config import Secrets, Settings
from seam.errors import ConfigError, HandlerError, SeamError
from seam.logmask import SecretMask
from seam.store import ProposalStatus, Store
from seam.store.telegram import Button, OutboxItem, TelegramTables

if TYPE_CHECKING:
    from seam.approval.service import ApprovalService

__all__ = [
    "BotApi",
    "ButtonOutcome",
    "Decide",
    "TelegramError",
    "TelegramRefused",
    "TelegramService",
    "TelegramUnavailable",
    "decisions",
    "plain_text",
]

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
TEXT_LIMIT = 4096  # the Bot API's longest message text
ANSWER_LIMIT = 200  # the longest answerCallbackQuery text
_CODE_SLOT = "\x00code\x00"  # where the digits go at send time; the stored row holds only this


class TelegramError(HandlerError):
    """A Bot API call did not succeed."""


class TelegramUnavailable(TelegramError):
    """Telegram did not take the call now; `retry_after` is its own wait (429), when it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message, "The outbox retries it.")
        self.retry_after = retry_after


class TelegramRefused(TelegramError):
    """Telegram refused this request for good (a 4xx other than 401 and 429)."""


@dataclass(frozen=True)
class ButtonOutcome:
    done: bool  # the decision was carried out
    text: str  # what happened, in facts


# (proposal id, via) → what came of it: the Approve or the Reject action
Decide = Callable[[str, str], Awaitable[ButtonOutcome]]


# -- the Bot API ------------------------------------------------------------------------------------------


class BotApi:
    """The Bot API at `base_url` for one bot. Every call has a time limit; `wait` extends it for a long poll."""

    def __init__(
        self, base_url: str, token: SecretStr, *, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        # INV: the token is masked in every record httpx and httpcore log (httpx logs each request's URL)
        self._mask = SecretMask(secrets=[token.get_secret_value()])
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).addFilter(self._mask)
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"BotApi({self.base_url!r}, token=***)"

    async def call(self, method: str, params: dict[str, Any], *, wait: float = 0.0) -> Any:
        """The call's `result`; TelegramUnavailable or TelegramRefused otherwise."""
        url = f"{self.base_url}/bot{self._token.get_secret_value()}/{method}"
        limit = self.timeout + wait
        try:
            reply = await self._client.post(url, json=params, timeout=limit)
        except httpx.TimeoutException:
            # `from None`: httpx's exception holds the request, whose URL holds the token
            raise TelegramUnavailable(f"Telegram {method}: no answer within {limit:g} s") from None
        except httpx.HTTPError as exc:
            detail = self._mask.mask(str(exc)) or type(exc).__name__
            raise TelegramUnavailable(f"Telegram {method}: {detail}") from None
        return _result(method, reply)

    async def aclose(self) -> None:
        await self._client.aclose()
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).removeFilter(self._mask)


def _result(method: str, reply: httpx.Response) -> Any:
    try:
        body = reply.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TelegramUnavailable(f"Telegram {method}: HTTP {reply.status_code} without a Bot API answer")
    if body.get("ok") is True:
        return body.get("result")
    code = int(body.get("error_code") or reply.status_code)
    said = str(body.get("description") or "")[:200]
    if code == 429:
        after = (body.get("parameters") or {}).get("retry_after")
        wait = float(after) if isinstance(after, int | float) else None
        raise TelegramUnavailable(f"Telegram {method}: 429 {said}", retry_after=wait)
    if code == 401:
        raise TelegramUnavailable(f"Telegram {method}: 401, the bot token (SEAM_TELEGRAM_TOKEN) was refused")
    if code >= 500 or code < 400:
        raise TelegramUnavailable(f"Telegram {method}: {code} {said}")
    raise TelegramRefused(f"Telegram {method}: {code} {said}")


# -- text ---------------------------------------------------------------------------------------------------

_MARKUP = re.compile(r"(\*\*|__|`)")


def plain_text(markdown: str) -> str:
    """Markdown as plain text for a chat (no parse_mode, so nothing in it can break the message)."""
    lines = []
    for line in markdown.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("#"):
            line = stripped.lstrip("#").strip()
        lines.append(_MARKUP.sub("", line).rstrip())
    return "\n".join(lines).strip()


def _fit(text: str, limit: int = TEXT_LIMIT) -> str:
    cut = " … (cut at Telegram's message limit)"
    return text if len(text) <= limit else text[: limit - len(cut)] + cut


def _hm(at: datetime) -> str:
    return f"{at:%H:%M} UTC"


def _proposal_text(proposal: Proposal, expires: datetime) -> str:
    e = proposal.evidence
    guards = e.get("guards") or {}
    lines = [f"Proposal {proposal.id} ({proposal.kind}): {proposal.side} {proposal.units:,} {proposal.pair}"]
    if proposal.kind == "open":
        lines.append(f"entry {proposal.entry} · stop {proposal.stop} · target {proposal.target}")
        lines.append(
            f"stop {e.get('stop_pips', '-')} pips · target {e.get('target_pips', '-')} pips · "
            f"reward:risk {e.get('reward_risk', '-')} · risk {e.get('risk_usd', '-')} USD"
        )
    else:
        lines.append(f"position {e.get('position', proposal.position_id)} · open {e.get('open_pips', '-')} pips")
    lines.append(
        f"bid {e.get('bid', '-')} / ask {e.get('ask', '-')} · spread {e.get('spread_pips', '-')} pips · "
        f"session {e.get('session', '-')}"
    )
    lines.append(", ".join(f"{k} {v}" for k, v in guards.items()) or "guards -")
    lines.append(f"Buttons work until {expires:%H:%M:%S} UTC.")
    return "\n".join(lines)


# -- the service --------------------------------------------------------------------------------------------


class TelegramService:
    """Telegram for one seam: the configured chat (SEAM_TELEGRAM_CHAT_ID) and the allowed users only.

    `enqueue`, `alert_sink`, `code_channel()` and `offer_proposal` write to the outbox and return at once;
    `start()` runs the delivery worker and the update poller on the running loop, `stop()` ends them.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        secrets: Secrets,
        clock: Clock,
        *,
        status_text: Callable[[], str],
        health_text: Callable[[], str],
        halt: Callable[[str, str], Awaitable[str]],
        approve: Decide,
        reject: Decide,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.store = store
        self.settings = settings.telegram
        self.clock = clock
        self.chat_id = _chat_id(secrets)
        if secrets.telegram_token is None:
            raise ConfigError("SEAM_TELEGRAM_TOKEN", "Telegram is enabled but the bot token is not set")
        self.allowed_users = frozenset(self.settings.allowed_user_ids)  # INV: empty allows no one
        self.tables = TelegramTables(store.db)
        self.api = BotApi(
            self.settings.base_url,
            secrets.telegram_token,
            timeout=self.settings.request_timeout_seconds,
            transport=transport,
        )
        self.offload: Offload = in_default_pool
        self._status_text = status_text
        self._health_text = health_text
        self._halt = halt
        self._approve = approve
        self._reject = reject
        self._sleep = sleep
        # INV: an approval code is never written to the store: the row holds a slot, this map the digits
        self._codes: dict[str, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while no Bot API call of the worker is under way
        self._stopping = False
        self._worker: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"TelegramService({self.api!r}, allowed users {len(self.allowed_users)})"

    # -- life -------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._worker is not None

    @property
    def spent(self) -> bool:
        """Started once and stopped: a new start needs a new service."""
        return self._stopping

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._worker = self._loop.create_task(self._deliver_loop(), name="telegram-delivery")
        self._poller = self._loop.create_task(self._poll_loop(), name="telegram-poller")

    async def stop(self) -> None:
        """End the poller at once; the worker after the call under way is answered and recorded (bounded by the
        request time limit): a call cut off after Telegram took it would be sent again at the next start. A stopped
        service is not started again (its HTTP client is closed); a restart builds a new one on the same store."""
        self._stopping = True
        tasks = [t for t in (self._poller, self._worker) if t is not None]
        if self._poller is not None:
            self._poller.cancel()
        if self._worker is not None:
            try:
                await asyncio.wait_for(self._idle.wait(), self.settings.request_timeout_seconds + 1)
            except TimeoutError:
                logger.warning("telegram: stopping while a delivery is still unanswered")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._worker = self._poller = None
        await self.api.aclose()

    # -- out: the outbox ----------------------------------------------------------------------------

    def enqueue(self, text: str, *, key: str | None = None) -> int:
        """Queue a message to the configured chat (durable; no network here); returns its outbox seq. A `key`
        queued before is not queued twice."""
        seq = self.tables.enqueue("sendMessage", {"text": _fit(text)}, key=key)
        self._kick()
        return seq

    def alert_sink(self, title: str, markdown: str, severity: str) -> None:
        """An alert, as plain text (the bundling sink's signature)."""
        # seam's deliveries open with their title, which names the severity: it is not said twice
        text = plain_text(markdown)
        head = title if severity in title else f"{severity} {title}"
        self.enqueue(text if text.lstrip().startswith(title) else f"{head}\n\n{text}")

    def code_channel(self) -> CodeChannel:
        """A human channel for approval codes: the code message to the configured chat, through the outbox."""

        def deliver(proposal: Proposal, code: str, expires_at: datetime) -> None:
            slot = secrets.token_hex(8)
            self._codes[slot] = code  # before the row exists, so the worker always finds it
            text = (
                f"Approval code {_CODE_SLOT} for proposal {proposal.id}: {proposal.side} {proposal.units:,} "
                f"{proposal.pair} (expires {expires_at:%H:%M:%S} UTC)"
            )
            self.tables.enqueue("sendMessage", {"text": text, "_code": slot, "_proposal": proposal.id})
            self._kick()

        return deliver

    def offer_channel(self) -> CodeChannel:
        """A CodeChannel that offers each new proposal with Approve / Reject buttons (the digits are not used)."""

        def offer(proposal: Proposal, _code: str, _expires_at: datetime) -> None:
            self.offer_proposal(proposal)

        return offer

    def offer_proposal(self, proposal: Proposal) -> int:
        """The proposal's evidence with Approve / Reject buttons; returns the outbox seq of the message."""
        expires = self.clock.now() + timedelta(seconds=self.settings.button_ttl_seconds)
        # INV: callback_data is an opaque single-use nonce; what it means stays here, bound to the terms offered
        nonces = {"approve": secrets.token_urlsafe(18), "reject": secrets.token_urlsafe(18)}
        markup = {
            "inline_keyboard": [
                [
                    {"text": "Approve", "callback_data": nonces["approve"]},
                    {"text": "Reject", "callback_data": nonces["reject"]},
                ]
            ]
        }
        with self.store.transaction() as tx:
            seq = self.tables.enqueue(
                "sendMessage", {"text": _fit(_proposal_text(proposal, expires)), "reply_markup": markup}, conn=tx
            )
            self.tables.add_buttons(tx, seq, proposal.id, proposal.bound_hash, expires, nonces)
            self.store.append(
                "TELEGRAM",
                {"event": "offered", "proposal": proposal.id, "buttons_until": expires.isoformat(timespec="seconds")},
                intent_id=proposal.id,
                conn=tx,
            )
        self._kick()
        return seq

    def _edit(self, offer: int, final: str) -> None:
        """Edit the offer's message to its final state (through the outbox, so it comes after the offer)."""
        item = self.tables.get(offer)
        original = str(item.body.get("text", "")) if item else ""
        text = _fit(f"{original}\n\n{final}" if original else final)
        self.tables.enqueue("editMessageText", {"text": text, "_message_of": offer})
        self._kick()

    def backlog(self) -> tuple[int, datetime | None, str]:
        """(rows queued, when the oldest was queued, why its last try failed): for health and the Telegram-down
        alert (blocking: a pool thread)."""
        head = self.tables.head()
        if head is None:
            return 0, None, ""
        return self.tables.queued_count(), head.created_at, head.detail

    def _kick(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    # -- out: the delivery worker -------------------------------------------------------------------

    async def _deliver_loop(self) -> None:
        while True:
            self._wake.clear()
            item = await self.offload(self.tables.head)
            if self._stopping:
                return
            if item is None:
                await self._wake.wait()
                continue
            await self.deliver(item)

    async def deliver_queued(self, *, tries: int = 3) -> int:
        """Without the worker (a process that is not the daemon: `seam heartbeat-check`): deliver what is queued,
        in order, each row tried up to `tries` times; returns how many left the queue. Rows still queued stay for
        the daemon's worker."""
        delivered = 0
        try:
            while (item := await self.offload(self.tables.head)) is not None:
                for _ in range(tries):
                    if await self.deliver(item):
                        delivered += 1
                        break
                else:
                    break
        finally:
            await self.api.aclose()
        return delivered

    async def deliver(self, item: OutboxItem) -> bool:
        """One try of the head of the queue; True when it left the queue. A failure waits here, so the rest of
        the queue waits behind it (INV: in order)."""
        self._idle.clear()
        try:
            params = await self.offload(self._params, item)
            result = await self.api.call(item.method, params)
            message_id = result.get("message_id") if isinstance(result, dict) else None
            # INV: delivered once: the row is marked in the statement that records Telegram's message id
            await self.offload(self.tables.delivered, item.seq, message_id if isinstance(message_id, int) else None)
        except TelegramUnavailable as exc:
            self._idle.set()
            tries = await self.offload(self.tables.failed_try, item.seq, str(exc))
            wait = exc.retry_after if exc.retry_after is not None else self._backoff(tries)
            logger.warning(
                "telegram: outbox row %d not delivered (try %d): %s; next try in %g s", item.seq, tries, exc, wait
            )
            await self._sleep(wait)
            return False
        except TelegramRefused as exc:
            self._idle.set()
            await self.offload(self.tables.refused, item.seq, str(exc))
            logger.warning("telegram: outbox row %d refused, dropped from the queue: %s", item.seq, exc)
            self._codes.pop(str(item.body.get("_code")), None)
            return True
        finally:
            self._idle.set()
        self._codes.pop(str(item.body.get("_code")), None)
        return True

    def _params(self, item: OutboxItem) -> dict[str, Any]:
        """The call's parameters: the chat id from the environment, the code from memory, the message to edit."""
        params = {k: v for k, v in item.body.items() if not k.startswith("_")}
        params["chat_id"] = self.chat_id
        if "_code" in item.body:
            code = self._codes.get(str(item.body["_code"]))
            if code is None:
                params["text"] = (
                    f"An approval code for proposal {item.body.get('_proposal')} was issued before the daemon "
                    "restarted; codes are held in memory only, so it is not sent. The proposal's Approve / Reject "
                    "buttons, where offered, work without it."
                )
            else:
                params["text"] = str(params["text"]).replace(_CODE_SLOT, code)
        if "_message_of" in item.body:
            target = self.tables.get(int(item.body["_message_of"]))
            if target is None or target.message_id is None:
                raise TelegramRefused("the message to edit was never delivered")
            params["message_id"] = target.message_id
        return params

    def _backoff(self, tries: int) -> float:
        first, cap = self.settings.retry_initial_seconds, self.settings.retry_max_seconds
        return float(min(cap, first * 2 ** max(0, tries - 1)))

    # -- in: the update poller ----------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        failures = 0
        while True:
            try:
                await self.poll_once()
                failures = 0
            except TelegramError as exc:
                failures += 1
                wait = exc.retry_after if isinstance(exc, TelegramUnavailable) and exc.retry_after else None
                wait = wait or self._backoff(failures)
                logger.warning("telegram: getUpdates failed (%s); next poll in %g s", exc, wait)
                await self._sleep(wait)

    async def poll_once(self, timeout: float | None = None) -> int:
        """One getUpdates long poll and the handling of what it brought; returns how many updates."""
        wait = self.settings.poll_timeout_seconds if timeout is None else timeout
        offset = await self.offload(self.tables.offset)
        params = {"offset": offset, "timeout": int(wait), "allowed_updates": ["message", "callback_query"]}
        updates = await self.api.call("getUpdates", params, wait=wait)
        handled = 0
        for update in updates if isinstance(updates, list) else []:
            if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
                continue
            await self._handle_safely(update)
            await self.offload(self.tables.set_offset, update["update_id"] + 1)
            handled += 1
        await self.offload(self.sweep_expired)
        return handled

    async def _handle_safely(self, update: dict[str, Any]) -> None:
        try:
            await self.handle_update(update)
        except Exception:  # one bad update must not end the poller; the next update is handled
            logger.exception("telegram: update %s could not be handled", update.get("update_id"))

    async def handle_update(self, update: dict[str, Any]) -> None:
        if isinstance(update.get("callback_query"), dict):
            await self._on_callback(update["update_id"], update["callback_query"])
        elif isinstance(update.get("message"), dict):
            await self._on_message(update["update_id"], update["message"])

    def _refusal(self, chat: Any, user: Any) -> str | None:
        """Why this chat and user may not act, or None when both are authorized (INV: deny by default)."""
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        user_id = user.get("id") if isinstance(user, dict) else None
        if chat_id != self.chat_id:
            return "chat not authorized"
        if user_id not in self.allowed_users:
            return "user not authorized"
        return None

    async def _ignore(self, update_id: int, kind: str, reason: str, chat: Any, user: Any) -> None:
        user_id = user.get("id") if isinstance(user, dict) else None
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        logger.warning("telegram: ignored %s update %d from user %s: %s", kind, update_id, user_id, reason)
        payload = {
            "event": "ignored",
            "update": update_id,
            "kind": kind,
            "reason": reason,
            "user_id": user_id,
            "chat": "configured" if chat_id == self.chat_id else "other",  # the configured chat id is a secret
        }
        await self.offload(self.store.append, "TELEGRAM", payload)

    async def _on_message(self, update_id: int, message: dict[str, Any]) -> None:
        chat, user = message.get("chat"), message.get("from")
        refusal = self._refusal(chat, user)
        if refusal is not None:
            await self._ignore(update_id, "message", refusal, chat, user)
            return
        assert isinstance(user, dict)
        text = str(message.get("text") or "").strip()
        word, _, rest = text.partition(" ")
        command = word.split("@", 1)[0].lower()
        by = f"telegram user {user.get('id')}"
        if command == "/status":
            reply = await self.offload(self._status_text)
        elif command == "/health":
            reply = await self.offload(self._health_text)
        elif command == "/halt":
            reply = await self._halt(rest.strip() or "halt from Telegram", by)
        else:
            command, reply = "other", "Commands: /status, /health, /halt [reason]."
        await self.offload(self.store.append, "TELEGRAM", {"event": "command", "command": command, "by": by})
        await self.offload(self.enqueue, reply)

    # -- in: the buttons ----------------------------------------------------------------------------

    async def _on_callback(self, update_id: int, query: dict[str, Any]) -> None:
        message = query.get("message") if isinstance(query.get("message"), dict) else {}
        assert isinstance(message, dict)
        chat, user = message.get("chat"), query.get("from")
        refusal = self._refusal(chat, user)
        if refusal is not None:
            await self._ignore(update_id, "callback", refusal, chat, user)
            await self._answer(query, "Not authorized; nothing was done.")
            return
        assert isinstance(user, dict)
        button = await self.offload(self.tables.button, str(query.get("data") or ""))
        if button is None:
            await self._answer(query, "This button is not one seam offered; nothing was done.")
            return
        if button.used_at is not None:
            await self._answer(query, "This button was already used; nothing was done.")
            return
        answer = "seam could not handle this press; the daemon's log has the error."
        try:
            answer = await self._press(button, f"Telegram user {user.get('id')}")
        finally:
            await self._answer(query, answer)  # INV: every callback is answered, a failed one too

    async def _press(self, button: Button, by: str) -> str:
        """The press of an authorized person on a live button; returns the answer to show."""
        now = self.clock.now()
        if now > button.expires_at:
            return await self._close_offer(button, "expired", f"expired at {_hm(now)}; nothing was done")
        row = await self.offload(self.store.proposals.get, button.proposal_id)
        if row is None or row.status is not ProposalStatus.PENDING:
            status = "gone" if row is None else str(row.status)
            return await self._close_offer(button, status, f"proposal is {status}; nothing was done")
        if Proposal.from_row(row).bound_hash != button.bound_hash:
            # INV: a press approves the terms it was offered with, never a proposal changed since
            return await self._close_offer(
                button, "changed", "the proposal changed since these buttons were sent; nothing was done"
            )
        # INV: single use: of all presses of this offer's buttons, one spends them; the rest do nothing
        if not await self.offload(self.tables.spend, button.offer, f"pressed {button.decision}"):
            return "This button was already used; nothing was done."
        decide = self._approve if button.decision == "approve" else self._reject
        try:
            outcome = await decide(button.proposal_id, f"Telegram button ({by})")
        except SeamError as exc:  # a guard or the broker refused: the press is spent, the reason is shown
            outcome = ButtonOutcome(False, str(exc))
        at = self.clock.now()
        done = "approved" if button.decision == "approve" else "rejected"
        final = f"{done} at {_hm(at)} by {by}" if outcome.done else f"not {done}: {outcome.text}"
        await self.offload(self._settle, button, final, outcome.done, by)
        return final if outcome.done else outcome.text

    def _settle(self, button: Button, final: str, done: bool, by: str) -> None:
        self.tables.settle(button.offer, final)
        self.store.append(
            "TELEGRAM",
            {"event": "button", "proposal": button.proposal_id, "decision": button.decision, "done": done, "by": by},
            intent_id=button.proposal_id,
        )
        self._edit(button.offer, final)

    async def _close_offer(self, button: Button, outcome: str, final: str) -> str:
        if await self.offload(self.tables.spend, button.offer, outcome):
            await self.offload(self._edit, button.offer, final)
        return final[0].upper() + final[1:] + "."

    async def _answer(self, query: dict[str, Any], text: str) -> None:
        """Every callback is answered (the person's client waits for it); a failure is logged, not retried."""
        try:
            await self.api.call(
                "answerCallbackQuery", {"callback_query_id": str(query.get("id")), "text": text[:ANSWER_LIMIT]}
            )
        except TelegramError as exc:
            logger.warning("telegram: a button press could not be answered: %s", exc)

    def sweep_expired(self) -> int:
        """Edit the message of every offer whose buttons expired unpressed to "expired" (blocking: a pool thread)."""
        now = self.clock.now()
        swept = 0
        for button in self.tables.expired_offers(now):
            if self.tables.spend(button.offer, "expired"):
                self._edit(button.offer, f"expired at {_hm(button.expires_at)}; nothing was done")
                swept += 1
        return swept


def _chat_id(secrets: Secrets) -> int:
    raw = secrets.telegram_chat_id.get_secret_value().strip() if secrets.telegram_chat_id else ""
    if not raw:
        raise ConfigError("SEAM_TELEGRAM_CHAT_ID", "Telegram is enabled but the chat id is not set")
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(
            "SEAM_TELEGRAM_CHAT_ID", "must be the chat's numeric id, e.g. 123456789 or -1001234567890"
        ) from None


# -- the Approve / Reject actions ----------------------------------------------------------------------------


def decisions(approval: ApprovalService) -> tuple[Decide, Decide]:
    """(approve, reject) for `approval`: a fresh code goes straight into `decide`, as `seam approve` does at the
    console, so a press takes the whole path: the code is spent, the stale gate, then the order path's guards."""

    def fresh_code(proposal_id: str) -> str:
        proposal = approval.get(proposal_id)
        expires = approval.clock.now() + timedelta(seconds=approval.settings.approval.code_ttl_seconds)
        return codes.reissue(approval.store, approval.key, proposal, expires)

    def action(decision: str) -> Decide:
        async def decide(proposal_id: str, via: str) -> ButtonOutcome:
            code = await approval.offload(fresh_code, proposal_id)
            decided = await approval.decide(proposal_id, code, decision, via=via)
            return ButtonOutcome(decided.status == "ok", decided.headline)

        return decide

    return action("approve"), action("reject")
