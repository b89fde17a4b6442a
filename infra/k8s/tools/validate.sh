#!/usr/bin/env bash
# Every deployment check in one command (the same checks tests/integration/deploy-config.test.ts
# makes, with negative cases, under `make test`):
#   bash infra/k8s/tools/validate.sh
# 1. kubectl kustomize renders each overlay (no --load-restrictor);
# 2. every object validates against the Kubernetes schemas (1.30 and 1.37, strict) and the KEDA
#    CRD schemas, offline;
# 3. checkov: no failed check on the rendered overlays and the Dockerfiles;
# 4. docker-compose config validates docker-compose.yml and, with credentials set, the production
#    override (without them it must refuse);
# 5. hadolint: the Dockerfiles lint clean.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
bash infra/k8s/tools/setup-tools.sh
T="$ROOT/.venv-tools"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

for overlay in infra/k8s/overlays/*/; do
  name="$(basename "$overlay")"
  kubectl kustomize "$overlay" > "$OUT/$name.yaml"
  "$T/bin/python" infra/k8s/tools/validate-manifests.py "$OUT/$name.yaml" > "$OUT/$name.report.json" \
    || { cat "$OUT/$name.report.json"; exit 1; }
  echo "[validate] $name: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["objects"], "objects valid")' "$OUT/$name.report.json")"
done
"$T/bin/checkov" --config-file infra/k8s/tools/checkov.yaml -d "$OUT" --framework kubernetes --quiet
"$T/bin/checkov" --config-file infra/k8s/tools/checkov.yaml -d infra/docker --framework dockerfile --quiet
docker-compose -f docker-compose.yml config -q
echo "[validate] docker-compose.yml: valid"
"$T/bin/hadolint" --config infra/docker/hadolint.yaml infra/docker/*.Dockerfile
echo "[validate] Dockerfiles: hadolint clean"
