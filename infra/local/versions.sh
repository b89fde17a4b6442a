#!/usr/bin/env bash
# `make up` / `make setup` / `make test` first step: the Node.js and Python this checkout needs, checked
# before anything is installed or started, so a wrong version fails in a second with what to install
# instead of minutes later inside npm ci, pip or a compiled module.
#   bash infra/local/versions.sh     exit 0, or 2 naming each tool, the version found and the one needed
# PYTHON (default python3) is the interpreter the venv is built from, as in infra/python/setup-venv.sh.
# Needed: Node.js >= NODE_MAJOR (package.json "engines"); Python PY_MIN..PY_MAX (the pinned wheels:
# torch 2.13 and numpy 2.4 need >= 3.11; 3.11 is the version tested).
set -uo pipefail
NODE_MAJOR=20
PY_MIN=3.11
PY_MAX=3.13

# version_ok FOUND MIN [MAX]: dotted versions compared numerically, major.minor only.
version_ok() {
  local found="$1" min="$2" max="${3:-}"
  local f_major f_minor m_major m_minor
  IFS=. read -r f_major f_minor _ <<<"$found"
  IFS=. read -r m_major m_minor _ <<<"$min"
  [[ "$f_major" =~ ^[0-9]+$ ]] || return 1
  f_minor="${f_minor:-0}"; m_minor="${m_minor:-0}"
  (( f_major > m_major || (f_major == m_major && f_minor >= m_minor) )) || return 1
  if [[ -n "$max" ]]; then
    local x_major x_minor
    IFS=. read -r x_major x_minor _ <<<"$max"
    (( f_major < x_major || (f_major == x_major && f_minor <= x_minor) )) || return 1
  fi
  return 0
}

check_versions() {
  local errors=() node python="${PYTHON:-python3}" found
  if ! node="$(command -v node)"; then
    errors+=("Node.js ${NODE_MAJOR} or newer is needed: no \`node\` on PATH")
  else
    found="$("$node" --version 2>/dev/null | sed 's/^v//')"
    version_ok "$found" "$NODE_MAJOR" || errors+=("Node.js ${NODE_MAJOR} or newer is needed: found ${found:-an unreadable version} at $node")
  fi
  if ! command -v "$python" >/dev/null; then
    errors+=("Python ${PY_MIN} to ${PY_MAX} is needed: no \`$python\` on PATH (PYTHON names another interpreter)")
  else
    found="$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || "$python" --version 2>&1 | awk '{print $2}')"
    version_ok "$found" "$PY_MIN" "$PY_MAX" ||
      errors+=("Python ${PY_MIN} to ${PY_MAX} is needed for the venv: found ${found:-an unreadable version} at $(command -v "$python") (PYTHON=/path/to/python3.11 make up uses another one)")
  fi
  if (( ${#errors[@]} )); then
    printf 'ERROR: %s\n' "${errors[@]}" >&2
    return 2
  fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  check_versions
fi
