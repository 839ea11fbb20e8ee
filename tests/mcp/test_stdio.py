"""`seam mcp`'s stdio on the event loop's own pipe transports (seam/mcp/stdio.py): lines read as the SDK reads them,
no reading ahead without bound, the standard streams diverted while serving and put back after, and the SDK's own
streams wherever the loop cannot watch them. The whole server over real pipes: tests/mcp/test_transports.py."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from seam.mcp import stdio
from seam.mcp.stdio import HIGH_LINES, LineReader, watchable
from tests.conftest import REPO


def test_only_pipes_and_sockets_are_watched_by_the_loop(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    left, right = socket.socketpair()
    regular = tmp_path / "requests.jsonl"
    regular.write_text("{}\n")
    with regular.open("rb") as file, open(os.devnull, "rb") as null:
        try:
            assert watchable(read_end) and watchable(write_end) and watchable(left.fileno())
            assert not watchable(file.fileno())  # epoll cannot watch a regular file
            assert not watchable(null.fileno())  # a character device (a terminal is one): shared with others
        finally:
            os.close(read_end)
            os.close(write_end)
            left.close()
            right.close()
    assert not watchable(read_end)  # closed


async def _read_all(chunks: list[bytes], *, pause_after: int | None = None) -> tuple[list[str], bool]:
    """Write `chunks` into a real pipe, then close it; the lines LineReader gives, and whether it paused reading."""
    loop = asyncio.get_running_loop()
    read_end, write_end = os.pipe()
    reader = LineReader()
    transport, _ = await loop.connect_read_pipe(lambda: reader, os.fdopen(read_end, "rb", buffering=0))
    paused = False
    try:
        for chunk in chunks:
            os.write(write_end, chunk)
            await asyncio.sleep(0.01)  # let the loop read it
        if pause_after is not None:
            await asyncio.sleep(0.05)
            paused = not transport.is_reading() and reader.paused and reader.waiting >= HIGH_LINES
        os.close(write_end)
        lines = [line async for line in reader]
    finally:
        transport.close()
    return lines, paused


def test_lines_come_whole_with_their_newline_and_a_last_one_without_at_the_end() -> None:
    lines, _ = asyncio.run(
        _read_all([b'{"id":1}\n{"id"', b':2}\n{"id":3}\n', b"caf\xc3\xa9\n", b"\xff tail"]),
    )
    # as the SDK's own reader gives them: split at newlines only, invalid UTF-8 replaced, not refused
    assert lines == ['{"id":1}\n', '{"id":2}\n', '{"id":3}\n', "café\n", "\ufffd tail"]


def test_a_flood_of_requests_is_not_read_ahead_without_bound_and_none_is_lost() -> None:
    flood = [f'{{"id":{n}}}\n'.encode() for n in range(HIGH_LINES * 4)]
    lines, paused = asyncio.run(_read_all([b"".join(flood)], pause_after=0))
    assert paused  # reading stopped once HIGH_LINES lines waited unread
    assert lines == [line.decode() for line in flood]  # resumed as they were taken: every one, in order


_SERVE = textwrap.dedent(
    """
    import asyncio, os, sys
    from seam.mcp.stdio import loop_stdio

    async def main():
        async with loop_stdio() as streams:
            if streams is None:
                print("sdk streams", file=sys.stderr)
                return
            stdin, stdout = streams
            print("a stray print", flush=True)  # fd 1 is stderr while serving
            async for line in stdin:
                await stdout.write(line.upper())
                await stdout.flush()
        print(f"after: stdin blocking={os.get_blocking(0)}", flush=True)

    asyncio.run(main())
    """
)


def _serve(stdin: int | None, data: bytes | None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", _SERVE],
        input=data,
        stdin=stdin,
        capture_output=True,
        cwd=REPO,
        timeout=30,
        check=True,
    )


def test_serving_diverts_the_standard_streams_and_puts_them_back_after() -> None:
    done = _serve(None, b'{"jsonrpc":"2.0"}\n{"id":2}\n')
    # the wire carries only what was written through the streams; the stray print went to stderr
    assert done.stdout.decode() == '{"JSONRPC":"2.0"}\n{"ID":2}\nafter: stdin blocking=True\n'
    assert "a stray print" in done.stderr.decode()


def test_a_stdin_the_loop_cannot_watch_leaves_the_sdk_its_own_streams(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_bytes(b'{"id":1}\n')
    with requests.open("rb") as file:
        done = _serve(file.fileno(), None)
    assert "sdk streams" in done.stderr.decode() and done.stdout == b""


@pytest.mark.parametrize("fd", [0, 1])
def test_a_standard_stream_that_is_not_a_pipe_is_not_watched(fd: int, monkeypatch: pytest.MonkeyPatch) -> None:
    real = stdio.watchable
    monkeypatch.setattr(stdio, "watchable", lambda n: False if n == fd else real(n))

    async def which() -> object:
        async with stdio.loop_stdio() as streams:
            return streams

    assert asyncio.run(which()) is None
