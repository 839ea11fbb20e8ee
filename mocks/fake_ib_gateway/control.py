"""Control channel: drive a fake gateway running in another process with newline-delimited JSON.

Connect to ``127.0.0.1:<control-port>`` and send one JSON object per line, for example
``{"cmd": "set_price", "pair": "EURUSD", "price": 1.1}``. Each line gets one JSON line back:
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``. Send ``{"cmd": "help"}`` for the
command list (the same as ``COMMANDS`` below).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
from typing import Any

from .instruments import Instrument
from .server import FakeGateway

logger = logging.getLogger(__name__)

# name -> (parameters in order, what it does); each maps to the FakeGateway method of that name.
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "ping": ((), "answer 'pong'"),
    "quote": (("pair",), "current bid/ask of a pair"),
    "set_price": (("pair", "price"), "put a pair's mid at price; fills orders it reaches"),
    "jump_price": (("pair", "pips"), "gap a pair by pips (negative: down)"),
    "advance": (("steps",), "move the random walk steps steps"),
    "drop_all_clients": ((), "close every client socket, keep state"),
    "refuse_connections": (("seconds",), "stop listening for seconds"),
    "resume_connections": ((), "listen again now"),
    "restart": ((), "drop everyone and listen afresh, keeping state"),
    "inject_position": (("account", "pair", "qty", "avg_cost"), "a position no client traded"),
    "reject_next_order": (("reason",), "next order gets error 201 with reason"),
    "drop_after_next_order": ((), "book the next order, then drop its client unacknowledged"),
    "orders_received": ((), "every placeOrder received, in order"),
    "order_refs": ((), "orderRef of every placeOrder received"),
    "positions": (("account",), "positions (account optional)"),
    "open_orders": ((), "working orders"),
    "executions": ((), "all fills"),
    "client_ids": ((), "clientIds logged in now"),
    "account_values": (("account",), "USD account values of an account"),
    "help": ((), "this list"),
}
_OPTIONAL = {"steps", "reason", "account"}


class ControlChannel:
    """A small TCP server on 127.0.0.1 that applies JSON commands to one gateway."""

    def __init__(self, gateway: FakeGateway, host: str = "127.0.0.1", port: int = 0) -> None:
        self._gateway = gateway
        self._host = host
        self._requested_port = port
        self._server: asyncio.Server | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the control channel has not been started")
        return self._port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connection, self._host, self._requested_port)
        self._port = self._server.sockets[0].getsockname()[1]
        logger.info("control channel listening on %s:%d", self._host, self._port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                if not line.strip():
                    continue
                reply = await self.execute_line(line.decode(errors="replace"))
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def execute_line(self, line: str) -> dict[str, Any]:
        """Run one JSON command line and return the reply object (never raises)."""
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a command is a JSON object with a 'cmd' field")
            return {"ok": True, "result": await self.execute(request)}
        except Exception as exc:  # every failure becomes a reply; the channel keeps serving
            logger.warning("control command %r failed: %s", line.strip(), exc)
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    async def execute(self, request: dict[str, Any]) -> Any:
        name = request.get("cmd")
        if name not in COMMANDS:
            raise ValueError(f'unknown cmd {name!r}; send {{"cmd": "help"}} for the list')
        if name == "ping":
            return "pong"
        if name == "help":
            return {cmd: {"args": list(params), "does": text} for cmd, (params, text) in COMMANDS.items()}
        params, _ = COMMANDS[name]
        kwargs = {p: request[p] for p in params if p in request}
        missing = [p for p in params if p not in kwargs and p not in _OPTIONAL]
        if missing:
            raise ValueError(f"{name} needs {', '.join(missing)}")
        target = getattr(self._gateway, name)
        result = target(**kwargs) if callable(target) else target
        if inspect.isawaitable(result):
            result = await result
        return to_jsonable(result)


def to_jsonable(value: Any) -> Any:
    """Dataclasses (orders, quotes, positions) as plain JSON values."""
    if isinstance(value, Instrument):
        return value.pair
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value
