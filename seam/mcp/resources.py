"""MCP resources: responses, schemas, runbooks, status and pending proposals, read from inside the seam only.

    seam://responses/{id}       responses/<id>.md, through `client.read_response` (the id rule keeps it in responses/)
    seam://schemas/{kind}       the published JSON Schema of a kind (or `envelope`), from the package
    seam://runbooks/{id}        RB-NNN, from the package's runbooks folder (empty until the runbooks land)
    seam://status               the status facts, and whether this server runs the daemon or is its client
    seam://proposals/pending    proposals waiting for a human, with their evidence; never a code

INV: no name from a URI reaches the filesystem unchecked: each is matched whole against its rule (an id, a kind, a
runbook number) before it names a file, so `..`, absolute paths and encoded variants never leave the seam.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import fields
from datetime import datetime
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from seam import client
from seam.errors import IntentError
from seam.intent import ID_PATTERN, Kind
from seam.mcp.host import SeamHost
from seam.schema import SCHEMA_DIR

__all__ = ["RUNBOOK_PATTERN", "add_resources", "pending_rows", "pending_text", "runbooks_folder", "status_text"]

RUNBOOK_PATTERN = r"^RB-[0-9]{3}$"
_ID = re.compile(ID_PATTERN)
_RUNBOOK = re.compile(RUNBOOK_PATTERN)
_SCHEMAS = {kind.value for kind in Kind} | {"envelope"}


def runbooks_folder() -> Traversable:
    """The runbooks' package data (seam/monitor/runbooks/); it may not exist yet."""
    return files("seam").joinpath("monitor", "runbooks")


def _response(host: SeamHost, intent_id: str) -> str:
    if not _ID.fullmatch(intent_id):
        raise ResourceError("an intent id is 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit")
    try:
        response = client.read_response(host.paths, intent_id)
    except IntentError as exc:
        raise ResourceError(str(exc)) from None
    if response is None:
        raise ResourceNotFoundError(f"no response {intent_id} yet (responses/{intent_id}.md does not exist)")
    return response.text


def _schema(kind: str) -> str:
    if kind not in _SCHEMAS:
        raise ResourceNotFoundError(f"no schema {kind!r}: the kinds are {', '.join(sorted(_SCHEMAS))}")
    return (SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8")


def _runbook(runbook_id: str) -> str:
    if not _RUNBOOK.fullmatch(runbook_id):
        raise ResourceError("a runbook id looks like RB-001")
    entry = runbooks_folder().joinpath(f"{runbook_id}.md")
    if not entry.is_file():
        raise ResourceNotFoundError(f"no runbook {runbook_id} yet")
    return entry.read_text(encoding="utf-8")


def status_text(host: SeamHost) -> str:
    """The status facts as `seam status --json` reads them, with who answers this server's intents."""
    from seam.handlers.base import HandlerContext
    from seam.handlers.system import status_facts
    from seam.runtime import Runtime

    runtime = Runtime.console(host.paths, host.config, clock=host.clock)
    try:
        context = HandlerContext(host.config.settings, host.paths, runtime.store, host.clock)
        facts = status_facts(context, mode_source=host.config.source_of("broker.mode"))
    finally:
        runtime.close()
    facts = {"mcp_daemon": host.role.value, "mcp": host.describe(), **facts}
    return json.dumps(facts, indent=2, default=str)


def pending_rows(host: SeamHost) -> list[dict[str, Any]]:
    """Proposals waiting for a human, oldest first, as plain JSON data with their evidence.

    INV: never a code: these come from `client.pending_proposals`, which reads proposals and never the codes.
    """
    proposals = client.pending_proposals(host.paths, host.config)
    rows = [{f.name: _plain_mapping(getattr(p, f.name)) for f in fields(p)} for p in proposals]
    plain: list[dict[str, Any]] = json.loads(json.dumps(rows, default=_plain))
    return plain


def pending_text(host: SeamHost) -> str:
    """seam://proposals/pending: the pending proposals and their count, as JSON."""
    rows = pending_rows(host)
    return json.dumps({"pending": rows, "count": len(rows)}, indent=2)


def _plain_mapping(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def add_resources(server: MCPServer[Any], host: SeamHost, mask: Callable[[str], str]) -> None:
    async def blocking(fn: Callable[[], str]) -> str:
        return mask(await anyio.to_thread.run_sync(fn))

    @server.resource(
        "seam://responses/{id}",
        name="response",
        title="Response to an intent",
        description="responses/<id>.md: YAML front matter (id, kind, status, bead, at) and the markdown answer.",
        mime_type="text/markdown",
    )
    async def response(id: str) -> str:
        return await blocking(lambda: _response(host, id))

    @server.resource(
        "seam://schemas/{kind}",
        name="schema",
        title="Intent schema",
        description="The published JSON Schema of one kind's intent file (or `envelope`).",
        mime_type="application/schema+json",
    )
    async def schema(kind: str) -> str:
        return await blocking(lambda: _schema(kind))

    @server.resource(
        "seam://runbooks/{id}",
        name="runbook",
        title="Runbook",
        description="An operator runbook, RB-001..RB-008, named by alerts.",
        mime_type="text/markdown",
    )
    async def runbook(id: str) -> str:
        return await blocking(lambda: _runbook(id))

    @server.resource(
        "seam://status",
        name="status",
        title="Seam status",
        description="Mode, broker link, halt flag, queue, daemons; and whether this MCP server runs the daemon.",
        mime_type="application/json",
    )
    async def status() -> str:
        return await blocking(lambda: status_text(host))

    @server.resource(
        "seam://proposals/pending",
        name="pending proposals",
        title="Proposals waiting for a human",
        description="Each proposal's evidence (pair, side, levels, size, reward:risk, expiry). Never a code.",
        mime_type="application/json",
    )
    async def pending() -> str:
        return await blocking(lambda: pending_text(host))
