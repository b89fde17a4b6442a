#!/usr/bin/env bash
# The drills' CI run, called by infra/local/test.sh (`make test`) so the drills cannot rot: a stack of
# its own (state dir .lifecycle/test-drills, every port moved by DRILLS_PORT_OFFSET (600), so Redis
# prefix lc600:), bootstrapped small (dataset v1, 1 epoch on 2,000 images per class), then `npm run drills -- --ci` (worker kill,
# Redis restart, worker and API partitions, rollout, failed rollout, training worker kill, canary-inverted, and last the
# production feedback loop, which replaces the champion), then that stack is stopped, whatever
# happened. The results are in <state dir>/drills.json.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Addresses exported for the test services (test.sh evals `stackctl env`) must not leak into this stack:
# it starts and finds its own from its state dir and port offset.
unset REDIS_PREFIX TEMPORAL_ADDRESS MLFLOW_TRACKING_URI API_URL API_URLS TEMPORAL_UI_URL PROMETHEUS_URL SUPERVISOR_CONF STACK_LOGS
export LIFECYCLE_STATE_DIR="${DRILLS_STATE_DIR:-$ROOT/.lifecycle/test-drills}"
export LIFECYCLE_PORT_OFFSET="${DRILLS_PORT_OFFSET:-600}"
# The first champion trains on a third of v1 (2,000 images per class, about 0.8 held-out accuracy): the drills need
# a reasonable champion, not the best one, and the full split made this training most of the stack's start-up.
export BOOTSTRAP_INPUT='{"dataset":{"path":"dvc/data/fashion-mnist-v1"},"params":{"epochs":1,"max_train_per_class":2000}}'
log() { printf '[%s] drills: %s\n' "$(date +%H:%M:%S)" "$*"; }

t0=$SECONDS
trap 'log "stopping the drill stack"; bash infra/local/stack.sh down >/dev/null 2>&1 || true' EXIT
bash infra/local/stack.sh up
t1=$SECONDS
set +e
npm run -s drills -- --ci --json "$LIFECYCLE_STATE_DIR/drills.json" "$@"
rc=$?
set -e
log "stack up in $((t1 - t0)) s, drills in $((SECONDS - t1)) s (exit $rc); results in $LIFECYCLE_STATE_DIR/drills.json"
exit "$rc"
