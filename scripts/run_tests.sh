#!/usr/bin/env bash
# The whole suite, as CI runs it. The venv's bin/ goes first on PATH so subprocesses find ar-core.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
exec .venv/bin/python -m pytest test "$@"
