#!/usr/bin/env bash
# Regenerate the gseapy reference fixtures (gsea_reference.py) in a venv this script creates with pinned versions.
# Usage: crates/proteo-stats/tests/reference/gsea_reference.sh   [PROTEO_GSEAPY_VENV=dir to reuse a venv]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${PROTEO_GSEAPY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/proteo/venv-gseapy}"
if ! "$venv/bin/python" -c 'import gseapy' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q gseapy==1.1.13 numpy==2.4.6 pandas==3.1.1
fi
"$venv/bin/python" "$here/gsea_reference.py"
