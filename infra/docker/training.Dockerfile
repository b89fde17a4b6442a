# The training worker (build context: the repository root; see docker-compose.yml): the Node.js
# Temporal worker of the `ml-training` task queue, which runs the trainer (trainer/train.py) in a
# Python venv with the pinned trainer requirements (torch CPU build) and dvc for the datasets.
# The Node.js build stages are the same as node.Dockerfile's (Docker cannot share stages between
# files; BuildKit reuses the identical layers).

# checkov:skip=CKV_DOCKER_7:FROM uses this ARG, whose default is a pinned tag (checkov does not resolve ARGs)
ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
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

# ---------------------------------------------------------------- the trainer's Python venv
FROM ${NODE_IMAGE} AS trainer-venv
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
# PyPI's Linux torch wheels are CUDA builds of several GB; the CPU build of the same version
# (2.13.0+cpu, which the torch==2.13.0 pin admits) comes from PyTorch's CPU index.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY infra/python/constraints.txt infra/docker/requirements-dvc-s3.txt /tmp/req/
COPY infra/python/requirements.txt /tmp/req/tools-requirements.txt
COPY trainer/requirements.txt /tmp/req/trainer-requirements.txt
# The trainer's pins, plus dvc at the pin of infra/python/requirements.txt; everything under
# infra/python/constraints.txt.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
      --extra-index-url "${TORCH_INDEX_URL}" \
      -c /tmp/req/constraints.txt \
      -r /tmp/req/trainer-requirements.txt \
      "$(grep -E '^dvc==' /tmp/req/tools-requirements.txt)" -r /tmp/req/requirements-dvc-s3.txt \
 && /opt/venv/bin/python -c "import torch, onnx; print('torch', torch.__version__, 'onnx', onnx.__version__)" \
 && /opt/venv/bin/dvc --version

# ---------------------------------------------------------------- the dataset repository (see node.Dockerfile)
FROM ${NODE_IMAGE} AS dataset-repo
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*
COPY dvc /opt/lifecycle/dataset-repo/dvc
WORKDIR /opt/lifecycle/dataset-repo
RUN rm -rf dvc/.dvc/cache dvc/.dvc/tmp dvc/.dvc/config.local \
 && git init --quiet --initial-branch=main \
 && git add --all \
 && git -c user.name=lifecycle -c user.email=lifecycle@localhost commit --quiet -m "Lifecycle datasets (DVC pointers)"

# ---------------------------------------------------------------- training worker
FROM ${NODE_IMAGE} AS training-worker
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates git python3 \
 && rm -rf /var/lib/apt/lists/* \
 && git config --system --add safe.directory '*'
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=trainer-venv /opt/venv /opt/venv
COPY --from=dataset-repo /opt/lifecycle/dataset-repo /opt/lifecycle/dataset-repo
COPY trainer ./trainer
COPY infra/docker/healthcheck.mjs /usr/local/lib/lifecycle/healthcheck.mjs
RUN groupadd --system --gid 10001 lifecycle \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/lifecycle --create-home lifecycle \
 && mkdir -p /var/lib/lifecycle && chown 10001:10001 /var/lib/lifecycle
ENV NODE_ENV=production \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9103 \
    TEMPORAL_METRICS_PORT=9465 \
    LIFECYCLE_VENV=/opt/venv \
    DATASET_REPO=/opt/lifecycle/dataset-repo \
    DATA_CACHE_DIR=/var/lib/lifecycle/data \
    TRAINING_WORK_DIR=/var/lib/lifecycle/training \
    PYTHONDONTWRITEBYTECODE=1
ARG GIT_COMMIT=unknown
ENV GIT_COMMIT=${GIT_COMMIT}
USER 10001:10001
EXPOSE 9103 9465
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/workers/training-worker.js"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/usr/local/lib/lifecycle/healthcheck.mjs"]
