#!/usr/bin/env bash
# Installs what is missing: npm dependencies (from the lockfile), the project-local Python venv, and the
# system packages the stack runs (redis-server when no Redis answers, prometheus, wrk).
#   setup.sh [all|npm|venv|system]   all (default, `make setup`): the checks of the Node and Python
#                                    versions, then npm and the venv side by side, then system packages
#   setup.sh test-system|test-venv   what only `make test` needs: chromium; .venv-test (tritonclient)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
# onnxruntime-node's install script would otherwise try to download CUDA libraries.
export ONNXRUNTIME_NODE_INSTALL_CUDA=skip

# A registry download cut mid-way (ECONNABORTED, ECONNRESET) fails `npm ci` outright, past npm's own
# fetch retries (seen once in a CI rehearsal). Each run starts from an empty node_modules, so trying
# again is safe.
npm_ci() {
  local attempt
  for attempt in 1 2 3; do
    npm ci --no-audit --no-fund --loglevel=error && return 0
    log "npm ci failed (attempt $attempt of 3)"
    [[ $attempt -lt 3 ]] && sleep $((attempt * 5))
  done
  return 1
}

setup_npm() {
  local lock_hash
  lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [[ ! -f node_modules/.lifecycle-lock-hash || "$(cat node_modules/.lifecycle-lock-hash)" != "$lock_hash" ]]; then
    timed "npm ci" npm_ci
    echo "$lock_hash" > node_modules/.lifecycle-lock-hash
  fi
}

setup_venv() {
  timed "python venv" bash "$ROOT/infra/python/setup-venv.sh"
}

apt_install() {
  command -v apt-get >/dev/null || return 1
  [[ -n "${APT_UPDATED:-}" ]] || { apt-get update -qq >/dev/null; APT_UPDATED=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

setup_system() {
  if ! command -v redis-server >/dev/null && ! stackctl ping redis; then
    log "installing redis-server (apt)"; apt_install redis-server || die "no Redis: set REDIS_URL or install redis-server"
  fi
  # Prometheus (and promtool) scrape the services locally and check the dashboard's queries in tests.
  if ! command -v prometheus >/dev/null; then
    log "installing prometheus (apt)"; apt_install prometheus || die "could not install prometheus (apt-get install prometheus)"
    # Under systemd the package starts its own service on :9090; the stack runs its own instance.
    if [[ -d /run/systemd/system ]]; then systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
  fi
  # wrk: the benchmark's native load generator (a Node one would steal the server's CPU).
  if ! command -v wrk >/dev/null; then
    log "installing wrk (apt)"; apt_install wrk || log "could not install wrk: npm run bench needs it (apt-get install wrk)"
  fi
}

# Only the tests need a browser (the Temporal UI test drives headless Chromium): `make test` asks for it.
setup_test_system() {
  if ! command -v chromium >/dev/null; then
    log "installing chromium (apt; the Temporal UI test)"; apt_install chromium || die "could not install chromium (apt-get install chromium)"
  fi
}

# Python clients only the tests use (tritonclient for the Open Inference Protocol test), in .venv-test.
setup_test_venv() {
  timed "python test venv" bash "$ROOT/infra/python/setup-test-venv.sh"
}

case "${1:-all}" in
  test-system) setup_test_system ;;
  test-venv) setup_test_venv ;;
  npm) setup_npm ;;
  venv) setup_venv ;;
  system) setup_system ;;
  all)
    bash "$ROOT/infra/local/versions.sh"
    # npm ci and the venv share nothing: side by side they take as long as the longer one.
    together "npm" setup_npm "venv" setup_venv
    setup_system
    ;;
  *) die "usage: setup.sh [all|npm|venv|system|test-system|test-venv]" ;;
esac
