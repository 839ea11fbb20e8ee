"""`seam mcp` as Claude Desktop and a remote desk start it: a child process over stdio, and over streamable HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from seam.intake import live_owners
from tests.conftest import READY_PAYLOAD, REPO, make_seam, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

WEDNESDAY = "2026-11-18T09:00:00Z"  # READY signals are refused on weekends
READY = READY_PAYLOAD
TOKEN = "test-token-4f9d2c7a1b3e5d60"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def child_env(**extra: str) -> dict[str, str]:
    keep = ("XDG_CONFIG_HOME", "PATH", "HOME", "SYSTEMROOT")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    return {**env, "SEAM_CLOCK_START": WEDNESDAY, **extra}


async def test_stdio_with_no_daemon_answers_status_a_ready_signal_and_positions(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "seam", "mcp", "--seam", str(paths.root)], env=child_env(), cwd=REPO
    )
    with (tmp_path / "stderr.log").open("w+") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            assert "runs the seam's daemon itself" in (client.instructions or "")
            status = await client.call_tool("status", {"id": "io-status"})
            signal_ = await client.call_tool("signal", {"id": "io-signal", **READY})
            positions = await client.call_tool("positions", {})
            assert live_owners(paths.processing)  # the daemon the server runs
        errlog.seek(0)
        logs = errlog.read()
    assert status.structured_content and status.structured_content["status"] == "ok"
    assert signal_.structured_content and signal_.structured_content["status"] == "pending_approval"
    assert positions.structured_content and positions.structured_content["status"] == "ok"
    assert (paths.responses / "io-signal.md").exists()
    assert "intent io-signal kind=signal status=pending_approval" in logs  # the daemon's log went to stderr
    wait_for(lambda: not live_owners(paths.processing), 10, what="the in-process daemon to stop")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_http_needs_the_token_refuses_foreign_origins_and_works_with_the_token(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    port = free_port()
    errlog = (tmp_path / "stderr.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "seam", "mcp", "--http", "--port", str(port), "--seam", str(paths.root)],
        env=child_env(SEAM_MCP_TOKEN=TOKEN),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=errlog,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    json_headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    try:
        wait_for(lambda: _accepts(port) or proc.poll() is not None, 20, what="seam mcp --http to listen")
        assert proc.poll() is None, (tmp_path / "stderr.log").read_text()
        async with httpx2.AsyncClient() as http:
            bare = await http.post(url, json=body, headers=json_headers)
            assert bare.status_code == 401 and bare.headers["www-authenticate"].startswith("Bearer")
            wrong = await http.post(url, json=body, headers={**json_headers, "Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            authorised = {**json_headers, "Authorization": f"Bearer {TOKEN}"}
            foreign = await http.post(url, json=body, headers={**authorised, "Origin": "http://evil.example"})
            assert foreign.status_code == 403
            rebound = await http.post(url, json=body, headers={**authorised, "Host": f"evil.example:{port}"})
            assert rebound.status_code == 421
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                status = await client.call_tool("status", {"id": "over-http"})
        assert status.structured_content and status.structured_content["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
        errlog.close()
    assert code == 0, (tmp_path / "stderr.log").read_text()
    assert TOKEN not in (tmp_path / "stderr.log").read_text()
    assert not live_owners(paths.processing)  # stopped cleanly, the in-process daemon with it


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        time.sleep(0.05)
        return False


def test_http_without_a_token_refuses_to_start_naming_the_variable(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    env = {k: v for k, v in os.environ.items() if k != "SEAM_MCP_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "seam", "mcp", "--http", "--seam", str(paths.root)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "SEAM_MCP_TOKEN" in done.stderr and done.stdout == ""
    assert not live_owners(paths.processing)
