#!/usr/bin/env bash
# Runs the ib_insync tests in their own virtualenv: the fake gateway as ib_insync sees it, and the IB
# adapter on its fallback library (seam installed without ib_async, so the adapter imports ib_insync).
# ib_insync and ib_async both install a module named "eventkit", so they cannot share the main venv.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# (not SEAM_*: seam reads every SEAM_* variable as a setting and refuses the ones it does not know)
venv="${INSYNC_VENV:-${TMPDIR:-/tmp}/seam-insync-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
# seam's core dependencies, as pyproject.toml lists them, except the library ib_insync stands in for.
listed="$("$venv/bin/python" - "$repo_root/pyproject.toml" <<'EOF'
import re
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    for req in tomllib.load(f)["project"]["dependencies"]:
        if re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", req)[0]).lower() != "ib-async":
            print(req)
EOF
)"
mapfile -t deps <<<"$listed"
# Idempotent: a venv kept from an earlier run only checks the pins. seam is reinstalled every time, so a
# venv shared between checkouts imports this one.
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" "${deps[@]}" "ib_insync==0.9.86" pytest
"${pip[@]}" --no-deps -e "$repo_root"

cd "$repo_root"
# The adapter tests would pass on ib_async just the same; SEAM_EXPECT_IB_LIBRARY makes them check the fallback ran.
SEAM_EXPECT_IB_LIBRARY=ib_insync \
    "$venv/bin/python" -m pytest tests/mocks/test_fake_gateway_ib_insync.py tests/broker/test_ib_adapter.py \
    -q -W error -p no:cacheprovider "$@"
