#!/usr/bin/env bash
# Set up .venv and run the whole test suite (unit + end-to-end on the embedded services).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-tools.sh
.venv/bin/python -m pytest -q -n 2 "$@"
