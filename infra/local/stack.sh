#!/usr/bin/env bash
# The local stack: `stack.sh up | down | status`. See README "Quick start".
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

APPS=(pipeline-worker training-worker api)
inference_names() { for i in $(seq 1 "$INFERENCE_WORKERS"); do echo "inference-worker-$i"; done; }

up() {
  local t0=$SECONDS
  bash infra/local/setup.sh
  bash infra/local/services.sh up
  log "building TypeScript"; npm run -s build
  bash scripts/dataset/ensure-datasets.sh
  export LOG_LEVEL="${LOG_LEVEL:-info}"
  start pipeline-worker node dist/workers/pipeline-worker.js
  start training-worker node dist/workers/training-worker.js
  local i=0
  for name in $(inference_names); do
    i=$((i + 1))
    WORKER_ID="$name" METRICS_PORT=$((9110 + i)) start "$name" node dist/workers/inference-worker.js
  done
  PORT="$API_PORT" start api node dist/api/server.js
  wait_for api 60 http_ok "http://127.0.0.1:$API_PORT/healthz"
  node dist/scripts/ensure-champion.js
  log "waiting for /readyz (a worker serving the champion)"
  wait_for api 180 http_ok "http://127.0.0.1:$API_PORT/readyz"
  log "ready in $((SECONDS - t0))s: $(curl -fsS "http://127.0.0.1:$API_PORT/readyz")"
  cat <<MSG

  API             http://127.0.0.1:$API_PORT   (docs: /docs, metrics: /metrics)
  Temporal UI     http://127.0.0.1:$TEMPORAL_UI_PORT
  MLflow UI       $MLFLOW_TRACKING_URI
  Prometheus      http://127.0.0.1:$PROMETHEUS_PORT  (if installed)
  Logs            $LOGS/

  Try: curl -F img_file=@tests/fixtures/samples/ankle-boot.png http://127.0.0.1:$API_PORT/predict
MSG
}

down() {
  # Reverse start order: stop taking requests first, then workers, then backing services.
  stop api
  for name in $(ls "$RUN" 2>/dev/null | sed -n 's/^\(inference-worker-[0-9]*\)\.pid$/\1/p'); do stop "$name"; done
  stop training-worker
  stop pipeline-worker
  bash infra/local/services.sh down
}

status() {
  printf '%-20s %-10s %s\n' SERVICE STATE PID
  for f in "$RUN"/*.pid; do
    [[ -e "$f" ]] || continue
    local name; name="$(basename "$f" .pid)"
    if is_running "$name"; then printf '%-20s %-10s %s\n' "$name" running "$(pid_of "$name")"; else printf '%-20s %-10s %s\n' "$name" dead "$(pid_of "$name")"; fi
  done
  printf '%-20s %s\n' redis "$(redis_ok && echo "reachable at $REDIS_URL" || echo unreachable)"
  printf '%-20s %s\n' temporal "$(temporal_ok && echo "serving at $TEMPORAL_ADDRESS" || echo unreachable)"
  printf '%-20s %s\n' mlflow "$(mlflow_ok && echo "serving at $MLFLOW_TRACKING_URI" || echo unreachable)"
  printf '%-20s %s\n' api/readyz "$(curl -fsS "http://127.0.0.1:$API_PORT/readyz" 2>/dev/null || echo 'not ready')"
}

case "${1:-status}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: stack.sh up | down | status" ;;
esac
