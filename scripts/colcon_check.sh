#!/usr/bin/env bash
# Proves that the repo builds with `colcon build` as the ament_python package ar_ros, as in a robot's workspace:
# a temporary workspace src/ar_ros holding the repo's tracked files, built by the venv's colcon, whose install
# space is then checked. One line per step; exits non-zero naming what failed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
VENV=$(cd "$VENV" && pwd)
PY="$VENV/bin/python"
WS=$(mktemp -d "${TMPDIR:-/tmp}/ar_ros_colcon.XXXXXX")
trap 'rm -rf "$WS"' EXIT
PREFIX="$WS/install/ar_ros"  # colcon's default isolated layout: one prefix per package

step() { printf '[colcon] %-58s' "$1"; local t0=$SECONDS; shift; "$@" >"$WS/step.log" 2>&1 \
  || { echo "FAILED"; cat "$WS/step.log"; exit 1; }; echo "ok ($((SECONDS - t0)) s)"; }

copy_tracked_files() {  # a clean checkout: nothing untracked, no build output of this tree
  mkdir -p "$WS/src/ar_ros"
  git ls-files -z | tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$WS/src/ar_ros"
}

colcon_build() {
  COLCON_HOME="$WS/colcon_home" "$VENV/bin/colcon" --log-base "$WS/log" build \
    --base-paths "$WS/src" --build-base "$WS/build" --install-base "$WS/install" \
    --event-handlers console_direct+
}

check_install_space() {
  local path dir
  for path in lib/ar_ros/activity_node lib/ar_ros/ar-core share/ar_ros/package.xml \
      share/ament_index/resource_index/packages/ar_ros; do
    [ -e "$PREFIX/$path" ] || { echo "missing from the install space: $PREFIX/$path"; return 1; }
  done
  for dir in launch config; do
    if [ -n "$(git ls-files "$dir")" ] && [ -z "$(ls -A "$PREFIX/share/ar_ros/$dir" 2>/dev/null)" ]; then
      echo "the repo has $dir/ files but the install space has no $PREFIX/share/ar_ros/$dir/ files"
      return 1
    fi
  done
}

run_installed_cli() (  # the installed packages, not the venv's editable ones, must serve the entry point
  local site
  site="$PREFIX/lib/$("$PY" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')/site-packages"
  PYTHONPATH="$site" "$PREFIX/lib/ar_ros/ar-core" --help
  cd "$WS"  # not the repo root, whose ar_core/ would shadow the installed one
  PYTHONPATH="$site" "$PY" -c 'import sys, ar_core, ar_ros
for module in (ar_core, ar_ros):
    assert module.__file__.startswith(sys.argv[1]), f"{module.__name__} imported from {module.__file__}"' "$site"
)

step "colcon (requirements-build.txt)" \
  env PIP_DISABLE_PIP_VERSION_CHECK=1 "$PY" -m pip install --quiet -r requirements-build.txt
step "workspace with src/ar_ros (tracked files)" copy_tracked_files
step "colcon build" colcon_build
step "install space: entry points, package.xml, launch, config" check_install_space
step "installed ar-core runs from the install space" run_installed_cli
