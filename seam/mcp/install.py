"""`seam mcp install`: the Claude Desktop entry that starts `seam mcp` on this seam, printed or written.

The entry names this Python by its absolute path (Claude Desktop starts servers without the shell's PATH) and the
seam root. Writing keeps every other key and server of claude_desktop_config.json and leaves a backup beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from seam.errors import ConfigError
from seam.paths import SeamPaths, write_atomic

__all__ = ["CONFIG_NAME", "Installed", "config_path", "install_entry", "server_entry", "write_entry"]

CONFIG_NAME = "claude_desktop_config.json"


def config_path(
    platform: str | None = None, environ: Mapping[str, str] | None = None, home: Path | None = None
) -> Path:
    """Where Claude Desktop reads its configuration on this platform."""
    platform = platform or sys.platform
    environ = os.environ if environ is None else environ
    home = home or Path(environ.get("HOME") or Path.home())
    if platform == "darwin":
        return home / "Library" / "Application Support" / "Claude" / CONFIG_NAME
    if platform == "win32":
        appdata = environ.get("APPDATA")
        return (Path(appdata) if appdata else home / "AppData" / "Roaming") / "Claude" / CONFIG_NAME
    xdg = environ.get("XDG_CONFIG_HOME")
    return (Path(xdg) if xdg else home / ".config") / "Claude" / CONFIG_NAME


def server_entry(paths: SeamPaths, *, python: str | None = None) -> dict[str, Any]:
    """The `mcpServers` entry: this Python, absolute, running `seam mcp` on this seam."""
    executable = str(Path(python or sys.executable).absolute())
    root = str(paths.root)
    return {"command": executable, "args": ["-m", "seam", "mcp", "--seam", root], "env": {"SEAM_ROOT": root}}


@dataclass(frozen=True)
class Installed:
    path: Path
    backup: Path | None
    replaced: bool  # an entry of that name was there before


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(
            str(path), f"is not valid JSON ({exc}); fix it or move it away, nothing was changed"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "must hold a JSON object; nothing was changed")
    servers = data.get("mcpServers", {})
    if not isinstance(servers, dict):
        raise ConfigError(f"{path}: mcpServers", "must be a JSON object; nothing was changed")
    return data


def write_entry(path: Path, name: str, entry: Mapping[str, Any], *, now: datetime | None = None) -> Installed:
    """Put `entry` under mcpServers[name] in the file at `path`, keeping everything else; back the old file up."""
    data = _read(path)
    servers = dict(data.get("mcpServers", {}))
    replaced = name in servers
    servers[name] = dict(entry)
    data["mcpServers"] = servers
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    if path.exists():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        backup = path.with_name(f"{path.name}.{stamp}.bak")
        shutil.copy2(path, backup)
    write_atomic(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return Installed(path, backup, replaced)


def install_entry(name: str, paths: SeamPaths) -> dict[str, Any]:
    """What `seam mcp install --print` prints: a whole config holding just this server."""
    return {"mcpServers": {name: server_entry(paths)}}
