"""The MCP Apps approval panel at the protocol level: the SDK's in-memory client, with and without MCP Apps."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.client import advertise
from mcp_types import CallToolResult, TextContent, TextResourceContents

from seam.clock import FakeClock
from seam.config import load_config
from seam.mcp.host import SeamHost
from seam.mcp.panel import APP_MIME_TYPE, DECIDE_TOOL, EXTENSION_ID, PANEL_SESSION_ID, PANEL_TOOL, PANEL_URI
from seam.mcp.server import build_server
from tests.conftest import make_seam
from tests.mcp.test_server import READY, text_of

pytestmark = pytest.mark.anyio

APPS = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def desk(root: Path, *, apps: bool, run_daemon: bool = True) -> AsyncIterator[tuple[Client, dict[str, str]]]:
    paths = make_seam(root)
    shown: dict[str, str] = {}
    channel = [lambda proposal, code, _at: shown.__setitem__(proposal.id, code)]
    config = load_config(paths, env={})
    async with SeamHost(paths, config, clock=FakeClock(), channels=channel, run_daemon=run_daemon) as host:
        async with Client(build_server(host), extensions=[APPS] if apps else None) as client:
            yield client, shown


def dumped(result: Any) -> str:
    return json.dumps(result.model_dump(mode="json", by_alias=True))


async def test_with_apps_the_panel_tool_opens_the_ui_resource_and_its_approve_tool_is_app_only(tmp_path: Path) -> None:
    async with desk(tmp_path / "seam", apps=True, run_daemon=False) as (client, _):
        assert EXTENSION_ID in (client.server_capabilities.extensions or {})
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools[PANEL_TOOL].meta == {"ui": {"resourceUri": PANEL_URI, "visibility": ["model", "app"]}}
        assert tools[DECIDE_TOOL].meta == {"ui": {"resourceUri": PANEL_URI, "visibility": ["app"]}}
        assert tools[PANEL_TOOL].annotations and tools[PANEL_TOOL].annotations.read_only_hint is True
        # what a host that honours visibility shows the model: every kind and the panel, never the app's tool
        for_the_model = {
            name for name, t in tools.items() if "model" in (t.meta or {}).get("ui", {}).get("visibility", ["model"])
        }
        assert DECIDE_TOOL not in for_the_model and {PANEL_TOOL, "approve", "status"} <= for_the_model
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        assert listed[PANEL_URI].mime_type == APP_MIME_TYPE
        [content] = (await client.read_resource(PANEL_URI)).contents
        assert isinstance(content, TextResourceContents) and content.mime_type == APP_MIME_TYPE
        html = content.text
        assert html.startswith("<!DOCTYPE html>") and "ui/initialize" in html and DECIDE_TOOL in html
        assert "innerHTML" not in html and "http://" not in html and "https://" not in html  # no markup, no network


async def test_without_apps_nothing_changes(tmp_path: Path) -> None:
    async with desk(tmp_path / "seam", apps=False, run_daemon=False) as (client, _):
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert PANEL_TOOL not in names and DECIDE_TOOL not in names and "approve" in names
        assert PANEL_URI not in {str(r.uri) for r in (await client.list_resources()).resources}
        with pytest.raises(MCPError):
            await client.read_resource(PANEL_URI)
        for name in (PANEL_TOOL, DECIDE_TOOL):
            refused = await client.call_tool(name, {"proposal": "sig-1", "code": "123456"})
            assert refused.is_error and "Unknown tool" in text_of(refused)


async def test_the_panel_shows_the_pending_evidence_and_an_approve_through_it_needs_the_human_code(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with desk(tmp_path / "seam", apps=True) as (client, shown):

        async def call(name: str, arguments: dict[str, Any]) -> CallToolResult:
            result = await client.call_tool(name, arguments)
            seen.append(dumped(result))
            return result

        await call("signal", {"id": "sig-p", **READY})
        code = shown["sig-p"]
        view = await call(PANEL_TOOL, {"proposal": "sig-p"})
        assert not view.is_error and view.structured_content is not None
        assert view.structured_content["focus"] == "sig-p" and view.structured_content["count"] == 1
        [proposal] = view.structured_content["pending"]
        assert proposal["pair"] == "EURUSD" and proposal["evidence"]["reward_risk"] == proposal["reward_risk"]
        assert "sig-p" in text_of(view) and "do not ask for it" in text_of(view)

        missing = await call(DECIDE_TOOL, {"proposal": "sig-p"})
        assert missing.is_error and "- code: is required" in text_of(missing)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        refused = await call(DECIDE_TOOL, {"proposal": "sig-p", "code": wrong})
        assert refused.is_error and refused.structured_content and refused.structured_content["status"] != "ok"
        assert "wrong code" in text_of(refused)
        approved = await call(DECIDE_TOOL, {"proposal": "sig-p", "code": code})
        assert not approved.is_error, text_of(approved)
        assert approved.structured_content and approved.structured_content["status"] == "ok"
        again = await call(DECIDE_TOOL, {"proposal": "sig-p", "code": code})
        assert again.is_error  # spent: a code approves once
        after = await call(PANEL_TOOL, {})
        assert after.structured_content == {"pending": [], "count": 0, "focus": None}
        intent = approved.structured_content["id"]
        [filed] = [p for p in (tmp_path / "seam" / "intents" / "processed").rglob(f"{intent}*")]
        assert f"session_id: {PANEL_SESSION_ID}" in filed.read_text(encoding="utf-8")  # the beads say: the panel
    for text in seen:
        assert code not in text and wrong not in text
    assert code not in caplog.text


async def test_the_panel_tool_refuses_a_name_that_is_not_an_id_and_says_when_a_proposal_is_not_pending(
    tmp_path: Path,
) -> None:
    async with desk(tmp_path / "seam", apps=True, run_daemon=False) as (client, _):
        bad = await client.call_tool(PANEL_TOOL, {"proposal": "../../seam.yaml"})
        assert bad.is_error and "- proposal:" in text_of(bad)
        gone = await client.call_tool(PANEL_TOOL, {"proposal": "never-proposed"})
        assert not gone.is_error and gone.structured_content == {"pending": [], "count": 0, "focus": None}
        assert isinstance(gone.content[0], TextContent) and "is not waiting" in gone.content[0].text
