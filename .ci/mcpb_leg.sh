#!/usr/bin/env bash
# The Desktop Extension leg: `seam mcp bundle` builds the bundle, and the official mcpb CLI (from the npm
# registry, pinned) validates its manifest, packs its folder, and unpacks and re-validates seam's own .mcpb.
# Needs Node.js (npx) and the project's virtual environment (.venv, as .ci/run makes it).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mcpb=(npx --yes "@anthropic-ai/mcpb@2.1.2")  # the same pin as tests/mcp/test_bundle.py
python="${PYTHON:-$repo_root/.venv/bin/python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
"$python" - "$work/desk" <<'PY'
import sys
from pathlib import Path

from seam.paths import SeamPaths

SeamPaths.at(Path(sys.argv[1])).create_folders()
PY
"$python" -m seam mcp bundle --seam "$work/desk" --dir "$work/bundle"
"$python" -m seam mcp bundle --seam "$work/desk" --out "$work/seam.mcpb"
"${mcpb[@]}" --version
"${mcpb[@]}" validate "$work/bundle/manifest.json"
"${mcpb[@]}" pack "$work/bundle" "$work/packed.mcpb"
"${mcpb[@]}" unpack "$work/seam.mcpb" "$work/unpacked"
"${mcpb[@]}" validate "$work/unpacked/manifest.json"
"${mcpb[@]}" info "$work/seam.mcpb"
echo "mcpb leg: the bundle validates and packs"
