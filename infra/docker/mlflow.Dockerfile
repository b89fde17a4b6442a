# MLflow tracking server + model registry for docker-compose.yml (build context: the repository
# root): the mlflow pin of infra/python/requirements.txt with the PostgreSQL backend-store and
# S3 (MinIO) artifact-store drivers, under infra/python/constraints.txt. The server proxies
# artifacts (--serve-artifacts), so clients need no S3 credentials.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY infra/python/requirements.txt infra/python/constraints.txt infra/docker/requirements-mlflow.txt /tmp/req/
RUN pip install --no-cache-dir -c /tmp/req/constraints.txt \
      "$(grep -E '^mlflow==' /tmp/req/requirements.txt)" -r /tmp/req/requirements-mlflow.txt \
 && mlflow --version \
 && useradd --system --uid 10001 --home-dir /home/mlflow --create-home mlflow
USER mlflow
WORKDIR /home/mlflow
EXPOSE 5000
# The command (backend store, artifact destination) is set in docker-compose.yml.
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=5 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4).status == 200 else 1)"]
