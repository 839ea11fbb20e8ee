#!/usr/bin/env bash
# Runs the fake gateway's ib_insync tests in their own virtualenv.
# ib_insync and ib_async both install a module named "eventkit", so they cannot share the main venv.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${SEAM_INSYNC_VENV:-${TMPDIR:-/tmp}/seam-insync-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
# Idempotent: a venv kept from an earlier run only checks the pins.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ib_insync==0.9.86" pytest

cd "$repo_root"
# --confcutdir keeps pytest from loading tests/conftest.py, which imports seam and its dependencies;
# this venv holds only the client library, pytest and the stdlib-only fake gateway.
PYTHONPATH="$repo_root${PYTHONPATH:+:$PYTHONPATH}" \
    "$venv/bin/python" -m pytest tests/mocks/test_fake_gateway_ib_insync.py \
    --confcutdir "$repo_root/tests/mocks" -q -W error -p no:cacheprovider "$@"
