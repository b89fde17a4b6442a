#!/usr/bin/env bash
# Backing services of the local stack, under this state dir's supervisord (restarted when they crash):
# Redis (the one at REDIS_URL is reused when it answers), Temporal dev server, MLflow, Prometheus.
# Usage: services.sh up [redis temporal mlflow prometheus] | down [...] | status
# A service this state dir already runs is reused; a port held by anyone else stops with a message
# naming the port, its holder and the variable that moves it. `down` stops only what this state
# dir's supervisord runs, never an external service.
# MLFLOW_BACKEND=postgres runs MLflow on PostgreSQL (MLFLOW_DATABASE_URL, created when missing).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cmd="${1:-status}"; shift || true
case "$cmd" in
  up|down|running) bash "$ROOT/infra/python/setup-venv.sh"; stackctl services "$cmd" "$@" ;;
  status) stackctl status ;;
  *) die "usage: services.sh up|down [redis temporal mlflow prometheus] | status" ;;
esac
