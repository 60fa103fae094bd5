#!/usr/bin/env bash
# Set up .venv, compile the example flows into build/, and run one end to end locally.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/kestra-gcp validate flows/
.venv/bin/kestra-gcp compile flows/ -o build/
