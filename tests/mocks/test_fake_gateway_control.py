"""Driving a fake gateway from outside: the JSON control channel and the command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import signal
import socket
import subprocess
import sys
import threading
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


def listening_ports(lines: queue.Queue[str], deadline: float) -> dict[str, int]:
    """Ports the gateway and control channel report in their start-up log lines."""
    ports: dict[str, int] = {}
    while len(ports) < 2:
        line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        for name in ("fake IB gateway", "control channel"):
            if f"{name} listening on" in line:
                ports[name] = int(line.split("listening on ", 1)[1].split(",")[0].rsplit(":", 1)[1])
    return ports


def copy_lines(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    """Forward the process's log lines until it exits (runs in a thread: pipes do not await)."""
    assert process.stderr is not None
    for line in process.stderr:
        lines.put(line)


def ping(port: int) -> dict[str, Any]:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b'{"cmd": "ping"}\n')
        with sock.makefile() as stream:
            reply: dict[str, Any] = json.loads(stream.readline())
        return reply


@pytest.mark.slow
def test_the_command_line_serves_until_terminated_and_exits_cleanly() -> None:
    command = [sys.executable, "-m", "mocks.fake_ib_gateway", "--port", "0", "--control-port", "0",
               "--tick-interval", "0.05"]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=copy_lines, args=(process, lines), daemon=True)
    reader.start()
    try:
        ports = listening_ports(lines, time.monotonic() + 5)
        assert ping(ports["control channel"]) == {"ok": True, "result": "pong"}
        with socket.create_connection(("127.0.0.1", ports["fake IB gateway"]), timeout=2):
            pass
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=5)
        reader.join(timeout=5)
        if process.stderr is not None:
            process.stderr.close()
    assert process.returncode == 0
