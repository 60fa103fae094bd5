"""checkov on terraform/ and on the GitOps pipeline (.github/): zero failed checks (every skip is annotated
inline with its reason, see test_hcl_static). checkov lives in .venv-tools (its pinned dependencies clash
with the project's)."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.terraform.tfhelpers import REPO, TERRAFORM_DIR

CHECKOV = REPO / ".venv-tools" / "bin" / "checkov"


def run_checkov(directory: Path, framework: str) -> tuple[int, int, float]:
    """(passed, failed, seconds) of `checkov -d directory` (offline: --skip-download)."""
    started = time.monotonic()
    proc = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--quiet", "--compact", "--skip-download", "--framework", framework],
        capture_output=True, text=True, timeout=300, check=False,
    )
    elapsed = time.monotonic() - started
    summary = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", proc.stdout)
    assert summary, proc.stdout + proc.stderr
    passed, failed, _skipped = (int(g) for g in summary.groups())
    assert (failed == 0) == (proc.returncode == 0), proc.stdout
    return passed, failed, elapsed


@pytest.mark.skipif(not CHECKOV.exists(), reason="run scripts/setup.sh: .venv-tools with checkov")
def test_checkov_terraform_has_no_failed_check() -> None:
    passed, failed, elapsed = run_checkov(TERRAFORM_DIR, "terraform")
    assert failed == 0
    assert passed >= 20
    assert elapsed < 120, f"checkov took {elapsed:.1f}s"


@pytest.mark.skipif(not CHECKOV.exists(), reason="run scripts/setup.sh: .venv-tools with checkov")
def test_checkov_deploy_pipeline_has_no_failed_check() -> None:
    passed, failed, _ = run_checkov(REPO / ".github", "github_actions")
    assert failed == 0 and passed > 0
