"""One client connection: framed I/O, the client's identity, its subscriptions and its pacing gate."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from .outbound import Message
from .pacing import PacingGate
from .wire import decode_fields, encode_fields, read_frame

logger = logging.getLogger(__name__)


@dataclass
class Subscriptions:
    """What a session asked to keep receiving."""

    positions: bool = False
    accounts: set[str] = field(default_factory=set)
    accounts_multi: dict[int, str] = field(default_factory=dict)
    quotes: dict[int, str] = field(default_factory=dict)  # reqId -> pair


class Session:
    """A connected client. Writes are synchronous (buffered by the transport) so messages keep order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pacing: PacingGate) -> None:
        self._reader = reader
        self._writer = writer
        self.pacing = pacing
        self.client_id: int | None = None
        self.subscriptions = Subscriptions()
        self.peer = writer.get_extra_info("peername")

    @property
    def closing(self) -> bool:
        return self._writer.is_closing()

    @property
    def gone(self) -> bool:
        """Closing, or the peer hung up (its EOF may be read only after a quick reconnect's login)."""
        return self.closing or self._reader.at_eof()

    def send(self, message: Message) -> None:
        if self.closing:
            # A dropped client learns what it missed when it reconnects, as with a real gateway.
            return
        self._writer.write(encode_fields(message))

    def send_all(self, messages: list[Message]) -> None:
        for message in messages:
            self.send(message)

    def send_raw(self, data: bytes) -> None:
        if not self.closing:
            self._writer.write(data)

    async def receive(self) -> list[str] | None:
        """The next message's fields, or None when the peer closed the connection."""
        try:
            return decode_fields(await read_frame(self._reader))
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    @property
    def reader(self) -> asyncio.StreamReader:
        return self._reader

    def close(self) -> None:
        """Close after flushing what was written (a FIN, as when the gateway goes away)."""
        if not self.closing:
            logger.info("closing session of client %s", self.client_id)
            self._writer.close()

    async def wait_closed(self) -> None:
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass
