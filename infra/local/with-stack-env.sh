#!/usr/bin/env bash
# with-stack-env.sh CMD...: runs CMD with the addresses of this checkout's stack exported (TEMPORAL_ADDRESS,
# MLFLOW_TRACKING_URI, REDIS_URL/REDIS_PREFIX, API_URL, ...), as `make up` computed them from the state
# dir, LIFECYCLE_PORT_OFFSET and the port variables; addresses already exported win. So `make train`,
# `make models` and `make rollback` reach a stack moved with LIFECYCLE_PORT_OFFSET without an `eval` first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
eval "$(stackctl env)"
exec "$@"
