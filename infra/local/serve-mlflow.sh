#!/usr/bin/env bash
# `make serve-mlflow`: MLflow's own model server for a registered model's alias (default: the champion
# of fashion-mnist-classifier), run as `mlflow models serve` needs it and a fresh shell lacks it: the
# venv's bin first on PATH (MLflow starts `uvicorn` from PATH) and MLFLOW_TRACKING_URI set to this
# checkout's MLflow (from its state dir and port settings, like `make up`; an exported one wins).
#   make serve-mlflow [ARGS="--model NAME --alias champion --port 5002"]
# Port default: MLFLOW_PORT + 2 (5002; 5001 is the PostgreSQL-backed MLflow of `make test`).
# Then: curl -H 'content-type: application/json' -d @<input.json> http://127.0.0.1:5002/invocations
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
model="${MODEL_NAME:-fashion-mnist-classifier}" alias=champion port=""
while (( $# )); do
  case "$1" in
    --model) model="${2:?--model NAME}"; shift ;;
    --alias) alias="${2:?--alias NAME}"; shift ;;
    --port) port="${2:?--port N}"; shift ;;
    *) die "unknown argument '$1' (usage: make serve-mlflow ARGS=\"--model NAME --alias champion --port N\")" ;;
  esac
  shift
done
[[ -x "$VENV/bin/mlflow" ]] || die "no venv at $VENV: run \`make setup\` (or \`make up\`) first"
eval "$(stackctl env)"
mlflow_port="${MLFLOW_TRACKING_URI##*:}"; mlflow_port="${mlflow_port%%/*}"
port="${port:-$(( ${mlflow_port:-5000} + 2 ))}"
[[ "$port" =~ ^[0-9]+$ ]] || die "--port $port is not a port number"
export PATH="$VENV/bin:$PATH" MLFLOW_TRACKING_URI
log "serving models:/$model@$alias from $MLFLOW_TRACKING_URI on http://127.0.0.1:$port (POST /invocations, GET /ping); Ctrl-C stops it"
exec mlflow models serve -m "models:/$model@$alias" --env-manager local -h 127.0.0.1 -p "$port"
