#!/usr/bin/env bash
# Set up .venv and run the whole test suite (unit + end-to-end on the embedded services).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -q -n 2 "$@"
