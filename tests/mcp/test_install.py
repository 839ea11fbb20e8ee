"""`seam mcp install`: the Claude Desktop entry, printed or written where the platform keeps it, others kept."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from seam.errors import ConfigError
from seam.mcp.install import config_path, server_entry, write_entry
from seam.paths import SeamPaths
from tests.conftest import make_seam, run_child


def run_seam(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_child(list(args), env, None, 30)


def test_print_gives_a_valid_entry_with_absolute_paths_and_the_seam_root(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    done = run_seam("mcp", "install", "--print", "--seam", str(paths.root), env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)["mcpServers"]["seam"]
    assert Path(entry["command"]).is_absolute() and Path(entry["command"]).exists()
    assert entry["args"] == ["-m", "seam", "mcp", "--seam", str(paths.root)] and entry["env"]["SEAM_ROOT"] == str(
        paths.root
    )
    assert str(paths.intents) in done.stderr and str(paths.responses) in done.stderr  # the filesystem server's folders


def test_install_with_a_fake_home_writes_the_entry_keeps_other_servers_and_a_backup(tmp_path: Path) -> None:
    paths = make_seam(tmp_path / "seam")
    home = tmp_path / "home"
    target = home / ".config" / "Claude" / "claude_desktop_config.json"
    target.parent.mkdir(parents=True)
    before = {"globalShortcut": "Ctrl+Space", "mcpServers": {"files": {"command": "npx", "args": ["fs"]}}}
    target.write_text(json.dumps(before), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CONFIG_HOME", "APPDATA")} | {"HOME": str(home)}
    done = run_seam("mcp", "install", "--seam", str(paths.root), env=env)
    assert done.returncode == 0, done.stderr
    after = json.loads(target.read_text(encoding="utf-8"))
    assert after["globalShortcut"] == "Ctrl+Space" and after["mcpServers"]["files"] == before["mcpServers"]["files"]
    assert after["mcpServers"]["seam"] == server_entry(paths)
    [backup] = target.parent.glob("claude_desktop_config.json.*.bak")
    assert json.loads(backup.read_text(encoding="utf-8")) == before
    again = run_seam("mcp", "install", "--seam", str(paths.root), env=env)  # a second install replaces its own entry
    assert again.returncode == 0 and "updated mcpServers.seam" in again.stdout
    assert set(json.loads(target.read_text(encoding="utf-8"))["mcpServers"]) == {"files", "seam"}


def test_the_config_lives_where_each_platform_keeps_it(tmp_path: Path) -> None:
    home = tmp_path
    mac = config_path("darwin", {}, home)
    assert mac == home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    assert config_path("win32", {"APPDATA": str(home / "Roaming")}, home) == (
        home / "Roaming" / "Claude" / "claude_desktop_config.json"
    )
    assert config_path("linux", {}, home) == home / ".config" / "Claude" / "claude_desktop_config.json"
    assert config_path("linux", {"XDG_CONFIG_HOME": str(home / "x")}, home) == (
        home / "x" / "Claude" / "claude_desktop_config.json"
    )


def test_a_config_that_is_not_json_is_left_untouched(tmp_path: Path) -> None:
    target = tmp_path / "claude_desktop_config.json"
    target.write_text("{ not json", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        write_entry(target, "seam", server_entry(SeamPaths.at(tmp_path)))
    assert "nothing was changed" in str(raised.value)
    assert target.read_text(encoding="utf-8") == "{ not json" and list(tmp_path.iterdir()) == [target]
