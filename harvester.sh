#!/usr/bin/env bash
# One entry point for a fresh machine: makes .venv, installs what is needed, then
#   ./harvester.sh demo   builds the plugins and runs the simulated three-node reference cluster:
#                         hub + pi4 + pizero, embedded broker, web API on :3000 (Ctrl-C stops)
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

# Debian packages the tests use as real parts (brokers, network namespaces). Installed when
# missing and we are root; otherwise say plainly which are missing: the tests that need
# them then fail naming what is absent.
TEST_DEBS=(mosquitto iproute2)
TEST_BINS=(/usr/sbin/mosquitto /usr/sbin/ip)

system_packages() {
  local missing=() i
  for i in "${!TEST_DEBS[@]}"; do
    [ -x "${TEST_BINS[$i]}" ] || missing+=("${TEST_DEBS[$i]}")
  done
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "harvester: installing Debian packages: ${missing[*]}" >&2
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; then
      # The package starts its own mosquitto on :1883; the tests start theirs on free ports.
      systemctl disable --now mosquitto >/dev/null 2>&1 || pkill -x mosquitto || true
      return
    fi
  fi
  echo "harvester: could not install ${missing[*]} (needs root and apt-get);" \
       "the tests that use them will fail saying so" >&2
}

cmd=${1:-demo}
case "$cmd" in
  demo)
    setup
    # The CLI has no paths of its own beyond the user cache: name the repo's. The node
    # configs read their components from build/plugins (relative to examples/).
    "$VENV/bin/harvester" plugin build "$ROOT/plugins" \
      --out "$ROOT/build/plugins" --cache "$ROOT/.harvester/builds"
    exec "$VENV/bin/harvester" demo --cluster "$ROOT/examples/cluster.toml"
    ;;
  test)
    setup
    system_packages
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
