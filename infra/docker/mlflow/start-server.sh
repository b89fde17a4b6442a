#!/bin/sh
# Starts the MLflow tracking server with authentication (MLflow's basic-auth app) on a PostgreSQL
# backend store and S3 artifacts proxied by the server (--serve-artifacts: clients never hold S3
# credentials). Used by infra/k8s (Secret lifecycle-mlflow-server) and docker-compose.prod.yml.
# Everything secret comes from the environment;
# the auth config file is written to MLFLOW_AUTH_DIR (default /tmp/mlflow-auth: an emptyDir; the root
# filesystem is read-only). MLFLOW_LISTEN_HOST and MLFLOW_LISTEN_PORT move the listener (not
# MLFLOW_PORT: Kubernetes sets that one for a Service named mlflow); the integration test
# tests/integration/mlflow-auth.test.ts runs this script on loopback.
set -eu
fail() { echo "mlflow: refusing to start: $*" >&2; exit 1; }

for v in MLFLOW_BACKEND_STORE_URI MLFLOW_AUTH_DATABASE_URI MLFLOW_AUTH_ADMIN_USERNAME \
         MLFLOW_AUTH_ADMIN_PASSWORD MLFLOW_FLASK_SERVER_SECRET_KEY MLFLOW_ARTIFACTS_DESTINATION; do
  eval "val=\${$v:-}"
  [ -n "$val" ] || fail "$v is not set"
done
# Known development and default values never reach a shared server.
case "$MLFLOW_AUTH_ADMIN_PASSWORD" in
  password1234|lifecycle-dev-password|admin|password|changeme) fail "MLFLOW_AUTH_ADMIN_PASSWORD is a well-known default" ;;
esac
[ "${#MLFLOW_AUTH_ADMIN_PASSWORD}" -ge 16 ] || fail "MLFLOW_AUTH_ADMIN_PASSWORD is shorter than 16 characters"
[ "${#MLFLOW_FLASK_SERVER_SECRET_KEY}" -ge 32 ] || fail "MLFLOW_FLASK_SERVER_SECRET_KEY is shorter than 32 characters"
case "$MLFLOW_AUTH_DATABASE_URI" in
  *%*) fail "MLFLOW_AUTH_DATABASE_URI contains '%' (configparser interpolation): double it as %%" ;;
esac

umask 077
auth_dir="${MLFLOW_AUTH_DIR:-/tmp/mlflow-auth}"
mkdir -p "$auth_dir"
# default_permission READ: every authenticated user may read; writes need ownership (a user MANAGEs
# what it creates) or a grant by an admin. Anonymous requests are refused.
cat > "$auth_dir/basic_auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = ${MLFLOW_AUTH_DATABASE_URI}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
export MLFLOW_AUTH_CONFIG_PATH="$auth_dir/basic_auth.ini"

exec mlflow server \
  --app-name basic-auth \
  --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" \
  --serve-artifacts \
  --artifacts-destination "$MLFLOW_ARTIFACTS_DESTINATION" \
  --host "${MLFLOW_LISTEN_HOST:-0.0.0.0}" \
  --port "${MLFLOW_LISTEN_PORT:-5000}" \
  --workers "${MLFLOW_WORKERS:-2}"
