#!/usr/bin/env bash
# `make test`: installs what is missing, starts (or reuses) the real services the
# tests need, runs lint + typecheck + unit + integration suites, and stops only
# the services it started itself.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export ONNXRUNTIME_NODE_INSTALL_CUDA=skip
bash infra/local/setup.sh

# Services this run starts get their own state folder, so `make up`'s are never touched.
export LIFECYCLE_STATE_DIR="$ROOT/.lifecycle/test"
cleanup() { bash infra/local/services.sh down >/dev/null 2>&1 || true; }
trap cleanup EXIT
bash infra/local/services.sh up redis temporal mlflow

source infra/local/lib.sh
log "lint"; npx eslint .
log "typecheck"; npx tsc -p tsconfig.json --noEmit
log "jest (unit + integration against real Redis, Temporal, MLflow, DVC, onnxruntime)"
results="$LIFECYCLE_STATE_DIR/jest-results.json"
set +e
npx jest --runInBand --ci --json --outputFile="$results" "$@"
rc=$?
set -e
# One plain summary line that any CI reader understands.
node -e 'const r=require(process.argv[1]); console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`)' "$results" || true
exit "$rc"
