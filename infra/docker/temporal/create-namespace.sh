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

# The lifecycle workflows' search attributes (lib/lifecycle/search-attributes.ts; a unit test holds this
# list to it). A workflow that upserts an unregistered one fails its workflow tasks, so they exist
# before any worker runs. Each is added only when missing.
LIFECYCLE_SEARCH_ATTRIBUTES="LifecycleModel=Keyword LifecycleDatasetPath=Keyword LifecycleDatasetDigest=Keyword LifecycleVersion=Int LifecycleOutcome=Keyword LifecycleSummary=Text"
existing="$(temporal operator search-attribute list --namespace "$NS" --address "$ADDR")"
for spec in $LIFECYCLE_SEARCH_ATTRIBUTES; do
  name="${spec%=*}"
  if printf '%s\n' "$existing" | grep -qw "$name"; then continue; fi
  temporal operator search-attribute create --namespace "$NS" --address "$ADDR" --name "$name" --type "${spec#*=}"
  echo "[temporal-namespace] search attribute $name added"
done
