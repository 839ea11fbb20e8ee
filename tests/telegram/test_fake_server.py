"""The fake Bot API itself, over real HTTP: the token, the long poll, the faults, the control API, the CLI."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from mocks.fake_telegram import FakeTelegram
from tests.conftest import REPO


def call(
    fake: FakeTelegram, method: str, token: str | None = None, http_timeout: float = 5.0, **params: object
) -> httpx.Response:
    return httpx.post(f"{fake.base_url}/bot{token or fake.token}/{method}", json=params, timeout=http_timeout)


def test_a_wrong_token_is_401_like_the_real_api(fake: FakeTelegram) -> None:
    reply = call(fake, "getMe", token="1:wrong")
    assert reply.status_code == 401
    assert reply.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert call(fake, "getMe").json()["result"]["is_bot"] is True


def test_send_message_is_recorded_and_answered_as_a_message(fake: FakeTelegram) -> None:
    markup = {"inline_keyboard": [[{"text": "Approve", "callback_data": "n1"}]]}
    result = call(fake, "sendMessage", chat_id=5, text="hello", reply_markup=markup).json()["result"]
    assert result["chat"]["id"] == 5 and result["text"] == "hello" and result["reply_markup"] == markup
    assert fake.texts(5) == ["hello"]
    edited = call(fake, "editMessageText", chat_id=5, message_id=result["message_id"], text="done").json()
    assert edited["result"]["text"] == "done" and "reply_markup" not in edited["result"]
    missing = call(fake, "editMessageText", chat_id=5, message_id=9999, text="x")
    assert missing.status_code == 400


def test_get_updates_long_polls_and_forgets_what_the_offset_confirms(fake: FakeTelegram) -> None:
    started = time.monotonic()
    assert call(fake, "getUpdates", offset=0, timeout=0.3).json()["result"] == []
    assert time.monotonic() - started >= 0.25  # it waited for the poll's timeout
    first = fake.user_message(7, 8, "/status")
    second = fake.press(7, 8, "nonce")
    updates = call(fake, "getUpdates", offset=0, timeout=1).json()["result"]
    assert [u["update_id"] for u in updates] == [first, second]
    assert updates[0]["message"]["text"] == "/status" and updates[1]["callback_query"]["data"] == "nonce"
    again = call(fake, "getUpdates", offset=second, timeout=0).json()["result"]
    assert [u["update_id"] for u in again] == [second]
    assert call(fake, "getUpdates", offset=second + 1, timeout=0).json()["result"] == []


def test_a_waiting_poll_returns_as_soon_as_an_update_arrives(fake: FakeTelegram) -> None:
    import threading

    threading.Timer(0.2, fake.user_message, args=(7, 8, "hi")).start()
    started = time.monotonic()
    updates = call(fake, "getUpdates", timeout=5).json()["result"]
    assert len(updates) == 1 and time.monotonic() - started < 3


def test_faults_429_5xx_and_hang_for_n_requests_then_recovery(fake: FakeTelegram) -> None:
    fake.fail("429", 1, retry_after=7)
    reply = call(fake, "getMe")
    assert reply.status_code == 429 and reply.json()["parameters"] == {"retry_after": 7}
    fake.fail("5xx", 2, status=503)
    assert [call(fake, "getMe").status_code for _ in range(3)] == [503, 503, 200]
    fake.fail("hang", 1, methods=["sendMessage"])
    assert call(fake, "getMe").status_code == 200  # other methods are not touched
    with pytest.raises(httpx.TimeoutException):
        call(fake, "sendMessage", http_timeout=0.3, chat_id=1, text="lost")
    assert fake.texts() == []  # a hang before the call took effect: nothing recorded
    assert call(fake, "sendMessage", chat_id=1, text="ok").status_code == 200


def test_a_fault_until_cleared_holds_until_clear_faults(fake: FakeTelegram) -> None:
    fake.fail("5xx")
    assert [call(fake, "getMe").status_code for _ in range(4)] == [502] * 4
    fake.clear_faults()
    assert call(fake, "getMe").status_code == 200


def test_the_http_control_api_injects_messages_presses_and_faults(fake: FakeTelegram) -> None:
    control = f"{fake.base_url}/_control"
    assert httpx.post(f"{control}/message", json={"chat_id": 3, "user_id": 4, "text": "/health"}).json()["ok"]
    assert httpx.post(f"{control}/press", json={"chat_id": 3, "user_id": 4, "data": "abc"}).json()["ok"]
    updates = call(fake, "getUpdates", timeout=0).json()["result"]
    assert updates[0]["message"]["from"]["id"] == 4 and updates[1]["callback_query"]["data"] == "abc"
    httpx.post(f"{control}/fault", json={"kind": "5xx", "count": 1})
    assert call(fake, "getMe").status_code == 502
    httpx.post(f"{control}/clear", json={})
    call(fake, "sendMessage", chat_id=3, text="x")
    assert [m["text"] for m in httpx.get(f"{control}/sent").json()["result"]] == ["x"]


def test_the_fake_runs_standalone_from_the_command_line() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mocks.fake_telegram", "--port", "0", "--token", "9:t"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base = line.split(" at ", 1)[1].split(" ", 1)[0]
        assert httpx.post(f"{base}/bot9:t/getMe", timeout=5).json()["ok"] is True
    finally:
        proc.terminate()
        proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
