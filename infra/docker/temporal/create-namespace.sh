#!/bin/sh
# One-shot of docker-compose.yml (service temporal-namespace, image temporalio/admin-tools): the
# namespace the workers use, created once the server answers. Idempotent.
set -eu
NS="${NAMESPACE:-default}"
ADDR="${TEMPORAL_ADDRESS:-temporal:7233}"
tries=0
until temporal operator cluster health --address "$ADDR" >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "[temporal-namespace] $ADDR not healthy after 60 tries" >&2; exit 1; }
  sleep 2
done
if temporal operator namespace describe --namespace "$NS" --address "$ADDR" >/dev/null 2>&1; then
  echo "[temporal-namespace] $NS exists"
else
  temporal operator namespace create --namespace "$NS" --retention "${RETENTION:-72h}" --address "$ADDR"
  echo "[temporal-namespace] $NS created"
fi
