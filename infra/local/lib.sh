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

# timed LABEL CMD...: runs CMD and logs how long it took (make up's step times).
timed() {
  local label="$1" t=$SECONDS; shift
  "$@"
  log "$label: done in $((SECONDS - t))s"
}

# together NAME1 CMD1 NAME2 CMD2 ...: runs each CMD (a function or command, no arguments) in the
# background and waits for all of them; fails naming each one that failed, after all have ended (a
# failed step never leaves a sibling running unseen). Used for independent set-up steps of `make up`.
together() {
  local names=() pids=() failed=()
  while (( $# )); do
    names+=("$1"); "$2" & pids+=($!); shift 2
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed+=("${names[$i]}")
  done
  (( ${#failed[@]} == 0 )) || die "failed: ${failed[*]} (see above)"
}
