"""Validates rendered Kubernetes manifests offline.

  .venv-tools/bin/python infra/k8s/tools/validate-manifests.py [--kubernetes-version 1.30 ...] FILE...

Every object of the built-in API groups is validated (strict: unknown fields are errors) against
the Kubernetes OpenAPI schemas that PyPI's kubernetes-validate ships, for each version given.
Objects of the KEDA API groups (keda.sh, eventing.keda.sh) go to validate-crds.mjs, which checks
them against the KEDA CRD schemas (npm @kubernetes-models/keda) and the scalers' required
metadata. Any other kind is an error: nothing reaches a cluster unvalidated.

Prints a JSON report {objects, kinds, errors: [...]} and exits 1 when there is any error.
"""
import argparse
import json
import os
import re
import subprocess
import sys
from collections import Counter

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import yaml
from referencing import Registry, Resource

HERE = os.path.dirname(os.path.abspath(__file__))
CRD_GROUPS = ("keda.sh/", "eventing.keda.sh/")
DEFAULT_VERSIONS = ["1.30", "1.37"]


def name_of(obj):
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')}/{(ns + '/') if ns else ''}{meta.get('name')}"


def load(paths):
    objects = []
    for path in paths:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc is None:
                    continue
                if doc.get("kind", "").endswith("List") and "items" in doc:
                    objects.extend(doc["items"])
                else:
                    objects.append(doc)
    return objects


def builtin_validator(obj, version):
    """A Draft 2020-12 validator for obj's kind from kubernetes-validate's strict schemas (the
    package's own validate() stops at the first error; this one reports them all)."""
    api_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", obj["apiVersion"])
    schema_dir = f"kubernetes-json-schema/v{version}.0-local-strict"
    try:
        schema = kubernetes_validate.utils.schema_contents(
            f"{schema_dir}/{obj['kind'].lower()}-{api_version}.json", version)
    except FileNotFoundError:
        return None
    defs = kubernetes_validate.utils.schema_contents(f"{schema_dir}/_definitions.json", version)
    registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def validate_builtin(obj, versions):
    errors = []
    for version in versions:
        validator = builtin_validator(obj, version)
        if validator is None:
            errors.append(f"{name_of(obj)}: no schema for {obj.get('apiVersion')} {obj.get('kind')} in Kubernetes {version}")
            continue
        for err in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
            where = "/".join(str(p) for p in err.absolute_path)
            errors.append(f"{name_of(obj)}: Kubernetes {version}: {where or '(root)'}: {err.message}")
    return errors


def validate_crds(objects, node_modules):
    """The KEDA objects among `objects` (all of them are passed: scale targets are context)."""
    if not any(o.get("apiVersion", "").startswith(CRD_GROUPS) for o in objects):
        return []
    env = dict(os.environ, NODE_PATH=node_modules)
    res = subprocess.run(
        ["node", os.path.join(HERE, "validate-crds.mjs"), node_modules],
        input=json.dumps(objects), capture_output=True, text=True, env=env, check=False,
    )
    if res.returncode not in (0, 1):
        return [f"validate-crds.mjs failed (exit {res.returncode}): {res.stderr.strip()}"]
    return json.loads(res.stdout)["errors"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubernetes-version", action="append", dest="versions")
    ap.add_argument("--node-modules", default=os.environ.get(
        "LIFECYCLE_TOOLS_NODE_MODULES",
        os.path.join(os.path.dirname(sys.executable), "..", "node", "node_modules")))
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    versions = args.versions or DEFAULT_VERSIONS

    objects = load(args.files)
    errors = []
    crds = []
    for obj in objects:
        if not isinstance(obj, dict) or "apiVersion" not in obj or "kind" not in obj:
            errors.append(f"not a Kubernetes object: {str(obj)[:80]}")
        elif obj["apiVersion"].startswith(CRD_GROUPS):
            crds.append(obj)
        else:
            errors.extend(validate_builtin(obj, versions))
    if crds:
        errors.extend(validate_crds([o for o in objects if isinstance(o, dict)], os.path.abspath(args.node_modules)))
    kinds = Counter(o.get("kind") for o in objects if isinstance(o, dict))
    print(json.dumps({"objects": len(objects), "kinds": dict(sorted(kinds.items())),
                      "kubernetesVersions": versions, "errors": errors}, indent=1))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
