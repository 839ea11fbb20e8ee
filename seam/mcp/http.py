"""Streamable HTTP for `seam mcp --http`: every request passes a Host/Origin check, then a bearer token check.

    request ──► Host is this server's address, Origin (when sent) is too ──no──► 421 / 403   (DNS rebinding)
            ──► Authorization: Bearer <SEAM_MCP_TOKEN>                  ──no──► 401
            ──► the SDK's streamable HTTP app (which checks Host/Origin again)

INV: nothing reaches a tool over HTTP without the token, and a page on another origin cannot drive the server
through a browser, even one that resolved a foreign name to this loopback address.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:  # the SDK loads only when the server is built, not for the token check before it
    from mcp.server import MCPServer

__all__ = ["MIN_TOKEN_CHARS", "BearerAndOriginGuard", "allowed_hosts", "guarded_app", "is_loopback"]

MIN_TOKEN_CHARS = 16
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int) -> list[str]:
    """The Host header values this server answers to: its own address (and, on loopback, the loopback names)."""
    own = f"[{host}]" if ":" in host and not host.startswith("[") else host
    names = [own, *(_LOOPBACK_NAMES if is_loopback(host) else ())]
    return list(dict.fromkeys(f"{name}:{port}" for name in names))


class BearerAndOriginGuard:
    def __init__(self, app: ASGIApp, *, hosts: list[str], token: str) -> None:
        self.app = app
        self.hosts = set(hosts)
        self.origins = {f"{scheme}://{host}" for host in hosts for scheme in ("http", "https")}
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, headers: Headers) -> PlainTextResponse | None:
        if headers.get("host") not in self.hosts:
            return PlainTextResponse("seam: this server does not answer to that Host\n", status_code=421)
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins:
            return PlainTextResponse("seam: requests from another origin are refused\n", status_code=403)
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self._token):
            return PlainTextResponse(
                "seam: a bearer token is required (Authorization: Bearer $SEAM_MCP_TOKEN)\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="seam"'},
            )
        return None


def guarded_app(server: MCPServer[Any], *, host_name: str, port: int, token: str) -> ASGIApp:
    """The server's streamable HTTP app at /mcp, behind the guard."""
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = allowed_hosts(host_name, port)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"{scheme}://{host}" for host in hosts for scheme in ("http", "https")],
    )
    app = server.streamable_http_app(transport_security=security, host=host_name)
    return BearerAndOriginGuard(app, hosts=hosts, token=token)
