#!/usr/bin/env bash
# Installs what is missing: npm dependencies (from the lockfile) and the project-local Python venv.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
# onnxruntime-node's install script would otherwise try to download CUDA libraries.
export ONNXRUNTIME_NODE_INSTALL_CUDA=skip
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f node_modules/.lifecycle-lock-hash || "$(cat node_modules/.lifecycle-lock-hash)" != "$lock_hash" ]]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.lifecycle-lock-hash
fi
bash "$ROOT/infra/python/setup-venv.sh"
if ! command -v redis-server >/dev/null && ! redis_ok; then
  log "installing redis-server (apt)"; apt-get install -y -qq redis-server >/dev/null || die "no Redis: set REDIS_URL or install redis-server"
fi
