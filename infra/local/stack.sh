#!/usr/bin/env bash
# The local stack: `stack.sh up | down | status [--json] | ctl <supervisorctl args>`. See README "Quick start".
# Every process runs under supervisord (one per state dir): crashed ones are restarted with backoff,
# each restart is logged (logs/supervisord.log, logs/supervisor-events.log) and counted (`make status`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

up() {
  local t0=$SECONDS
  # Settings and port ownership first: a taken port fails here, in a second, before any install or build.
  stackctl check --apps redis temporal mlflow prometheus
  bash infra/local/setup.sh
  stackctl services up redis temporal mlflow prometheus
  eval "$(stackctl env)"
  log "building TypeScript"; npm run -s build
  bash scripts/dataset/ensure-datasets.sh
  stackctl apps up
  node dist/scripts/ensure-champion.js
  log "waiting for /readyz of this stack's API(s) (a worker serving the champion)"
  stackctl wait-ready 240
  log "ready in $((SECONDS - t0))s: $(curl -fsS "$API_URL/readyz")"
  cat <<MSG

  API             $API_URLS   (docs: /docs, metrics: /metrics)
  Temporal UI     $TEMPORAL_UI_URL
  MLflow UI       $MLFLOW_TRACKING_URI
  Prometheus      $PROMETHEUS_URL  (if installed)
  Logs            $STACK_LOGS/
  Processes       make status   (supervisorctl: bash infra/local/stack.sh ctl status)

  Try: curl -F img_file=@tests/fixtures/samples/ankle-boot.png $API_URL/predict
MSG
}

case "${1:-status}" in
  up) up ;;
  down) stackctl down ;;
  status) shift; stackctl status "$@" ;;
  ctl) shift; stackctl ctl "$@" ;;
  *) die "usage: stack.sh up | down | status [--json] | ctl <supervisorctl args>" ;;
esac
