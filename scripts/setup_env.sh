#!/usr/bin/env bash
# Builds the project's virtual environment, one line per step. Idempotent: pip skips what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
GPU=${GPU:-0}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
PIP=(env PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install --quiet)

step() { printf '[setup] %-58s' "$1"; local t0=$SECONDS; shift; "$@" >/tmp/ar_ros_setup.log 2>&1 \
  || { echo "FAILED"; cat /tmp/ar_ros_setup.log; exit 1; }; echo "ok ($((SECONDS - t0)) s)"; }

[ -x "$VENV/bin/python" ] || step "python venv at $VENV ($($PYTHON --version 2>&1))" "$PYTHON" -m venv "$VENV"
step "pip, setuptools, wheel" "${PIP[@]}" --upgrade pip==26.3 setuptools==84.2.1 wheel==0.48.0
# shellcheck disable=SC2086  # TORCH_SPEC may carry pip options such as --index-url
step "torch ($TORCH_SPEC)" "${PIP[@]}" $TORCH_SPEC
step "pinned packages and ROS 2 Jazzy wheels (requirements.txt)" "${PIP[@]}" -r requirements.txt
VENV="$VENV" bash scripts/build_vision_msgs.sh  # vision_msgs is not on PyPI: rosidl builds it into the venv
if [ "$GPU" = 1 ]; then
  step "GPU runtimes: onnxruntime-gpu, tensorrt (requirements-gpu.txt)" "${PIP[@]}" -r requirements-gpu.txt
fi
step "ar_ros + ar_core (editable)" "${PIP[@]}" --no-deps -e .
