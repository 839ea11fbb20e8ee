"""The fake Bot API: a real HTTP server on 127.0.0.1 that speaks the Bot API's JSON and records every call.

Routes are `/bot<token>/<method>` (a wrong token is 401, as on api.telegram.org), with parameters as a JSON
body, a form body or a query string. Methods: getMe, sendMessage, getUpdates (a long poll honouring
`timeout` and `offset`), answerCallbackQuery, editMessageText, editMessageReplyMarkup. The control API (the
methods below, and `/_control/*` over HTTP for a server in another process) injects what people do (a message,
a button press, from any chat and user) and faults: hang (no answer until the client gives up), 429 with
`parameters.retry_after`, or 5xx, for N requests or until cleared.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["BOT_USER", "Call", "FakeTelegram", "Fault", "Sent"]

BOT_USER = {"id": 7_000_000_001, "is_bot": True, "first_name": "seam", "username": "seam_fake_bot"}
HANG_LIMIT_SECONDS = 30.0  # a hung request is answered 503 after this, or when the fault is cleared


@dataclass
class Call:
    """One request as the fake received it."""

    method: str
    params: dict[str, Any]
    status: int = 0  # the HTTP status it answered (0 while it hangs)


@dataclass
class Sent:
    """A message the bot sent, as it stands now (edits change `text` and `reply_markup`)."""

    chat_id: str
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None
    date: int
    edits: list[str] = field(default_factory=list)


@dataclass
class Fault:
    kind: str  # hang | 429 | 5xx
    remaining: int | None  # requests it still applies to; None: until cleared
    methods: frozenset[str] | None  # the methods it applies to; None: all
    retry_after: int = 1
    status: int = 502
    after_recording: bool = False  # hang after the call took effect: the reply is what gets lost


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeTelegram


class FakeTelegram:
    """A Bot API server on 127.0.0.1 (port 0: any free one). Use as a context manager, or start() / stop()."""

    def __init__(self, token: str = "123456:fake-token", *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self.answers: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_message = 1
        self._next_callback = 1
        self._faults: list[Fault] = []
        self._clears = 0  # bumped by clear_faults: hung requests answer then
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None

    # -- life ---------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeTelegram:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-telegram", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what people do -----------------------------------------------------------------------------

    def user_message(self, chat_id: int, user_id: int, text: str) -> int:
        """A person writes `text` in `chat_id`; returns the update id."""
        with self._cond:
            message = {
                "message_id": self._take_message_id(),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
                "text": text,
            }
            return self._add_update({"message": message})

    def press(self, chat_id: int, user_id: int, data: str, message_id: int | None = None) -> int:
        """A person presses an inline button carrying `data` on the bot's message `message_id` (default: the last
        message sent to `chat_id`, or a made-up one when there is none); returns the update id."""
        with self._cond:
            mine = [s for s in self.sent if s.chat_id == str(chat_id)]
            target = next((s for s in mine if s.message_id == message_id), mine[-1] if mine else None)
            message: dict[str, Any] = {
                "message_id": target.message_id if target else (message_id or 999_999),
                "date": target.date if target else int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": BOT_USER,
                "text": target.text if target else "",
            }
            if target and target.reply_markup:
                message["reply_markup"] = target.reply_markup
            query = {
                "id": str(self._next_callback),
                "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
                "message": message,
                "chat_instance": f"ci-{chat_id}",
                "data": data,
            }
            self._next_callback += 1
            return self._add_update({"callback_query": query})

    def _add_update(self, body: dict[str, Any]) -> int:
        update_id = self._next_update
        self._next_update += 1
        self._updates.append({"update_id": update_id, **body})
        self._cond.notify_all()
        return update_id

    def _take_message_id(self) -> int:
        value = self._next_message
        self._next_message += 1
        return value

    # -- faults -------------------------------------------------------------------------------------

    def fail(
        self,
        kind: str,
        count: int | None = None,
        *,
        methods: Iterable[str] | None = None,
        retry_after: int = 1,
        status: int = 502,
        after_recording: bool = False,
    ) -> None:
        """Answer the next `count` requests (None: until clear_faults) to `methods` (None: all) with a fault:
        `hang` (no answer), `429` (retry_after), `5xx` (`status`)."""
        if kind not in ("hang", "429", "5xx"):
            raise ValueError(f"fault kind must be hang, 429 or 5xx (got {kind!r})")
        wanted = frozenset(methods) if methods is not None else None
        with self._cond:
            self._faults.append(Fault(kind, count, wanted, retry_after, status, after_recording))

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()
            self._clears += 1
            self._cond.notify_all()  # hung requests give up now

    def _fault_for(self, method: str) -> Fault | None:
        with self._cond:
            for fault in self._faults:
                if fault.methods is None or method in fault.methods:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _hang(self) -> None:
        """Hold the request unanswered until the fake stops, the faults are cleared, or HANG_LIMIT_SECONDS."""
        deadline = time.monotonic() + HANG_LIMIT_SECONDS
        with self._cond:
            generation = self._clears
            while not self._stopping.is_set() and generation == self._clears:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.25))

    # -- reading what happened ----------------------------------------------------------------------

    def texts(self, chat_id: int | str | None = None) -> list[str]:
        """The text of every message sent (to `chat_id`), in the order the fake received them."""
        with self._cond:
            return [s.text for s in self.sent if chat_id is None or s.chat_id == str(chat_id)]

    def calls_of(self, method: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def message(self, message_id: int) -> Sent | None:
        with self._cond:
            return next((s for s in self.sent if s.message_id == message_id), None)

    # -- the Bot API --------------------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One Bot API call: (HTTP status, JSON body)."""
        call = Call(method, params)
        with self._cond:
            self.calls.append(call)
        fault = self._fault_for(method)
        if fault is not None and not fault.after_recording:
            call.status, body = self._faulted(fault)
            return call.status, body
        call.status, body = self._dispatch(method, params)
        if fault is not None:  # after_recording: the call took effect; the reply is lost
            self._hang()
            return 503, _error(503, "Service Unavailable")
        return call.status, body

    def _faulted(self, fault: Fault) -> tuple[int, dict[str, Any]]:
        if fault.kind == "429":
            body = _error(429, f"Too Many Requests: retry after {fault.retry_after}")
            body["parameters"] = {"retry_after": fault.retry_after}
            return 429, body
        if fault.kind == "5xx":
            return fault.status, _error(fault.status, "Bad Gateway" if fault.status == 502 else "Server Error")
        self._hang()
        return 503, _error(503, "Service Unavailable")

    def _dispatch(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        route = {
            "getMe": lambda p: (200, _ok(BOT_USER)),
            "sendMessage": self._send_message,
            "getUpdates": self._get_updates,
            "answerCallbackQuery": self._answer,
            "editMessageText": self._edit_text,
            "editMessageReplyMarkup": self._edit_markup,
        }.get(method)
        if route is None:
            return 404, _error(404, "Not Found: method not found")
        return route(params)

    def _send_message(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "chat_id" not in p or not str(p.get("text", "")):
            return 400, _error(400, "Bad Request: chat_id and a non-empty text are required")
        if len(str(p["text"])) > 4096:
            return 400, _error(400, "Bad Request: message is too long")
        with self._cond:
            sent = Sent(str(p["chat_id"]), self._take_message_id(), str(p["text"]), _markup(p), int(time.time()))
            self.sent.append(sent)
            return 200, _ok(_message(sent))

    def _get_updates(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        offset = int(p.get("offset", 0) or 0)
        timeout = max(0.0, float(p.get("timeout", 0) or 0))
        limit = int(p.get("limit", 100) or 100)
        deadline = time.monotonic() + timeout
        with self._cond:
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed: forgotten
            while True:
                ready = [u for u in self._updates if u["update_id"] >= offset][:limit]
                left = deadline - time.monotonic()
                if ready or left <= 0 or self._stopping.is_set():
                    return 200, _ok(ready)
                self._cond.wait(min(left, 0.25))

    def _answer(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "callback_query_id" not in p:
            return 400, _error(400, "Bad Request: callback_query_id is required")
        with self._cond:
            self.answers.append(dict(p))
        return 200, _ok(True)

    def _target(self, p: dict[str, Any]) -> Sent | None:
        with self._cond:
            return next(
                (
                    s
                    for s in self.sent
                    if s.chat_id == str(p.get("chat_id")) and s.message_id == _int(p.get("message_id"))
                ),
                None,
            )

    def _edit_text(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        target = self._target(p)
        if target is None:
            return 400, _error(400, "Bad Request: message to edit not found")
        with self._cond:
            target.text = str(p.get("text", ""))
            target.reply_markup = _markup(p)
            target.edits.append(target.text)
            return 200, _ok(_message(target))

    def _edit_markup(self, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        target = self._target(p)
        if target is None:
            return 400, _error(400, "Bad Request: message to edit not found")
        with self._cond:
            target.reply_markup = _markup(p)
            return 200, _ok(_message(target))

    # -- control over HTTP --------------------------------------------------------------------------

    def control(self, action: str, p: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if action == "message":
            return 200, _ok(self.user_message(int(p["chat_id"]), int(p["user_id"]), str(p["text"])))
        if action == "press":
            message_id = _int(p.get("message_id")) if p.get("message_id") is not None else None
            return 200, _ok(self.press(int(p["chat_id"]), int(p["user_id"]), str(p["data"]), message_id))
        if action == "fault":
            count = _int(p.get("count")) if p.get("count") is not None else None
            self.fail(
                str(p["kind"]),
                count,
                methods=p.get("methods"),
                retry_after=int(p.get("retry_after", 1)),
                status=int(p.get("status", 502)),
            )
            return 200, _ok(True)
        if action == "clear":
            self.clear_faults()
            return 200, _ok(True)
        if action == "sent":
            with self._cond:
                return 200, _ok([_message(s) for s in self.sent])
        return 404, _error(404, f"Not Found: no control action {action!r}")


def _ok(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def _error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _markup(p: dict[str, Any]) -> dict[str, Any] | None:
    raw = p.get("reply_markup")
    if isinstance(raw, str):
        raw = json.loads(raw) if raw else None
    return raw if isinstance(raw, dict) else None


def _message(sent: Sent) -> dict[str, Any]:
    chat_id = _int(sent.chat_id)
    body: dict[str, Any] = {
        "message_id": sent.message_id,
        "date": sent.date,
        "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
        "from": BOT_USER,
        "text": sent.text,
    }
    if sent.reply_markup:
        body["reply_markup"] = sent.reply_markup
    return body


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request line holds the token: never printed

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        params: dict[str, Any] = dict(parse_qsl(url.query))
        try:
            params.update(self._body())
        except ValueError:
            self._reply(400, _error(400, "Bad Request: the body is not JSON or a form"))
            return
        parts = url.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "_control":
            self._reply(*fake.control(parts[1], params))
            return
        if len(parts) != 2 or not parts[0].startswith("bot"):
            self._reply(404, _error(404, "Not Found"))
            return
        if parts[0][3:] != fake.token:
            self._reply(401, _error(401, "Unauthorized"))
            return
        self._reply(*fake.handle(parts[1], params))

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        raw = self.rfile.read(length)
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if kind == "application/json":
            value = json.loads(raw)
            if not isinstance(value, dict):
                raise ValueError("not an object")
            return value
        return dict(parse_qsl(raw.decode()))

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (a hang it timed out on): nothing to answer
