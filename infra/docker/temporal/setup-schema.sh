#!/bin/sh
# One-shot of docker-compose.yml (service temporal-schema, image temporalio/admin-tools): creates
# Temporal's two PostgreSQL databases if missing and brings their schemas to the version the
# admin-tools image ships (the same image tag as the server). Idempotent: run on every `up`;
# a schema already at that version is left alone. This is what the deprecated
# temporalio/auto-setup image did at start-up, done once, before the server starts.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
PORT="${DB_PORT:-5432}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12
sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$PORT" -u "$POSTGRES_USER" "$@"; }

for db in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  name="${db%%:*}"
  dir="${db##*:}"
  # `create` fails when the database exists: that is the idempotent case.
  sql --db "$name" create 2>/dev/null && echo "[temporal-schema] created database $name" || echo "[temporal-schema] database $name exists"
  sql --db "$name" setup-schema -v 0.0
  sql --db "$name" update-schema -d "$SCHEMA_DIR/$dir/versioned"
  echo "[temporal-schema] $name: schema up to date"
done
