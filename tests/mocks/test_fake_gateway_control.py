"""Driving a fake gateway from outside: the JSON control channel and the command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from mocks.fake_ib_gateway import ControlChannel, FakeGateway
from mocks.fake_ib_gateway.cli import main

from .conftest import ACCOUNT

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def control(aio: asyncio.Runner, gateway: FakeGateway) -> Iterator[ControlChannel]:
    channel = ControlChannel(gateway)
    aio.run(channel.start())
    yield channel
    aio.run(channel.stop())


class ControlClient:
    """Sends one JSON command per line and reads one JSON reply per line."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def call(self, **command: Any) -> dict[str, Any]:
        self._writer.write(json.dumps(command).encode() + b"\n")
        reply: dict[str, Any] = json.loads(await self._reader.readline())
        return reply


@contextlib.asynccontextmanager
async def connected(port: int) -> AsyncIterator[ControlClient]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield ControlClient(reader, writer)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_set_price_over_the_control_channel_moves_the_market(
    control: ControlChannel, gateway: FakeGateway
) -> None:
    async with connected(control.port) as client:
        reply = await client.call(cmd="set_price", pair="EURUSD", price=1.1)
        assert reply["ok"] is True
        assert reply["result"]["bid"] < 1.1 < reply["result"]["ask"]
        assert gateway.quote("EURUSD").mid == pytest.approx(1.1)


async def test_unknown_or_incomplete_commands_get_an_error_and_the_channel_keeps_serving(
    control: ControlChannel,
) -> None:
    async with connected(control.port) as client:
        assert (await client.call(cmd="explode"))["ok"] is False
        missing = await client.call(cmd="set_price", pair="EURUSD")
        assert missing["ok"] is False and "price" in missing["error"]
        assert await client.call(cmd="ping") == {"ok": True, "result": "pong"}


async def test_injected_position_and_armed_faults_through_the_channel_reach_the_gateway(
    control: ControlChannel, gateway: FakeGateway
) -> None:
    async with connected(control.port) as client:
        await client.call(cmd="inject_position", account=ACCOUNT, pair="USDCAD", qty=7000, avg_cost=1.35)
        positions = (await client.call(cmd="positions"))["result"]
        assert positions == [{"account": ACCOUNT, "pair": "USDCAD", "qty": 7000, "avg_cost": 1.35}]
        assert (await client.call(cmd="reject_next_order", reason="halted"))["ok"] is True
        assert gateway.state.faults.reject_reason == "halted"
        assert (await client.call(cmd="order_refs"))["result"] == []


def test_help_lists_examples_and_control_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "seam-fake-gateway --port 4002" in text
    assert "inject_position(account, pair, qty, avg_cost)" in text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ping(port: int, deadline: float) -> dict[str, Any]:
    """Ask the control channel for a pong, retrying until the process is listening."""
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b'{"cmd": "ping"}\n')
                reply: dict[str, Any] = json.loads(sock.makefile().readline())
                return reply
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def test_the_command_line_serves_until_terminated_and_exits_cleanly() -> None:
    api_port, control_port = free_port(), free_port()
    command = [sys.executable, "-m", "mocks.fake_ib_gateway", "--port", str(api_port),
               "--control-port", str(control_port), "--tick-interval", "0.05", "--log-level", "WARNING"]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert ping(control_port, time.monotonic() + 5) == {"ok": True, "result": "pong"}
        with socket.create_connection(("127.0.0.1", api_port), timeout=1):
            pass
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=5)
    assert process.returncode == 0, stderr
