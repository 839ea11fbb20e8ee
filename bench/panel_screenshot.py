"""A screenshot of the approval panel (docs/approval-panel.png), rendered by headless Chromium with real evidence.

    python bench/panel_screenshot.py [--out docs/approval-panel.png] [--chromium PATH]

A fresh seam in MOCK mode on a fixed Wednesday clock takes a READY signal through the MCP server (the in-memory
client, advertising MCP Apps); the `approval_panel` tool's result (the evidence from `client.pending_proposals`) is
handed to the panel by a small stand-in host page, the way Claude Desktop hands it over (ui/initialize, then
ui/notifications/tool-input and tool-result over postMessage), and Chromium prints the page. No code is shown: the
box is empty, as the human finds it. Chromium comes from Debian's packages: `apt-get install chromium-headless-shell`
(or `chromium`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from html import escape
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
READY = {
    "signal": "READY",
    "pair": "EURUSD",
    "direction": "LONG",
    "confidence": 0.85,
    "entry": 1.0850,
    "stop": 1.0820,
    "target": 1.0910,
    "setup_type": "FVG_ENTRY",
    "thesis": "Bullish FVG on M15 after a sweep of the Asian low; entry at the gap's midpoint.",
}

HOST_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>
body {{ margin: 0; background: #f4f4f5; font: 14px system-ui, sans-serif; }}
.chat {{ width: 720px; margin: 16px auto; }}
.bubble {{ background: #fff; border-radius: 10px; padding: 10px 14px; margin-bottom: 10px; color: #3f3f46; }}
iframe {{ width: 720px; height: 760px; border: 1px solid #d4d4d8; border-radius: 10px; background: #fff; }}
</style></head><body><div class="chat">
<div class="bubble">Claude used <b>approval_panel</b>: {summary}</div>
<iframe id="view" sandbox="allow-scripts" srcdoc="{panel}"></iframe></div>
<script>
const view = document.getElementById("view");
const toolInput = {tool_input};
const toolResult = {tool_result};
window.addEventListener("message", (event) => {{
  const msg = event.data;
  if (!msg || msg.jsonrpc !== "2.0") return;
  const reply = (result) => view.contentWindow.postMessage({{ jsonrpc: "2.0", id: msg.id, result }}, "*");
  if (msg.method === "ui/initialize") {{
    reply({{ protocolVersion: "2026-01-26", hostCapabilities: {{ serverTools: {{}} }},
             hostInfo: {{ name: "stand-in host", version: "1" }}, hostContext: {{ theme: "light" }} }});
  }} else if (msg.method === "ui/notifications/initialized") {{
    view.contentWindow.postMessage({{ jsonrpc: "2.0", method: "ui/notifications/tool-input",
                                      params: {{ arguments: toolInput }} }}, "*");
    view.contentWindow.postMessage({{ jsonrpc: "2.0", method: "ui/notifications/tool-result",
                                      params: toolResult }}, "*");
  }} else if (msg.id !== undefined && msg.method) {{
    reply({{}});
  }}
}});
</script></body></html>
"""


async def panel_result(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from mcp import Client
    from mcp.client import advertise

    from seam.clock import FakeClock
    from seam.config import load_config
    from seam.mcp.host import SeamHost
    from seam.mcp.panel import APP_MIME_TYPE, EXTENSION_ID, PANEL_TOOL
    from seam.mcp.server import build_server
    from seam.paths import SeamPaths

    paths = SeamPaths.at(root)
    paths.create_folders()
    config = load_config(paths, env={})
    apps = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
    async with SeamHost(paths, config, clock=FakeClock(), channels=[lambda *_: None]) as host:
        async with Client(build_server(host), extensions=[apps]) as client:
            signal = await client.call_tool("signal", {"id": "sig-eurusd-0918", **READY})
            assert signal.structured_content and signal.structured_content["status"] == "pending_approval"
            arguments = {"proposal": "sig-eurusd-0918"}
            result = await client.call_tool(PANEL_TOOL, arguments)
    return arguments, result.model_dump(mode="json", by_alias=True, exclude_none=True)


def chromium(given: str | None) -> str:
    for name in [given] if given else ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"]:
        found = shutil.which(name) if name else None
        if found:
            return found
    raise SystemExit("no Chromium found: `apt-get install chromium-headless-shell` (Debian), or pass --chromium PATH")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot the approval panel with sample evidence.")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "approval-panel.png")
    parser.add_argument("--chromium")
    args = parser.parse_args(argv)
    browser = chromium(args.chromium)
    from seam.mcp.panel_page import PANEL_HTML

    with tempfile.TemporaryDirectory(prefix="seam-panel-") as tmp:
        arguments, result = asyncio.run(panel_result(Path(tmp) / "desk"))
        summary = escape(result["content"][0]["text"].splitlines()[0])
        page = HOST_PAGE.format(
            summary=summary,
            panel=escape(PANEL_HTML, quote=True),
            tool_input=json.dumps(arguments),
            tool_result=json.dumps(result),
        )
        host = Path(tmp) / "host.html"
        host.write_text(page, encoding="utf-8")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=760,900",
                "--virtual-time-budget=3000",
                f"--screenshot={args.out.resolve()}",
                host.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if done.returncode != 0 or not args.out.exists():
        sys.stderr.write(done.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
