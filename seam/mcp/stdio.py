"""stdio for `seam mcp` on the event loop itself: the SDK's `stdio_server`, fed by asyncio's pipe transports.

    fd 0 (a pipe) ──► its duplicate, watched by the loop ──► LineReader ──► stdio_server(stdin=…) ──► the server
    the server ──► stdio_server(stdout=…) ──► PipeWriter ──► fd 1's duplicate (written at once, drained when full)
    while serving: fd 0 reads /dev/null and fd 1 writes to stderr (a stray print misses the wire); both put back

Why: the SDK's own streams hand every line read, every write and every flush to a worker thread: three hops a
tool call, each a thread wake-up and a hand-over of the GIL, which the daemon running in this process (its
threads, its longer steps) makes dearer. Here a request is read, and its answer written, on the loop's thread.
The SDK still parses and serializes each message (`stdio_server` with explicit streams), so the wire is its own.

Where the loop cannot watch the streams (Windows; a terminal, which other programs share; a regular file) the
SDK's own streams serve, unchanged: `loop_stdio` yields None.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["LineReader", "PipeWriter", "loop_stdio", "watchable"]

logger = logging.getLogger(__name__)

HIGH_LINES = 64  # read no further ahead than this many unread lines (the server takes one at a time)
LOW_LINES = 16


def watchable(fd: int) -> bool:
    """A pipe or a socket: what the loop can watch without changing anything another program shares."""
    if sys.platform == "win32":
        return False
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class LineReader(asyncio.Protocol):
    """stdin as the SDK reads it (`async for line in stdin`): text lines, newline kept, decoded as UTF-8 with
    replacement; a last line without a newline is given at end of input."""

    def __init__(self) -> None:
        self._partial = bytearray()
        self._lines: collections.deque[str] = collections.deque()
        self._ended = False
        self._waiter: asyncio.Future[None] | None = None
        self._transport: asyncio.ReadTransport | None = None
        self._paused = False

    @property
    def paused(self) -> bool:
        """Whether reading is stopped until the server takes more of the lines waiting."""
        return self._paused

    @property
    def waiting(self) -> int:
        return len(self._lines)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._partial += data
        end = self._partial.rfind(b"\n")
        if end < 0:
            return
        complete, self._partial = bytes(self._partial[: end + 1]), self._partial[end + 1 :]
        self._lines.extend(complete.decode("utf-8", errors="replace").splitlines(keepends=True))
        if len(self._lines) >= HIGH_LINES and self._transport is not None and not self._paused:
            self._transport.pause_reading()
            self._paused = True
        self._wake()

    def eof_received(self) -> bool:
        self._end()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._end()

    def _end(self) -> None:
        if not self._ended and self._partial:
            self._lines.append(bytes(self._partial).decode("utf-8", errors="replace"))
            self._partial.clear()
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> LineReader:
        return self

    async def __anext__(self) -> str:
        while not self._lines:
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        line = self._lines.popleft()
        if self._paused and len(self._lines) <= LOW_LINES and self._transport is not None:
            self._transport.resume_reading()
            self._paused = False
        return line


class PipeWriter:
    """stdout as the SDK writes it (`await write(text)`, `await flush()`): written to the pipe at once from the
    loop's thread; a reader that falls behind is waited for at `flush` (the transport's flow control)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def write(self, text: str) -> None:
        self._writer.write(text.encode("utf-8"))

    async def flush(self) -> None:
        await self._writer.drain()


@contextlib.asynccontextmanager
async def loop_stdio() -> AsyncIterator[tuple[Any, Any] | None]:
    """(stdin, stdout) for `stdio_server(stdin=…, stdout=…)` on the loop's own transports, or None where the
    standard streams are not both pipes or sockets (then the SDK's own streams serve)."""
    if not (watchable(0) and watchable(1)):
        yield None
        return
    loop = asyncio.get_running_loop()
    wire_in, wire_out = _dup_above_std(0), _dup_above_std(1)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)  # a child or a stray read gets end of input, never a request
        os.dup2(2, 1)  # a stray print goes to stderr, never into the wire
    finally:
        os.close(null)
    reader = LineReader()
    read_transport: asyncio.BaseTransport | None = None
    write_transport: asyncio.BaseTransport | None = None
    try:
        # each transport gets a duplicate of its own to close (at end of input, or below): the wire's own
        # descriptors stay open until they are back on fd 0 and fd 1
        read_transport, _ = await loop.connect_read_pipe(
            lambda: reader, os.fdopen(_dup_above_std(wire_in), "rb", buffering=0)
        )
        write_transport, flow = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(_dup_above_std(wire_out), "wb", buffering=0)
        )
        writer = asyncio.StreamWriter(write_transport, flow, None, loop)
        yield reader, PipeWriter(writer)
    finally:
        for fd, wire in ((0, wire_in), (1, wire_out)):
            with contextlib.suppress(OSError):
                os.dup2(wire, fd)
                os.set_blocking(fd, True)  # the transports made the wire non-blocking
            os.close(wire)
        for transport in (read_transport, write_transport):
            if transport is not None:
                transport.close()


def _dup_above_std(fd: int) -> int:
    """A close-on-exec duplicate of `fd` numbered 3 or more (never one of the standard streams)."""
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
