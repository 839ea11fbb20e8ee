"""Wire format of the TWS socket protocol: length-prefixed frames of NUL-terminated text fields.

Every message after the opening ``API\\0`` is a 4-byte big-endian length followed by text fields,
each ending in NUL; the first field is the message id. An empty field means "unset".
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Sequence

logger = logging.getLogger(__name__)

# The one layout we speak; at 176 ib_async 2.1 and ib_insync 0.9.86 decode every message alike.
SERVER_VERSION = 176
HANDSHAKE_PREFIX = b"API\0"
# A garbage length header must not make us wait for (or allocate) gigabytes.
MAX_FRAME_BYTES = 1 << 20

_LENGTH = struct.Struct(">I")

Field = str | int | float | bool | None


class ProtocolError(Exception):
    """The peer sent something that is not the TWS protocol we speak."""


def format_field(value: Field) -> str:
    """Render one field the way the clients' decoders parse it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        # Decoders read flags with int(), so "True" would break them.
        return "1" if value else "0"
    return str(value)


def encode_frame(payload: bytes) -> bytes:
    """Prefix a payload with its length."""
    return _LENGTH.pack(len(payload)) + payload


def encode_fields(fields: Sequence[Field]) -> bytes:
    """Encode one message (message id first) as a complete frame."""
    text = "".join(format_field(field) + "\0" for field in fields)
    return encode_frame(text.encode())


def decode_fields(payload: bytes) -> list[str]:
    """Split a frame's payload into its text fields."""
    parts = payload.decode(errors="replace").split("\0")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """Read one length-prefixed frame; raises IncompleteReadError at end of stream."""
    header = await reader.readexactly(_LENGTH.size)
    (length,) = _LENGTH.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {length} bytes exceeds {MAX_FRAME_BYTES}")
    return await reader.readexactly(length)


def parse_version_range(text: str) -> tuple[int, int]:
    """Parse the client's ``v157..176`` offer; connect options after a space are ignored."""
    spec = text.split(" ", 1)[0]
    if not spec.startswith("v"):
        raise ProtocolError(f"bad version offer {text!r}")
    low, sep, high = spec[1:].partition("..")
    try:
        return int(low), int(high if sep else low)
    except ValueError as exc:
        raise ProtocolError(f"bad version offer {text!r}") from exc


def negotiate_version(low: int, high: int) -> int:
    """Pick the server version for a client offering ``low..high``.

    Only 176 is served: answering above the client's maximum makes ib_insync misparse openOrder, and
    below it the message layouts differ from the ones this gateway writes.
    """
    if not low <= SERVER_VERSION <= high:
        raise ProtocolError(f"client offers v{low}..{high}, this gateway speaks only v{SERVER_VERSION}")
    return SERVER_VERSION


async def read_handshake(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Read ``API\\0`` and the framed version offer; return the offered range."""
    prefix = await reader.readexactly(len(HANDSHAKE_PREFIX))
    if prefix != HANDSHAKE_PREFIX:
        raise ProtocolError(f"expected {HANDSHAKE_PREFIX!r}, got {prefix!r}")
    payload = await read_frame(reader)
    return parse_version_range(payload.decode(errors="replace").rstrip("\0"))
