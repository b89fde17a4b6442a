"""Init container of the MLflow pods: brings the tracking and the basic-auth databases to the schema
of the MLflow in this image BEFORE the server starts (Kubernetes runs init containers to completion
first). Without it, replicas starting together race to create the schema, and a release whose MLflow
changes the schema crash-loops (the server refuses an out-of-date database).

Replicas run this at the same time: on PostgreSQL a session advisory lock makes them take turns, so
the first migrates and the others find the schema at head (a no-op). Idempotent; exits non-zero on any
failure, and the pod then retries it before the server ever starts.
"""
import os

from sqlalchemy import create_engine, inspect, text

# Any constant, the same in every replica: the key of the advisory lock.
LOCK_KEY = 0x4C43_4D4C

tracking = create_engine(os.environ["MLFLOW_BACKEND_STORE_URI"])
auth = create_engine(os.environ["MLFLOW_AUTH_DATABASE_URI"])

with tracking.connect() as lock:
    if tracking.dialect.name == "postgresql":
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
    # What `mlflow db upgrade` runs on an existing database, and what the server's first start runs on
    # an empty one (an empty database has no alembic_version table yet).
    from mlflow.store.db.utils import _initialize_tables, _upgrade_db

    if inspect(tracking).has_table("alembic_version"):
        print("mlflow-db-upgrade: upgrading the tracking database", flush=True)
        _upgrade_db(tracking)
    else:
        print("mlflow-db-upgrade: creating the tracking database schema", flush=True)
        _initialize_tables(tracking)
    # The basic-auth app's own migrations (what it would otherwise run in every server worker).
    from mlflow.server.auth.db.utils import migrate

    migrate(auth, "head")
    print("mlflow-db-upgrade: both databases at head", flush=True)
