"""Checks whether a DVC object store holds every object of a committed pointer file.

    python scripts/dataset/dvc-objects-check.py --dvc-root dvc --where remote|cache data/fashion-mnist-v2.dvc

Exit 0 when complete, 1 when something is missing (a one-line summary on stdout), 2 on errors.

Why not the exit code of `dvc push|fetch|status -c`: with DVC 3.67 `push` and `fetch` exit 0 when
objects are missing (they only warn), `dvc push` with an empty cache says "Everything is up to
date", and `status` has no "complete" exit code. This asks the object store directly (cheap: ~1 s
for 70k objects on a local remote), works for any remote type (local, S3, ...), and uses the DVC
version pinned in the project venv.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dvc-root", required=True, help="the DVC project directory (holds .dvc/)")
    parser.add_argument("--where", choices=["remote", "cache"], default="remote")
    parser.add_argument("--remote", default=None, help="remote name (default: the configured default)")
    parser.add_argument("pointer", help=".dvc file, relative to --dvc-root")
    args = parser.parse_args()

    import yaml  # installed with dvc
    from dvc.repo import Repo

    root = Path(args.dvc_root).resolve()
    pointer = yaml.safe_load((root / args.pointer).read_text())
    outs = pointer.get("outs") or []
    if len(outs) != 1 or not str(outs[0].get("md5", "")):
        print(f"error: {args.pointer}: expected exactly one out with an md5", file=sys.stderr)
        return 2
    md5 = str(outs[0]["md5"])
    expected_files = outs[0].get("nfiles")

    repo = Repo(str(root))
    odb = repo.cloud.get_remote_odb(args.remote) if args.where == "remote" else repo.cache.local

    if not odb.exists(md5):
        print(f"{args.where}: missing {md5} (the directory listing)")
        return 1
    if not md5.endswith(".dir"):
        print(f"{args.where}: complete ({md5})")
        return 0

    with odb.fs.open(odb.oid_to_path(md5), "r") as f:
        entries = json.load(f)
    if expected_files is not None and len(entries) != expected_files:
        print(f"{args.where}: {md5} lists {len(entries)} files, pointer says {expected_files}", file=sys.stderr)
        return 2
    wanted = {e["md5"] for e in entries}
    present = set(odb.oids_exist(wanted))
    missing = wanted - present
    if missing:
        print(f"{args.where}: missing {len(missing)} of {len(wanted)} objects of {md5}")
        return 1
    print(f"{args.where}: complete ({md5}, {len(entries)} files, {len(wanted)} unique objects)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # noqa: BLE001 - report any DVC/config failure as exit 2
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(2)
