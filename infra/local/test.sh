#!/usr/bin/env bash
# `make test`: installs what is missing, starts (or reuses) the real services the tests need under
# the test state dir (.lifecycle/test: never `make up`'s processes), runs lint + typecheck + every
# jest suite with MLflow on SQLite, except the lifecycle integration test, which runs last with MLflow
# on PostgreSQL (the production backend store; on SQLite with the rest when no PostgreSQL run happens).
# Stops only the services this run started.
#
#   TEST_PROFILE=all       (default) everything above, then the fault drills' CI subset (drills/ci.sh;
#                          TEST_DRILLS=0 skips it); extra arguments go to the first jest run
#   TEST_PROFILE=postgres  only the lifecycle test on PostgreSQL (`make test-postgres`)
#   TEST_POSTGRES=auto     (default) the PostgreSQL run is skipped, loudly, when no PostgreSQL answers
#                          at MLFLOW_DATABASE_URL; 1 = required (fails without one); 0 = never
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export ONNXRUNTIME_NODE_INSTALL_CUDA=skip
profile="${TEST_PROFILE:-all}"
bash infra/local/setup.sh
bash infra/local/setup.sh test-system
# The deployment tools (.venv-tools: mostly a pip download) install in the background while the test venv,
# lint and typecheck run; jest waits for them (deploy-config.test.ts would otherwise install them itself, serially).
tools_log="$(mktemp)"
tools_pid=""
if [[ "$profile" == all ]]; then bash infra/k8s/tools/setup-tools.sh >"$tools_log" 2>&1 & tools_pid=$!; fi
wait_for_tools() {
  [[ -n "$tools_pid" ]] || return 0
  wait "$tools_pid" || echo "[test] the deployment tools did not install in the background; deploy-config.test.ts tries again and reports why" >&2
  cat "$tools_log" >&2
  tools_pid=""
}
bash infra/local/setup.sh test-venv

export LIFECYCLE_STATE_DIR="${LIFECYCLE_STATE_DIR:-$ROOT/.lifecycle/test}"
source infra/local/lib.sh
PG_STATE="$STATE-postgres"
export MLFLOW_DATABASE_URL="${MLFLOW_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/lifecycle_mlflow_test}"

# Services already running under a state dir (started by hand, or by another run) are reused and left running.
started=() pg_started=()
start_services() {  # STATE_DIR SERVICE...: starts them; the ones not running before are this run's to stop
  local dir="$1"; shift
  local before; before="$(LIFECYCLE_STATE_DIR="$dir" stackctl services running "$@")"
  for s in "$@"; do
    grep -qx "$s" <<<"$before" || { [[ "$dir" == "$STATE" ]] && started+=("$s") || pg_started+=("$s"); }
  done
  LIFECYCLE_STATE_DIR="$dir" stackctl services up "$@"
}
cleanup() {
  if [[ -n "$tools_pid" ]]; then kill "$tools_pid" 2>/dev/null || true; fi
  rm -f "$tools_log"
  if [[ ${#pg_started[@]} -gt 0 ]]; then LIFECYCLE_STATE_DIR="$PG_STATE" stackctl services down "${pg_started[@]}" >/dev/null 2>&1 || true; fi
  if [[ ${#started[@]} -gt 0 ]]; then stackctl services down "${started[@]}" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
if [[ "$profile" == postgres ]]; then start_services "$STATE" redis temporal; else start_services "$STATE" redis temporal mlflow; fi
eval "$(stackctl env)"
# The PostgreSQL-backed MLflow listens next to the test one (5001 by default).
PG_MLFLOW_PORT="${POSTGRES_MLFLOW_PORT:-$(( ${MLFLOW_TRACKING_URI##*:} + 1 ))}"

postgres_ok() { LIFECYCLE_STATE_DIR="$PG_STATE" MLFLOW_BACKEND=postgres stackctl ping postgres; }
want="${TEST_POSTGRES:-auto}"; [[ "$profile" == postgres ]] && want=1
pg_run=0
if [[ "$want" == 1 ]] || { [[ "$want" == auto ]] && postgres_ok; }; then pg_run=1; fi
# The lifecycle test runs once: on PostgreSQL (the production backend store) when that run happens below, else
# with the others on SQLite (which the other lifecycle suites cover either way).
first_run_ignores=(--testPathIgnorePatterns /node_modules/)
if [[ "$pg_run" == 1 ]]; then first_run_ignores+=('tests/integration/lifecycle\.test\.ts$'); fi

summary() {  # one plain line that any CI reader understands
  node -e 'const r=require(process.argv[1]); console.log(`jest (${process.argv[2]}): ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`)' "$1" "$2" || true
}
rc=0
if [[ "$profile" == all ]]; then
  log "lint"; npx eslint .
  log "typecheck"; npx tsc -p tsconfig.json --noEmit
  wait_for_tools
  log "jest (unit + integration against real Redis, Temporal, MLflow on SQLite, DVC, onnxruntime)"
  set +e
  [[ "$pg_run" == 1 ]] && log "tests/integration/lifecycle.test.ts runs after the drills, with MLflow on PostgreSQL"
  npx jest --ci --json --outputFile="$STATE/jest-results.json" "${first_run_ignores[@]}" "$@"
  rc=$?
  set -e
  summary "$STATE/jest-results.json" "MLflow on SQLite"
fi

# The fault drills' CI subset (npm run drills -- --ci) on a stack of their own, brought down afterwards;
# TEST_DRILLS=0 skips it. See drills/README.md.
if [[ "$profile" == all && "${TEST_DRILLS:-1}" != 0 ]]; then
  t0=$SECONDS
  log "fault drills (CI subset) on a stack of their own: drills/ci.sh"
  set +e
  bash drills/ci.sh
  drills_rc=$?
  set -e
  log "fault drills: exit $drills_rc in $((SECONDS - t0))s"
  [[ $rc -ne 0 ]] || rc=$drills_rc
fi

if [[ "$want" == 0 ]]; then
  log "PostgreSQL run skipped (TEST_POSTGRES=0); the lifecycle test ran on SQLite"
elif [[ "$pg_run" == 0 ]]; then
  log "SKIPPED: the lifecycle test on PostgreSQL: nothing answers at MLFLOW_DATABASE_URL=$MLFLOW_DATABASE_URL (it ran on SQLite; TEST_POSTGRES=1 makes this an error)"
else
  # Its own state dir and MLflow (fresh database); Temporal and Redis are the test run's, used knowingly.
  t0=$SECONDS
  MLFLOW_BACKEND=postgres MLFLOW_DATABASE_RESET=1 MLFLOW_PORT="$PG_MLFLOW_PORT" MLFLOW_TRACKING_URI= \
    start_services "$PG_STATE" mlflow
  log "jest: the lifecycle test with MLflow on PostgreSQL ($MLFLOW_DATABASE_URL)"
  set +e
  MLFLOW_TRACKING_URI="http://127.0.0.1:$PG_MLFLOW_PORT" npx jest tests/integration/lifecycle.test.ts --ci \
    --json --outputFile="$PG_STATE/jest-results.json" --selectProjects integration
  pg_rc=$?
  set -e
  summary "$PG_STATE/jest-results.json" "lifecycle, MLflow on PostgreSQL, $((SECONDS - t0))s"
  [[ $rc -ne 0 ]] || rc=$pg_rc
fi
exit "$rc"
