#!/usr/bin/env bash
# The Ray leg: seam with its `ray` extra in a virtual environment of its own (Ray is large and not a core
# dependency; the main venv stays without it), then only the tests marked `ray`: a hunt run as Ray tasks on a
# local Ray instance must give the same table as the local engine.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# (not SEAM_*: seam reads every SEAM_* variable as a setting and refuses the ones it does not know)
venv="${RAY_VENV:-$(mktemp -d "${TMPDIR:-/tmp}/seam-ray-venv.XXXXXX")}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$repo_root[test,ray]"

cd "$repo_root"
"$venv/bin/python" -m pytest -m ray tests/research -q -p no:cacheprovider "$@"
