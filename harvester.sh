#!/usr/bin/env bash
# One entry point for a fresh machine: makes .venv, installs what is needed, then
#   ./harvester.sh demo   builds the plugins and runs the simulated pi4 reference node (Ctrl-C stops)
#   ./harvester.sh test   lint + the whole test suite
#   ./harvester.sh bench  the runtime benchmark
#   ./harvester.sh <args> anything else goes to the `harvester` CLI
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV=.venv
PY=${PYTHON:-python3}

need_python() {
  "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && return
  echo "harvester: needs Python 3.11 or newer as '$PY' (set PYTHON=...)" >&2
  exit 1
}

setup() {
  need_python
  local stamp=$VENV/.installed
  # Reinstall only when the dependency list changed.
  if [ ! -x "$VENV/bin/python" ]; then
    echo "harvester: creating $VENV" >&2
    "$PY" -m venv "$VENV" || {
      echo "harvester: python venv is missing; on Debian: apt-get install python3-venv" >&2
      exit 1
    }
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "harvester: installing dependencies into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
    touch "$stamp"
  fi
}

cmd=${1:-demo}
case "$cmd" in
  demo)
    setup
    # The CLI has no paths of its own beyond the user cache: name the repo's. The demo
    # config reads its components from build/plugins (relative to examples/).
    "$VENV/bin/harvester" plugin build "$ROOT/plugins" \
      --out "$ROOT/build/plugins" --cache "$ROOT/.harvester/builds"
    exec "$VENV/bin/harvester" run --config "$ROOT/examples/pi4.toml"
    ;;
  test)
    setup
    shift || true
    "$VENV/bin/ruff" check .
    "$VENV/bin/mypy"
    "$VENV/bin/python" -m pytest "$@"
    ;;
  bench)
    setup
    shift || true
    exec "$VENV/bin/python" bench/runtime_bench.py "$@"
    ;;
  *)
    setup
    exec "$VENV/bin/harvester" "$@"
    ;;
esac
