"""The MCP server: the seam's kinds as tools, its answers and schemas as resources, a few prompts; served over
stdio (Claude Desktop) or streamable HTTP (a remote desk, behind a bearer token and a Host/Origin check).

    build_server(host)            the MCPServer for one seam (tools.py, resources.py, prompts.py, panel.py)
    serve_stdio(paths, config)    the daemon (in-process, or the running one's client), then stdio until EOF
    serve_http(paths, config, …)  the same over streamable HTTP on a loopback address by default
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from typing import Any

from mcp.server import MCPServer
from mcp.server.stdio import stdio_server

from seam import __version__
from seam.approval import CodeChannel
from seam.clock import Clock
from seam.config import LoadedConfig
from seam.logmask import SecretMask
from seam.mcp.host import SeamHost
from seam.mcp.panel import build_apps, gate, panel_tools
from seam.mcp.prompts import add_prompts
from seam.mcp.resources import add_resources
from seam.mcp.stdio import loop_stdio
from seam.mcp.tools import build_tools
from seam.paths import SeamPaths

__all__ = ["build_server", "instructions", "output_mask", "run_stdio", "serve_http", "serve_stdio"]

logger = logging.getLogger(__name__)

SERVER_NAME = "seam"


def instructions(host: SeamHost) -> str:
    return (
        f"seam: a file seam between you and a trading desk ({host.paths.root}). Each tool sends one intent "
        "through the seam and returns its markdown response and status; every step is audited. "
        f"{host.describe()} "
        "Signals and closes become proposals that wait for a human: you never approve on your own, and you never "
        "see, ask for or invent an approval code; the approve tool takes only a code the human typed to you "
        "themselves. Responses state facts; do not turn them into recommendations. Read seam://status for the "
        "desk's state, seam://proposals/pending for what waits for the human, seam://schemas/{kind} for the exact "
        "fields, and seam://responses/{id} for any answer again."
    )


def output_mask(config: LoadedConfig) -> Callable[[str], str]:
    """Masks the configured secrets and anything shaped like an account id in text the server returns."""
    secrets = config.secrets
    return SecretMask(
        accounts=[secrets.ib_account.get_secret_value()] if secrets.ib_account else [],
        secrets=secrets.masked(),
    ).mask


def build_server(host: SeamHost) -> MCPServer[Any]:
    mask = output_mask(host.config)
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME,
        title="seam",
        description="A file seam between an AI agent and a trading desk: intents in, markdown responses out.",
        instructions=instructions(host),
        version=__version__,
        tools=[*build_tools(host), *panel_tools(host, mask)],
        extensions=[build_apps()],  # the approval panel; a client without MCP Apps never sees it (AppsGate)
        middleware=[gate()],
    )
    add_resources(server, host, mask)
    add_prompts(server, host, mask)
    return server


def _host(paths: SeamPaths, config: LoadedConfig, clock: Clock, channels: list[CodeChannel] | None) -> SeamHost:
    return SeamHost(paths, config, clock=clock, channels=channels)


async def _until_terminated(main: Callable[[], Any]) -> None:
    """Run `main` until it returns or SIGTERM/SIGINT arrives; either way the `async with` blocks around it unwind."""
    task = asyncio.ensure_future(main())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows' loop
            loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def serve_stdio(
    paths: SeamPaths, config: LoadedConfig, *, clock: Clock, channels: list[CodeChannel] | None = None
) -> None:
    async def main() -> None:
        async with _host(paths, config, clock, channels) as host:
            logger.info("seam mcp on stdio for %s: %s", paths.root, host.describe())
            await run_stdio(build_server(host))

    asyncio.run(_until_terminated(main))


async def run_stdio(server: MCPServer[Any]) -> None:
    """The server on stdin and stdout until end of input: on the event loop's own pipe transports where the streams
    are pipes (seam/mcp/stdio.py: no worker thread per line), else on the SDK's own streams."""
    lowlevel = getattr(server, "_lowlevel_server", None)  # the SDK's in-memory client runs it the same way
    async with loop_stdio() as streams:
        if streams is None or lowlevel is None:
            await server.run_stdio_async()
            return
        stdin, stdout = streams
        async with stdio_server(stdin=stdin, stdout=stdout) as (read_stream, write_stream):
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


def serve_http(
    paths: SeamPaths,
    config: LoadedConfig,
    *,
    clock: Clock,
    host_name: str,
    port: int,
    token: str,
    channels: list[CodeChannel] | None = None,
) -> None:
    import uvicorn

    from seam.mcp.http import guarded_app

    async def main() -> None:
        async with _host(paths, config, clock, channels) as host:
            app = guarded_app(build_server(host), host_name=host_name, port=port, token=token)
            server = uvicorn.Server(
                uvicorn.Config(app, host=host_name, port=port, log_config=None, access_log=False, lifespan="on")
            )
            logger.info("seam mcp on http://%s:%d/mcp for %s: %s", host_name, port, paths.root, host.describe())
            await server.serve()

    # uvicorn shuts down on SIGTERM/SIGINT, then raises the signal again for the handler that was there before:
    # with this one there, the signal ends only uvicorn, and the host still stops its daemon cleanly
    previous = {sig: signal.signal(sig, _noted) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        asyncio.run(main())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _noted(signum: int, frame: object) -> None:
    logger.info("signal %d: the server has stopped; stopping the seam's daemon", signum)
