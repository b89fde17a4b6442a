# The Lifecycle Node.js processes (build context: the repository root; see docker-compose.yml).
#
#   --target runtime          API and inference workers (node dist/api/server.js,
#                             node dist/workers/inference-worker.js)
#   --target pipeline-worker  + git, a Python venv with dvc (S3 remote support) and the dataset
#                             repository (the DVC pointers of dvc/ as a git repo), also used by the
#                             one-shot seed-datasets job
#
# The training worker has its own image (training.Dockerfile: + torch and the trainer).
# Everything runs as the unprivileged user `lifecycle` (uid/gid 10001, numeric so Kubernetes can
# verify runAsNonRoot); the code is owned by root and read-only to it.

# checkov:skip=CKV_DOCKER_7:FROM uses this ARG, whose default is a pinned tag (checkov does not resolve ARGs)
ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# onnxruntime-node's install script would otherwise try to download CUDA libraries.
ENV ONNXRUNTIME_NODE_INSTALL_CUDA=skip \
    NPM_CONFIG_AUDIT=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_UPDATE_NOTIFIER=false
COPY package.json package-lock.json ./
RUN npm ci --loglevel=error

FROM deps AS build
COPY . .
# Production dependencies only, without the macOS/Windows native binaries that onnxruntime-node
# and the Temporal core bridge ship for every platform (about 300 MB).
RUN npm run build \
 && npm prune --omit=dev --loglevel=error \
 && rm -rf node_modules/.cache \
      node_modules/onnxruntime-node/bin/napi-v*/darwin node_modules/onnxruntime-node/bin/napi-v*/win32 \
      node_modules/@temporalio/core-bridge/releases/*-apple-darwin node_modules/@temporalio/core-bridge/releases/*-windows-*

# ---------------------------------------------------------------- runtime: API, inference worker
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY infra/docker/healthcheck.mjs /usr/local/lib/lifecycle/healthcheck.mjs
# Writable state (model cache, dataset cache, training work dirs) lives under /var/lib/lifecycle;
# mount a volume there to keep it across restarts.
RUN groupadd --system --gid 10001 lifecycle \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/lifecycle --create-home lifecycle \
 && mkdir -p /var/lib/lifecycle && chown 10001:10001 /var/lib/lifecycle
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    METRICS_HOST=0.0.0.0 \
    MODEL_CACHE_DIR=/var/lib/lifecycle/models \
    DATA_CACHE_DIR=/var/lib/lifecycle/data \
    TRAINING_WORK_DIR=/var/lib/lifecycle/training
ARG GIT_COMMIT=unknown
ENV GIT_COMMIT=${GIT_COMMIT}
USER 10001:10001
EXPOSE 8000 9101
# tini as PID 1: forwards SIGTERM for the graceful shutdowns and reaps child processes (dvc, git).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/api/server.js"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/usr/local/lib/lifecycle/healthcheck.mjs"]

# ---------------------------------------------------------------- Python venv with dvc
FROM ${NODE_IMAGE} AS dvc-venv
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY infra/python/requirements.txt infra/python/constraints.txt infra/docker/requirements-dvc-s3.txt /tmp/req/
# dvc at the pin of infra/python/requirements.txt, everything under infra/python/constraints.txt.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
      -c /tmp/req/constraints.txt "$(grep -E '^dvc==' /tmp/req/requirements.txt)" -r /tmp/req/requirements-dvc-s3.txt \
 && /opt/venv/bin/dvc --version

# ---------------------------------------------------------------- the dataset repository
# The DVC pointers of dvc/ committed into a git repository inside the image: the default
# DATASET_REPO of the Temporal workers (their dataset activity clones a git repo and `dvc pull`s
# from DVC_REMOTE_URL). Point DATASET_REPO at your own git server to version data there.
FROM ${NODE_IMAGE} AS dataset-repo
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*
COPY dvc /opt/lifecycle/dataset-repo/dvc
WORKDIR /opt/lifecycle/dataset-repo
RUN rm -rf dvc/.dvc/cache dvc/.dvc/tmp dvc/.dvc/config.local \
 && git init --quiet --initial-branch=main \
 && git add --all \
 && git -c user.name=lifecycle -c user.email=lifecycle@localhost commit --quiet -m "Lifecycle datasets (DVC pointers)" \
 && git log --oneline

# ---------------------------------------------------------------- pipeline worker
FROM runtime AS pipeline-worker
USER 0:0
RUN apt-get update \
 && apt-get install -y --no-install-recommends git python3 \
 && rm -rf /var/lib/apt/lists/* \
 && git config --system --add safe.directory '*'
COPY --from=dvc-venv /opt/venv /opt/venv
COPY --from=dataset-repo /opt/lifecycle/dataset-repo /opt/lifecycle/dataset-repo
COPY scripts/dataset/dvc-objects-check.py /app/scripts/dataset/dvc-objects-check.py
COPY infra/docker/seed-datasets.sh /usr/local/bin/seed-datasets
RUN chmod 0755 /usr/local/bin/seed-datasets
ENV LIFECYCLE_VENV=/opt/venv \
    DATASET_REPO=/opt/lifecycle/dataset-repo \
    METRICS_PORT=9102 \
    TEMPORAL_METRICS_PORT=9464
USER 10001:10001
EXPOSE 9102 9464
CMD ["node", "dist/workers/pipeline-worker.js"]
