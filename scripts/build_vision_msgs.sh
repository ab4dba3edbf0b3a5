#!/usr/bin/env bash
# Builds the vision_msgs interfaces (msg/vision_msgs) with rosidl and installs them into the venv, one line per
# step: vision_msgs is not on PyPI. A quick no-op when the venv already imports vision_msgs, either built here
# from the same .msg files or from a ROS install (apt ros-jazzy-vision-msgs on a robot).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
VENV=$(cd "$VENV" && pwd)  # cmake needs absolute paths
PY="$VENV/bin/python"
SRC=msg/vision_msgs
BUILD=build/vision_msgs
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

step() { printf '[setup] %-58s' "$1"; local t0=$SECONDS; shift; "$@" >"$LOG" 2>&1 \
  || { echo "FAILED"; cat "$LOG"; exit 1; }; echo "ok ($((SECONDS - t0)) s)"; }

up_to_date() {
  "$PY" -c "import vision_msgs.msg" 2>/dev/null || return 1
  local installed="$VENV/share/vision_msgs/msg" msg
  [ -d "$installed" ] || return 0  # not built by this script: a ROS install provides it
  for msg in "$SRC"/msg/*.msg; do
    cmp -s "$msg" "$installed/$(basename "$msg")" || return 1
  done
}

# The wheels' cmake exports name the include dirs of the machine that built them (/opt/python/cp311-cp311/...);
# point them at this venv's Python and numpy headers instead.
point_cmake_exports_at_venv() {
  local py_include numpy_include
  py_include=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  numpy_include=$("$PY" -c 'import numpy; print(numpy.get_include())')
  [ -f "$py_include/Python.h" ] || { echo "Python.h not found in $py_include: install the Python headers"; return 1; }
  { grep -rlZ --include='*.cmake' /opt/python/cp311-cp311 "$VENV/share" || true; } | xargs -0 -r sed -i \
    -e "s#/opt/python/cp311-cp311/include/python3.11#$py_include#g" \
    -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$numpy_include#g"
}

if up_to_date; then
  printf '[setup] %-58sok (0 s)\n' "vision_msgs: up to date (imports, same .msg files)"
  exit 0
fi
command -v cmake >/dev/null || { echo "[setup] vision_msgs: cmake not found (apt-get install cmake g++)"; exit 1; }

step "vision_msgs: build tools (requirements-build.txt)" \
  env PIP_DISABLE_PIP_VERSION_CHECK=1 "$PY" -m pip install --quiet -r requirements-build.txt
step "vision_msgs: cmake exports -> this venv's include dirs" point_cmake_exports_at_venv
# Installed into the venv's prefix: the libraries land in $VENV/lib, which the ROS wheels' bootstrapper
# (ros_wheels_bootstrapper.pth) puts on LD_LIBRARY_PATH, like those of std_msgs.
rm -rf "$BUILD"  # always a clean build dir: a stale cache would keep another venv's paths
step "vision_msgs: cmake configure ($BUILD)" cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_TESTING=OFF -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$PY"
step "vision_msgs: compile" cmake --build "$BUILD" --parallel "$(nproc)"
step "vision_msgs: install into the venv" cmake --install "$BUILD"
step "vision_msgs: import check" "$PY" -c "from vision_msgs.msg import Classification, LabelInfo"
