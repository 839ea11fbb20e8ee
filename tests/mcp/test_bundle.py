"""`seam mcp bundle`: the Desktop Extension's manifest, its archive, the official mcpb CLI on both, and its entry point
started the way Claude Desktop starts it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters, stdio_client
from mcp.client import advertise

from seam.clock import FakeClock
from seam.config import load_config
from seam.mcp.bundle import ENTRY_POINT, LAUNCHER, build_bundle, manifest, write_bundle_dir
from seam.mcp.host import SeamHost
from seam.mcp.panel import APP_MIME_TYPE, DECIDE_TOOL, EXTENSION_ID
from seam.mcp.server import build_server
from tests.conftest import REPO, make_seam
from tests.mcp.test_transports import child_env

MCPB = "@anthropic-ai/mcpb@2.1.2"  # the same pin as .ci/mcpb_leg.sh


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_manifest_lists_what_the_server_serves_and_asks_for_the_seam_folder_and_python(
    tmp_path: Path,
) -> None:
    paths = make_seam(tmp_path / "seam")
    data = manifest(paths.root, python="/opt/py/bin/python3")
    assert data["manifest_version"] == "0.3" and data["server"]["entry_point"] == ENTRY_POINT
    config = data["server"]["mcp_config"]
    assert config["command"] == "${user_config.python}"
    assert config["args"] == ["${__dirname}/server/main.py", "--seam", "${user_config.seam_root}"]
    settings = data["user_config"]
    assert settings["seam_root"]["type"] == "directory" and settings["seam_root"]["default"] == str(paths.root)
    assert settings["python"]["default"] == "/opt/py/bin/python3"
    assert set(settings) == {"seam_root", "python"}  # no secret travels in a bundle: they stay in the seam's .env
    assert set(config["env"]) == {"SEAM_ROOT"}
    apps = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
    async with SeamHost(paths, load_config(paths, env={}), clock=FakeClock(), run_daemon=False) as host:
        async with Client(build_server(host), extensions=[apps]) as client:
            served = {tool.name for tool in (await client.list_tools()).tools} - {DECIDE_TOOL}  # app-only: not listed
            prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
    assert {tool["name"] for tool in data["tools"]} == served
    assert {prompt["name"] for prompt in data["prompts"]} == prompts


def test_the_archive_holds_the_manifest_and_the_launcher_at_its_root(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    archive = build_bundle(tmp_path / "out" / "seam.mcpb", paths)
    folder = write_bundle_dir(tmp_path / "dir", paths.root)
    with zipfile.ZipFile(archive) as bundle:
        assert sorted(bundle.namelist()) == ["manifest.json", ENTRY_POINT]
        assert json.loads(bundle.read("manifest.json")) == json.loads((folder / "manifest.json").read_text())
        assert bundle.read(ENTRY_POINT).decode() == LAUNCHER == (folder / ENTRY_POINT).read_text()
    assert build_bundle(tmp_path / "again.mcpb", paths).read_bytes() == archive.read_bytes()  # reproducible


def _mcpb_command(cwd: Path) -> str:
    """The pinned mcpb CLI's own command, as npx installs it: npx is asked once where it is (each npx run spends
    about a second of CPU resolving the package before the CLI starts), and the CLI then runs as itself."""
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx is not installed (Node.js): the official mcpb CLI cannot run here")
    found = subprocess.run(
        [npx, "--yes", "--package", MCPB, "--call", "command -v mcpb"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert found.returncode == 0 and found.stdout.strip(), found.stdout + found.stderr
    return found.stdout.strip()


def _mcpb(command: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([command, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_the_official_mcpb_cli_validates_packs_and_unpacks_the_bundle(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    folder = write_bundle_dir(tmp_path / "dir", paths.root)
    mcpb = _mcpb_command(cwd=tmp_path)
    validated = _mcpb(mcpb, "validate", str(folder / "manifest.json"), cwd=tmp_path)
    assert validated.returncode == 0 and "passes" in validated.stdout, validated.stdout + validated.stderr
    packed = _mcpb(mcpb, "pack", str(folder), str(tmp_path / "packed.mcpb"), cwd=tmp_path)
    assert packed.returncode == 0 and (tmp_path / "packed.mcpb").is_file(), packed.stdout + packed.stderr
    ours = build_bundle(tmp_path / "seam.mcpb", paths)
    unpacked = _mcpb(mcpb, "unpack", str(ours), str(tmp_path / "unpacked"), cwd=tmp_path)
    assert unpacked.returncode == 0, unpacked.stdout + unpacked.stderr
    assert (tmp_path / "unpacked" / ENTRY_POINT).read_text() == LAUNCHER
    revalidated = _mcpb(mcpb, "validate", str(tmp_path / "unpacked" / "manifest.json"), cwd=tmp_path)
    assert revalidated.returncode == 0, revalidated.stdout + revalidated.stderr


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_bundle_entry_point_serves_the_seam_as_claude_desktop_starts_it(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    folder = write_bundle_dir(tmp_path / "extension", paths.root)
    config = manifest(paths.root)["server"]["mcp_config"]
    values = {"${__dirname}": str(folder), "${user_config.seam_root}": str(paths.root)}

    def substituted(text: str) -> str:
        for name, value in values.items():
            text = text.replace(name, value)
        return text

    params = StdioServerParameters(
        command=sys.executable,  # ${user_config.python}
        args=[substituted(arg) for arg in config["args"]],
        env={**child_env(), **{k: substituted(v) for k, v in config["env"].items()}},
        cwd=REPO,
    )
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            status = await client.call_tool("status", {"id": "from-the-bundle"})
    assert status.structured_content and status.structured_content["status"] == "ok"
    assert (paths.responses / "from-the-bundle.md").is_file()
