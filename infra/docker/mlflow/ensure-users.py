"""Creates (or re-keys) the MLflow service users of Lifecycle through MLflow's basic-auth REST API.

Run by the Job `mlflow-users` (infra/k8s/base/mlflow.yaml) and docker-compose.prod.yml's `mlflow-users` with the admin credentials; idempotent:
an existing user gets its password set to the Secret's value, so rotating a Secret and re-running
the Job rotates the user. Users: MLFLOW_USERS is a space-separated list of env-var prefixes, each
with <PREFIX>_USERNAME and <PREFIX>_PASSWORD set. Permissions: the server's default_permission
(READ) applies to every user; what a user creates (experiments, registered models) it MANAGEs.
"""
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE = os.environ.get("MLFLOW_URL", "http://mlflow:5000").rstrip("/")
ADMIN = (os.environ["MLFLOW_ADMIN_USERNAME"], os.environ["MLFLOW_ADMIN_PASSWORD"])
AUTH = "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()


def call(method, path, body=None, query=None):
    url = f"{BASE}/api/2.0/mlflow/users/{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", AUTH)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status
    except urllib.error.HTTPError as err:
        return err.code


def wait_for_server(deadline_s=300):
    start = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(f"{BASE}/health", timeout=5) as res:
                if res.status == 200:
                    return
        except OSError as err:
            print(f"waiting for {BASE}: {err}", flush=True)
        if time.monotonic() - start > deadline_s:
            sys.exit(f"MLflow at {BASE} not healthy after {deadline_s} s")
        time.sleep(5)


def main():
    wait_for_server()
    for prefix in os.environ.get("MLFLOW_USERS", "").split():
        username = os.environ[f"{prefix}_USERNAME"]
        password = os.environ[f"{prefix}_PASSWORD"]
        status = call("GET", "get", query={"username": username})
        if status == 200:
            status = call("PATCH", "update-password", {"username": username, "password": password})
            action = "password set"
        elif status == 404:
            status = call("POST", "create", {"username": username, "password": password})
            action = "created"
        else:
            sys.exit(f"{username}: GET users/get answered HTTP {status} (admin credentials wrong?)")
        if status != 200:
            sys.exit(f"{username}: {action} failed with HTTP {status}")
        print(f"{username}: {action}", flush=True)


if __name__ == "__main__":
    main()
