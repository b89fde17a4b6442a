#!/usr/bin/env bash
# Starts (or reuses) the backing services: Redis, Temporal dev server, MLflow, Prometheus.
# Usage: services.sh up [redis temporal mlflow prometheus] | down | status
# A service already reachable at its address is reused and never stopped by us.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

up_redis() {
  if redis_ok; then log "redis: using $REDIS_URL"; return; fi
  command -v redis-server >/dev/null || die "Redis not reachable at $REDIS_URL and redis-server is not installed (apt-get install redis-server)"
  local port; port="$(sed -E 's#.*:([0-9]+).*#\1#' <<<"$REDIS_URL")"
  start redis redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no
  wait_for redis 20 redis_ok
}

up_temporal() {
  if temporal_ok; then log "temporal: using $TEMPORAL_ADDRESS"; return; fi
  mkdir -p "$STATE/temporal"
  start temporal "$VENV/bin/temporal" server start-dev \
    --ip 127.0.0.1 --port "${TEMPORAL_ADDRESS##*:}" --ui-port "$TEMPORAL_UI_PORT" \
    --db-filename "$STATE/temporal/temporal.db" --log-level warn
  wait_for temporal 60 temporal_ok
}

up_mlflow() {
  if mlflow_ok; then log "mlflow: using $MLFLOW_TRACKING_URI"; return; fi
  mkdir -p "$STATE/mlflow/artifacts"
  # --serve-artifacts: clients upload/download through the server (mlflow-artifacts:/ URIs), never the filesystem.
  start mlflow "$VENV/bin/mlflow" server \
    --backend-store-uri "sqlite:///$STATE/mlflow/mlflow.db" \
    --serve-artifacts --artifacts-destination "$STATE/mlflow/artifacts" \
    --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 2
  wait_for mlflow 120 mlflow_ok
}

up_prometheus() {
  if ! command -v prometheus >/dev/null; then log "prometheus: not installed, skipping (apt-get install prometheus)"; return; fi
  if http_ok "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"; then log "prometheus: using :$PROMETHEUS_PORT"; return; fi
  mkdir -p "$STATE/prometheus"
  start prometheus prometheus --config.file="$ROOT/infra/prometheus/prometheus.yml" \
    --storage.tsdb.path="$STATE/prometheus" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT"
  wait_for prometheus 60 http_ok "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"
}

cmd="${1:-status}"; shift || true
services=("$@"); [[ ${#services[@]} -gt 0 ]] || services=(redis temporal mlflow prometheus)
case "$cmd" in
  up) for s in "${services[@]}"; do "up_$s"; done ;;
  down) for s in prometheus mlflow temporal redis; do stop "$s"; done ;;
  *) die "usage: services.sh up [redis temporal mlflow prometheus] | down" ;;
esac
