#!/usr/bin/env bash
# Creates (or updates) .venv-test: Python clients only the tests use (tritonclient[http] and kserve, the Open
# Inference Protocol clients), apart from the project venv so their pins never meet mlflow's or torch's.
# Idempotent: a stamp records the hash of the requirement files, so a second run is instant.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${LIFECYCLE_TEST_VENV:-$ROOT/.venv-test}"
PYTHON="${PYTHON:-python3}"
REQS="$ROOT/infra/python/requirements-test.txt"
CONSTRAINTS="$ROOT/infra/python/constraints-test.txt"
STAMP="$VENV/.lifecycle-stamp"
want="$(cat "$REQS" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
echo "[setup-test-venv] creating $VENV (tritonclient, kserve)"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
# This machine's pip config names index folders that may be absent; drop that noise, keep real errors.
"$VENV/bin/pip" install --quiet --progress-bar off -c "$CONSTRAINTS" -r "$REQS" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
"$VENV/bin/python" -c 'import tritonclient.http, kserve'
echo "$want" > "$STAMP"
echo "[setup-test-venv] ready: $("$VENV/bin/python" -c 'import importlib.metadata as m; print("tritonclient", m.version("tritonclient"), "kserve", m.version("kserve"))')"
