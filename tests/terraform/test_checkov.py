"""checkov on terraform/: zero failed checks (every skip is annotated inline with its reason, see
test_hcl_static). checkov lives in .venv-tools (its pinned dependencies clash with the project's)."""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from tests.terraform.tfhelpers import REPO, TERRAFORM_DIR

CHECKOV = REPO / ".venv-tools" / "bin" / "checkov"


@pytest.mark.skipif(not CHECKOV.exists(), reason="run scripts/setup.sh: .venv-tools with checkov")
def test_checkov_has_no_failed_check() -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [str(CHECKOV), "-d", str(TERRAFORM_DIR), "--quiet", "--compact", "--skip-download", "--framework", "terraform"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    elapsed = time.monotonic() - started
    summary = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", proc.stdout)
    assert summary, proc.stdout + proc.stderr
    passed, failed, _skipped = (int(g) for g in summary.groups())
    assert failed == 0 and proc.returncode == 0, proc.stdout
    assert passed >= 20
    assert elapsed < 120, f"checkov took {elapsed:.1f}s"
