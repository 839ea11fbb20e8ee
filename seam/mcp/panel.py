"""The MCP Apps approval panel: the human approves inside Claude Desktop, and the code never enters the chat.

    approval_panel          tool, the model's: opens ui://seam/approval on the pending proposals' evidence
    ui://seam/approval      resource (text/html;profile=mcp-app): the evidence, a code box, Approve / Reject
    approval_panel_decide   tool, app-only (_meta.ui.visibility ["app"]): the panel's buttons; an `approve` intent

Only a client that negotiated MCP Apps (`client_supports_apps`: extension io.modelcontextprotocol/ui with the
mcp-app MIME type) sees any of it; for every other client `AppsGate` lists and answers exactly as if this module
were not there. INV: no order without a human code: the panel's tool sends the ordinary `approve` kind through the
seam, so the code is checked, spent and counted against the proposal like any other. The panel only keeps the code
out of the conversation: the host lists no app-only tool to the model, and the digits go from the human's keyboard
into the sandboxed panel and from there to this server. The human still reads them off a human channel (the
`seam watch` terminal, `seam approvals --new-code`, Telegram); nothing here issues, shows or returns a code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import anyio
from mcp import MCPError
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID, Apps, client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from seam.intent import ID_PATTERN, Kind
from seam.mcp.host import SeamHost
from seam.mcp.panel_page import PANEL_HTML
from seam.mcp.resources import pending_rows
from seam.mcp.tools import NoArguments, SeamChecks, ToolAnswer, call_kind, input_model

__all__ = [
    "APP_MIME_TYPE",
    "DECIDE_TOOL",
    "EXTENSION_ID",
    "PANEL_SESSION_ID",
    "PANEL_TOOL",
    "PANEL_URI",
    "AppsGate",
    "PanelView",
    "build_apps",
    "gate",
    "panel_tools",
]

PANEL_URI = "ui://seam/approval"
PANEL_TOOL = "approval_panel"
DECIDE_TOOL = "approval_panel_decide"
PANEL_SESSION_ID = "mcp-panel"  # in the approve intent and its beads: decided in the panel, not typed to the model
_ID = re.compile(ID_PATTERN)


class PanelView(BaseModel):
    """What the panel shows: each pending proposal with its evidence (never a code)."""

    model_config = ConfigDict(extra="forbid")

    pending: list[dict[str, Any]] = Field(description="Proposals waiting for a human, oldest first, with evidence.")
    count: int
    focus: str | None = Field(None, description="The proposal the panel opens on, when one was named and pends.")


class _PanelInput(BaseModel):
    model_config = ConfigDict(extra="forbid", title="approval_panel arguments")

    proposal: str | None = Field(
        None, pattern=ID_PATTERN, description="Open the panel on this proposal (its id); all pending ones otherwise."
    )


_PANEL_DESCRIPTION = (
    "Opens seam's approval panel in this chat: it shows the proposals waiting for the human with their evidence "
    "(pair, side, size, entry/stop/target, reward:risk, risk, guards, expiry), and the HUMAN types the approval "
    "code into the panel themselves, so the code never passes through you. Use it after a signal or close comes "
    "back pending_approval. Never ask for the code, and do not use `approve` for a proposal decided in the panel."
)
_DECIDE_DESCRIPTION = (
    "For seam's approval panel only (app-only: hidden from the model). Sends an `approve` intent with the code the "
    "human typed into the panel; without the human's code nothing is approved, and a wrong code counts against the "
    "proposal like any other."
)


def _summary(view: PanelView) -> str:
    """The panel's contents in words, for the model and for clients that show no panel."""
    if not view.pending:
        return "No proposals are waiting for a human; the approval panel is empty."
    lines = [
        f"{view.count} proposal{'s wait' if view.count > 1 else ' waits'} for the human. The approval panel shows "
        "the evidence and takes the code from the human directly: do not ask for it."
    ]
    for row in view.pending:
        levels = " / ".join(str(row.get(name)) for name in ("entry", "stop", "target")) if row.get("entry") else ""
        lines.append(
            f"- {row['id']}: {row['kind']} {row['side']} {row['units']:,} {row['pair']}"
            + (f", entry/stop/target {levels}" if levels else "")
            + (f", R:R {row['reward_risk']}" if row.get("reward_risk") is not None else "")
            + (f", code expires {row['expires_at']}" if row.get("expires_at") else "")
        )
    return "\n".join(lines)


async def panel_view(host: SeamHost, arguments: dict[str, Any], mask: Callable[[str], str]) -> CallToolResult:
    focus = arguments.get("proposal")
    if focus is not None and (not isinstance(focus, str) or not _ID.fullmatch(focus)):
        return CallToolResult(
            content=[TextContent(type="text", text="- proposal: must be a proposal id (an intent id)")], is_error=True
        )
    rows = await anyio.to_thread.run_sync(pending_rows, host)
    rows = json.loads(mask(json.dumps(rows)))
    view = PanelView(pending=rows, count=len(rows), focus=focus if any(r["id"] == focus for r in rows) else None)
    text = _summary(view)
    if focus is not None and view.focus is None:
        text = f"Proposal {focus} is not waiting for a human (decided, expired, locked or unknown).\n" + text
    return CallToolResult(
        content=[TextContent(type="text", text=mask(text))], structured_content=view.model_dump(mode="json")
    )


def panel_tools(host: SeamHost, mask: Callable[[str], str]) -> list[Tool]:
    """The panel's two tools: the model's, which opens it, and the app-only one behind its buttons."""

    async def open_panel(arguments: dict[str, Any]) -> CallToolResult:
        return await panel_view(host, arguments, mask)

    async def decide(arguments: dict[str, Any]) -> CallToolResult:
        # INV: no order without a human code: the ordinary approve kind, through the seam's checks
        return await call_kind(host, Kind.APPROVE, arguments, session_id=PANEL_SESSION_ID)

    return [
        Tool(
            fn=open_panel,
            name=PANEL_TOOL,
            title="Approval panel",
            description=_PANEL_DESCRIPTION,
            parameters=_PanelInput.model_json_schema(),
            fn_metadata=SeamChecks(arg_model=NoArguments, output_model=PanelView),
            is_async=True,
            annotations=ToolAnnotations(
                read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
            ),
            meta={"ui": {"resourceUri": PANEL_URI, "visibility": ["model", "app"]}},
        ),
        Tool(
            fn=decide,
            name=DECIDE_TOOL,
            title="Approve or reject in the panel",
            description=_DECIDE_DESCRIPTION,
            parameters=input_model(Kind.APPROVE).model_json_schema(),
            fn_metadata=SeamChecks(arg_model=NoArguments, output_model=ToolAnswer),
            is_async=True,
            annotations=ToolAnnotations(
                read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
            ),
            meta={"ui": {"resourceUri": PANEL_URI, "visibility": ["app"]}},
        ),
    ]


def build_apps() -> Apps:
    """The MCP Apps extension with the panel's HTML; the server then advertises io.modelcontextprotocol/ui."""
    apps = Apps()
    apps.add_html_resource(
        PANEL_URI,
        PANEL_HTML,
        name="approval panel",
        title="seam approval panel",
        description="A proposal's evidence and a box for the human's code, with Approve / Reject.",
        prefers_border=True,
    )
    return apps


class AppsGate:
    """Server middleware: a client without MCP Apps gets the server as it is without the panel.

    Hides the panel's tools from tools/list and its ui:// resource from resources/list, and answers a call or a
    read of them as unknown, unless the client negotiated the extension (checked per request: the capabilities
    belong to the connection, so one HTTP server can serve both kinds of client).
    """

    def __init__(self, tools: frozenset[str], resources: frozenset[str]) -> None:
        self.tools = tools
        self.resources = resources

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        method = ctx.method
        if method not in ("tools/list", "tools/call", "resources/list", "resources/read"):
            return await call_next(ctx)
        if client_supports_apps(ctx):
            return await call_next(ctx)
        params = ctx.params or {}
        if method == "tools/call" and params.get("name") in self.tools:
            return CallToolResult(
                content=[TextContent(type="text", text=f"Unknown tool: {params.get('name')}")], is_error=True
            )
        if method == "resources/read" and params.get("uri") in self.resources:
            raise MCPError(code=-32602, message=f"Unknown resource: {params.get('uri')}")
        result = await call_next(ctx)
        # call_next gives the wire form (a dict, camelCase): drop the panel's entries from the list
        if isinstance(result, dict) and method == "tools/list" and isinstance(result.get("tools"), list):
            result = {**result, "tools": [t for t in result["tools"] if t.get("name") not in self.tools]}
        elif isinstance(result, dict) and method == "resources/list" and isinstance(result.get("resources"), list):
            result = {**result, "resources": [r for r in result["resources"] if r.get("uri") not in self.resources]}
        return result


def gate() -> AppsGate:
    return AppsGate(frozenset({PANEL_TOOL, DECIDE_TOOL}), frozenset({PANEL_URI}))
