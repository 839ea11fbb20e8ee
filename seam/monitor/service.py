"""Running 24/7: the service files for `seam watch` (restarted on failure) and `seam heartbeat-check` (on a timer).

    linux   systemd user units in ~/.config/systemd/user/: seam-watch-<name>.service,
            seam-heartbeat-<name>.service + seam-heartbeat-<name>.timer (every minute)
    macos   launchd agents in ~/Library/LaunchAgents/: <label>.watch.plist (KeepAlive),
            <label>.heartbeat.plist (StartInterval 60)

The files are generated, never hand-edited: `seam service install --print` shows them, and both platforms can
be generated on either (tests check both).
"""

from __future__ import annotations

import plistlib
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["CHECK_EVERY_SECONDS", "Platform", "ServiceFile", "current_platform", "service_files"]

Platform = Literal["linux", "macos"]
CHECK_EVERY_SECONDS = 60


@dataclass(frozen=True)
class ServiceFile:
    path: Path  # where it is installed
    text: str


def current_platform() -> Platform:
    return "macos" if sys.platform == "darwin" else "linux"


def _name(root: Path) -> str:
    """A unit-name-safe name for the seam: its folder's name, with anything else than [A-Za-z0-9_-] as '-'."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", root.name) or "seam"


def service_files(root: Path, platform: Platform, home: Path, python: str | None = None) -> list[ServiceFile]:
    """The files that run `seam watch` and `seam heartbeat-check` for the seam at `root`."""
    python = python or sys.executable
    root = root.resolve()
    if platform == "linux":
        return _systemd(root, home, python)
    return _launchd(root, home, python)


def _command(python: str, *args: str) -> list[str]:
    return [python, "-m", "seam", *args]


def _systemd(root: Path, home: Path, python: str) -> list[ServiceFile]:
    folder = home / ".config" / "systemd" / "user"
    name = _name(root)
    watch = shlex.join(_command(python, "watch", "--seam", str(root)))
    check = shlex.join(_command(python, "heartbeat-check", "--seam", str(root)))
    watch_unit = f"""[Unit]
Description=seam daemon for {root}
After=network-online.target

[Service]
Type=simple
ExecStart={watch}
WorkingDirectory={root}
Restart=on-failure
RestartSec=5

[Install]
WantedBy=default.target
"""
    check_unit = f"""[Unit]
Description=seam heartbeat check for {root}

[Service]
Type=oneshot
ExecStart={check}
WorkingDirectory={root}
"""
    timer = f"""[Unit]
Description=seam heartbeat check for {root}, every minute

[Timer]
OnBootSec={CHECK_EVERY_SECONDS}
OnUnitActiveSec={CHECK_EVERY_SECONDS}
Unit=seam-heartbeat-{name}.service

[Install]
WantedBy=timers.target
"""
    return [
        ServiceFile(folder / f"seam-watch-{name}.service", watch_unit),
        ServiceFile(folder / f"seam-heartbeat-{name}.service", check_unit),
        ServiceFile(folder / f"seam-heartbeat-{name}.timer", timer),
    ]


def _launchd(root: Path, home: Path, python: str) -> list[ServiceFile]:
    folder = home / "Library" / "LaunchAgents"
    label = f"org.seam.{_name(root)}"
    logs = home / "Library" / "Logs"  # outside the seam: the agent's folder holds no daemon output
    watch = {
        "Label": f"{label}.watch",
        "ProgramArguments": _command(python, "watch", "--seam", str(root)),
        "WorkingDirectory": str(root),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "StandardErrorPath": str(logs / f"{label}.watch.log"),
    }
    check = {
        "Label": f"{label}.heartbeat",
        "ProgramArguments": _command(python, "heartbeat-check", "--seam", str(root)),
        "WorkingDirectory": str(root),
        "StartInterval": CHECK_EVERY_SECONDS,
        "StandardErrorPath": str(logs / f"{label}.heartbeat.log"),
    }
    return [
        ServiceFile(folder / f"{label}.watch.plist", plistlib.dumps(watch).decode()),
        ServiceFile(folder / f"{label}.heartbeat.plist", plistlib.dumps(check).decode()),
    ]
