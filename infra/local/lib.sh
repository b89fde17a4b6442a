# Shared helpers for the local stack scripts (sourced, not run).
# The logic lives in infra/local/stackctl (Python); processes run under supervisord.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# One stack per state dir (default .lifecycle; `make test` uses .lifecycle/test): its own supervisord,
# logs (<state>/logs), pidfiles and data, so test runs and `make up` never share processes.
STATE="$(realpath -m "${LIFECYCLE_STATE_DIR:-$ROOT/.lifecycle}")"
export LIFECYCLE_STATE_DIR="$STATE"
VENV="$(cd "$ROOT" && realpath -m "${LIFECYCLE_VENV:-.venv}")"
LOGS="$STATE/logs"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

# stackctl CMD...: the venv's Python once it exists (supervisor, psycopg2), else the system one
# (enough for `check`: validation and port ownership use the standard library only).
stackctl() {
  local py="$VENV/bin/python"
  [[ -x "$py" ]] || py="$(command -v python3)" || die "python3 is required"
  "$py" "$ROOT/infra/local/stackctl" "$@"
}
