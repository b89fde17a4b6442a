# MLflow tracking server + model registry for docker-compose.yml (build context: the repository
# root): the mlflow pin of infra/python/requirements.txt with the PostgreSQL backend-store and
# S3 (MinIO) artifact-store drivers, under infra/python/constraints.txt. The server proxies
# artifacts (--serve-artifacts), so clients need no S3 credentials.
# checkov:skip=CKV_DOCKER_7:FROM uses this ARG, whose default is a pinned tag (checkov does not resolve ARGs)
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY infra/python/requirements.txt infra/python/constraints.txt infra/docker/requirements-mlflow.txt /tmp/req/
RUN pip install --no-cache-dir -c /tmp/req/constraints.txt \
      "$(grep -E '^mlflow(\[auth\])?==' /tmp/req/requirements.txt)" -r /tmp/req/requirements-mlflow.txt \
 && mlflow --version \
 && groupadd --system --gid 10001 mlflow \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/mlflow --create-home mlflow
# Start script with authentication (basic-auth app, credentials from the environment, refusal of
# default passwords) and the job that creates the workers' MLflow users: used by the Kubernetes
# manifests (infra/k8s) and docker-compose.prod.yml.
COPY --chmod=0555 infra/docker/mlflow/start-server.sh /usr/local/bin/mlflow-start-server
COPY --chmod=0444 infra/docker/mlflow/ensure-users.py /usr/local/lib/lifecycle/mlflow-ensure-users.py
USER 10001:10001
WORKDIR /home/mlflow
EXPOSE 5000
# The command (backend store, artifact destination) is set in docker-compose.yml.
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=5 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4).status == 200 else 1)"]
