"""Parity: the same operations through the file seam, the MCP server and the CLI get the same response bodies.

Each door gets a fresh seam on the same fake clock and sends the same intents in the same order; the bodies (the
markdown under the front matter) must match once each intent's own id is written as <id>."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from seam.clock import FakeClock
from seam.config import load_config
from seam.mcp.host import SeamHost
from seam.mcp.server import build_server
from seam.paths import SeamPaths
from seam.respond import split_response
from seam.yamlsafe import dump_yaml
from tests.conftest import DaemonThread, drop, make_seam, seam_cli, wait_for
from tests.mcp.test_transports import WEDNESDAY

pytestmark = pytest.mark.slow

# bead numbers count each seam's history: `seam mcp` starts its daemon as `seam watch` does, with a bead noting the
# capital settings, which a bare test daemon does not write; the numbers are sources, not the answer
_BEAD = re.compile(r"(\bbeads? \|? ?|\bbead )\d+")
# which daemon owns the broker is that seam's own process: named, never the same across seams
_OWNER = re.compile(r"(\| broker owner \| )daemon [^|]*\|")
FORMING = {"signal": "FORMING", "pair": "EURUSD", "direction": "LONG", "confidence": 0.4, "setup_type": "FVG_ENTRY"}
OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("st", "status", {}),
    ("pos", "positions", {}),
    ("acc", "account", {}),
    ("form", "signal", FORMING),
    ("narr", "narrate", {"template": "briefing"}),
    ("halt", "halt", {"reason": "parity check", "cancel_orders": True}),
    ("st2", "status", {}),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def intent(door: str, name: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"seam": 1, "id": f"{door}-{name}", "kind": kind, "payload": payload}


def body(paths: SeamPaths, intent_id: str) -> str:
    text = (paths.responses / f"{intent_id}.md").read_text(encoding="utf-8")
    split = split_response(text)
    assert split is not None, text
    return _OWNER.sub(r"\1<the daemon> |", _BEAD.sub(r"\1N", split[1].replace(intent_id, "<id>")))


def through_files(root: Path) -> list[str]:
    paths = make_seam(root)
    with DaemonThread(paths, clock=FakeClock()):
        for name, kind, payload in OPERATIONS:
            drop(paths, f"file-{name}.yaml", dump_yaml(intent("file", name, kind, payload)))
            answer = paths.responses / f"file-{name}.md"
            wait_for(answer.exists, 20, what=f"the response to file-{name}")
    return [body(paths, f"file-{name}") for name, _, _ in OPERATIONS]


def through_cli(root: Path) -> list[str]:
    paths = make_seam(root)
    with DaemonThread(paths, clock=FakeClock()):
        for name, kind, payload in OPERATIONS:
            done = seam_cli(
                "submit",
                "-",
                "--seam",
                str(paths.root),
                input_text=dump_yaml(intent("cli", name, kind, payload)),
                env={"SEAM_CLOCK_START": WEDNESDAY},
            )
            assert (paths.responses / f"cli-{name}.md").exists(), done.stdout + done.stderr
    return [body(paths, f"cli-{name}") for name, _, _ in OPERATIONS]


async def through_mcp(root: Path) -> list[str]:
    paths = make_seam(root)
    async with SeamHost(paths, load_config(paths, env={}), clock=FakeClock()) as host:
        async with Client(build_server(host)) as client:
            for name, kind, payload in OPERATIONS:
                await client.call_tool(kind, {"id": f"mcp-{name}", **payload})
    return [body(paths, f"mcp-{name}") for name, _, _ in OPERATIONS]


@pytest.mark.anyio
async def test_the_file_seam_the_mcp_server_and_the_cli_give_the_same_response_bodies(tmp_path: Path) -> None:
    files = through_files(tmp_path / "files")
    cli = through_cli(tmp_path / "cli")
    mcp = await through_mcp(tmp_path / "mcp")
    for (name, kind, _), by_file, by_cli, by_mcp in zip(OPERATIONS, files, cli, mcp, strict=True):
        assert by_file == by_mcp, f"{name} ({kind}): the file seam and MCP differ"
        assert by_file == by_cli, f"{name} ({kind}): the file seam and the CLI differ"
    assert any("halt" in text.lower() for text in files)  # the sequence did something, not only read
