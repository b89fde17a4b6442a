# Shared helpers for the local stack scripts (sourced, not run).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${LIFECYCLE_STATE_DIR:-$ROOT/.lifecycle}"
RUN="$STATE/run"
LOGS="$STATE/logs"
VENV="${LIFECYCLE_VENV:-$ROOT/.venv}"
mkdir -p "$RUN" "$LOGS"

REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
MLFLOW_PORT="${MLFLOW_PORT:-5000}"
MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-http://127.0.0.1:$MLFLOW_PORT}"
API_PORT="${PORT:-8000}"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-9090}"
INFERENCE_WORKERS="${INFERENCE_WORKERS:-2}"
export REDIS_URL TEMPORAL_ADDRESS MLFLOW_TRACKING_URI

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

pid_of() { [[ -f "$RUN/$1.pid" ]] && cat "$RUN/$1.pid"; }
is_running() { local pid; pid="$(pid_of "$1")" && [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }

# start NAME CMD...: runs CMD in its own session (so `down` can stop its whole
# process group), logs to $LOGS/NAME.log, records the pid in $RUN/NAME.pid.
start() {
  local name="$1"; shift
  if is_running "$name"; then log "$name already running (pid $(pid_of "$name"))"; return 0; fi
  setsid nohup "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"
  log "started $name (pid $!, log $LOGS/$name.log)"
}

# stop NAME: SIGTERM the process group (graceful drain), SIGKILL after a grace period.
stop() {
  local name="$1" pid
  pid="$(pid_of "$name")" || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { log "$name did not stop in 30s, killing"; kill -KILL -- "-$pid" 2>/dev/null || true; }
    log "stopped $name"
  fi
  rm -f "$RUN/$name.pid"
}

# wait_for NAME SECONDS CHECK...: polls CHECK until it succeeds; shows the log tail on failure.
wait_for() {
  local name="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS > deadline )); then tail -n 30 "$LOGS/$name.log" 2>/dev/null >&2; die "$name not ready after ${secs}s (log: $LOGS/$name.log)"; fi
    if [[ -f "$RUN/$name.pid" ]] && ! is_running "$name"; then tail -n 30 "$LOGS/$name.log" >&2; die "$name exited during start-up (log: $LOGS/$name.log)"; fi
    sleep 0.5
  done
}

# Health checks: silent, exit status only.
redis_ok() { redis-cli -u "$REDIS_URL" ping 2>/dev/null | grep -q PONG; }
temporal_ok() { "$VENV/bin/temporal" operator cluster health --address "$TEMPORAL_ADDRESS" 2>/dev/null | grep -q SERVING; }
mlflow_ok() { curl -fsS -o /dev/null "$MLFLOW_TRACKING_URI/health" 2>/dev/null; }
http_ok() { curl -fsS -o /dev/null "$1" 2>/dev/null; }
