"""`seam mcp bundle`: a Claude Desktop Extension (.mcpb, manifest 0.3) that starts `seam mcp` on a chosen seam.

    seam.mcpb
    ├── manifest.json     manifest 0.3: the server, its tools and prompts, and two user settings
    └── server/main.py    the entry point: runs `seam mcp --seam <folder>` with the Python it is started by

The bundle carries no interpreter and no packages: it runs seam as installed on this machine, with the Python that
built it (the `python` setting, which the person installing can change), on the seam folder they pick (`seam_root`,
a directory setting). So one bundle holds no secret and no account: the seam's own .env and seam.yaml stay where
they are. The archive is an ordinary zip with manifest.json at its root, the form `mcpb pack` writes; CI checks
both with the official CLI (`mcpb validate`, `mcpb pack`, .ci/mcpb_leg.sh).
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path
from typing import Any

from seam import __version__
from seam.intent import Kind
from seam.paths import SeamPaths

__all__ = ["ENTRY_POINT", "LAUNCHER", "MANIFEST_VERSION", "build_bundle", "manifest", "write_bundle_dir"]

MANIFEST_VERSION = "0.3"
ENTRY_POINT = "server/main.py"

LAUNCHER = '''"""seam's Desktop Extension entry point: `seam mcp` on the seam folder chosen at install (stdio)."""

import sys

try:
    from seam.cli import main
except ImportError:
    sys.stderr.write(
        "seam is not installed for this Python (" + sys.executable + "); install seam, or set the extension's "
        "Python setting to the interpreter seam is installed in\\n"
    )
    raise SystemExit(2) from None

raise SystemExit(main(["mcp", *sys.argv[1:]]))
'''

_DESCRIPTION = "Run a trading desk's file seam from Claude: intents in, markdown responses out, every step audited."
_LONG_DESCRIPTION = (
    "seam lets Claude send intents (status, positions, signals, closes, halts) through a file seam to a trading "
    "desk's daemon and read its markdown responses. Signals and closes become proposals that wait for a human: "
    "an order is sent only after the human approves it with a code sent to their own channel, never to Claude. "
    "With a client that shows MCP Apps, the approval panel lets the human type that code without it entering the "
    "conversation. If no `seam watch` is running on the chosen seam, the server runs the daemon itself."
)


def _tools() -> list[dict[str, str]]:
    from seam.mcp.tools import KIND_TOOLS  # the SDK loads only here: the manifest lists what the server serves

    listed = [{"name": kind.value, "description": KIND_TOOLS[kind].title} for kind in Kind]
    listed.append({"name": "approval_panel", "description": "Approval panel (clients with MCP Apps)"})
    return listed


def _prompts() -> list[dict[str, Any]]:
    from seam.mcp.prompts import BRIEFING, SIGNAL_FROM_SETUP

    return [
        {"name": "briefing", "description": "Status, positions and pending proposals.", "text": BRIEFING},
        {
            "name": "signal_from_setup",
            "description": "Write a trade setup as a signal (it waits for a human).",
            "arguments": ["setup"],
            "text": SIGNAL_FROM_SETUP.replace("{setup}", "${arguments.setup}"),
        },
        {
            "name": "why_rejected",
            "description": "Explain which field or check refused an intent.",
            "arguments": ["id"],
            "text": "Read seam://responses/${arguments.id} and explain which field or check refused it. State facts.",
        },
    ]


def manifest(seam_root: Path | None = None, *, python: str | None = None) -> dict[str, Any]:
    """The manifest (0.3). `seam_root` and `python` are the defaults of the two settings the installer sees."""
    interpreter = str(Path(python or sys.executable).absolute())
    root: dict[str, Any] = {
        "type": "directory",
        "title": "Seam folder",
        "description": "The seam's root folder (the one holding seam.yaml and intents/).",
        "required": True,
    }
    if seam_root is not None:
        root["default"] = str(seam_root.absolute())
    return {
        "manifest_version": MANIFEST_VERSION,
        "name": "seam",
        "display_name": "seam",
        "version": __version__,
        "description": _DESCRIPTION,
        "long_description": _LONG_DESCRIPTION,
        "author": {"name": "seam"},
        "server": {
            "type": "python",
            "entry_point": ENTRY_POINT,
            "mcp_config": {
                "command": "${user_config.python}",
                "args": ["${__dirname}/" + ENTRY_POINT, "--seam", "${user_config.seam_root}"],
                "env": {"SEAM_ROOT": "${user_config.seam_root}"},
            },
        },
        "tools": _tools(),
        "prompts": _prompts(),
        "keywords": ["trading", "fx", "interactive-brokers", "audit", "approval"],
        "license": "Proprietary",
        "compatibility": {"platforms": ["darwin", "win32", "linux"], "runtimes": {"python": ">=3.11"}},
        "user_config": {
            "seam_root": root,
            "python": {
                "type": "file",
                "title": "Python",
                "description": "The Python interpreter seam is installed in (absolute path).",
                "required": True,
                "default": interpreter,
            },
        },
    }


def write_bundle_dir(target: Path, seam_root: Path | None = None, *, python: str | None = None) -> Path:
    """The bundle's folder, as `mcpb pack` takes it: manifest.json and server/main.py."""
    (target / "server").mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest(seam_root, python=python), indent=2, ensure_ascii=False) + "\n"
    (target / "manifest.json").write_text(text, encoding="utf-8")
    (target / ENTRY_POINT).write_text(LAUNCHER, encoding="utf-8")
    return target


def build_bundle(out: Path, paths: SeamPaths | None = None, *, python: str | None = None) -> Path:
    """Write the .mcpb archive at `out`: a zip of the bundle's folder, manifest.json at the root."""
    out.parent.mkdir(parents=True, exist_ok=True)
    members = {
        "manifest.json": json.dumps(manifest(paths.root if paths else None, python=python), indent=2) + "\n",
        ENTRY_POINT: LAUNCHER,
    }
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # the same bytes for the same seam
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
    return out
