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

# Debian packages the tests use as real parts (brokers, network namespaces, the browser the
# dashboard's tests drive, npm for the dashboard's uPlot). Installed when missing and we are
# root, one by one so a failure names its package; whatever is still missing is said
# plainly: the tests that need it then fail naming what is absent.
# The demo needs only the build's: npm (with nodejs) fetches the dashboard's uPlot.
TEST_DEBS=(mosquitto iproute2 chromium nodejs npm)
TEST_BINS=(/usr/sbin/mosquitto /usr/sbin/ip /usr/bin/chromium node npm)
BUILD_DEBS=(nodejs npm)

missing_packages() {  # the packages among "$@" whose program is missing
  local i deb
  for deb in "$@"; do
    for i in "${!TEST_DEBS[@]}"; do
      [ "${TEST_DEBS[$i]}" = "$deb" ] || continue
      command -v "${TEST_BINS[$i]}" >/dev/null 2>&1 || echo "$deb"
    done
  done
}

system_packages() {  # system_packages DEB...: install the missing ones, or say which
  local missing=() failed=() deb
  mapfile -t missing < <(missing_packages "$@")
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "harvester: installing Debian packages: ${missing[*]}" >&2
    apt-get update -qq || true
    for deb in "${missing[@]}"; do
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null || failed+=("$deb")
    done
    # The package starts its own mosquitto on :1883; the tests start theirs on free ports.
    if [[ " ${missing[*]} " == *" mosquitto "* ]]; then
      systemctl disable --now mosquitto >/dev/null 2>&1 || pkill -x mosquitto || true
    fi
    mapfile -t missing < <(missing_packages "$@")
    [ ${#missing[@]} -eq 0 ] && return
    echo "harvester: apt-get could not install: ${failed[*]:-${missing[*]}}" >&2
  fi
  echo "harvester: missing Debian packages: ${missing[*]} (installing needs root and apt-get);" \
       "what needs them (the tests, the dashboard's build) will fail saying so" >&2
}

cmd=${1:-demo}
case "$cmd" in
  demo)
    setup
    system_packages "${BUILD_DEBS[@]}"
    # The CLI has no paths of its own beyond the user cache: name the repo's. The node
    # configs read their components from build/plugins (relative to examples/).
    "$VENV/bin/harvester" plugin build "$ROOT/plugins" \
      --out "$ROOT/build/plugins" --cache "$ROOT/.harvester/builds"
    exec "$VENV/bin/harvester" demo --cluster "$ROOT/examples/cluster.toml"
    ;;
  test)
    setup
    system_packages "${TEST_DEBS[@]}"
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
