"""The command line: validate/compile/graph exit codes and outputs, with no Python traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.compiler.conftest import FLOWS, ROOT

BROKEN = ROOT / "tests" / "corpus" / "unknown_property_download.yaml"


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kestra_gcp", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_validate_ok_and_errors() -> None:
    ok = _cli("validate", str(FLOWS / "hello_world.yaml"))
    assert ok.returncode == 0, ok.stderr
    bad = _cli("validate", str(BROKEN))
    assert bad.returncode == 1
    assert f"{BROKEN}:6:5: error: unknown property 'url' for io.kestra.plugin.core.http.Download" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_validate_json() -> None:
    out = _cli("validate", "--format", "json", str(BROKEN))
    assert out.returncode == 1
    diags = json.loads(out.stdout)
    assert {"path", "line", "col", "severity", "message"} <= set(diags[0])


def test_compile_writes_artifacts_and_refuses_on_errors(tmp_path: Path) -> None:
    out = _cli("compile", str(FLOWS / "postgres_taxi.yaml"), str(FLOWS / "hello_world.yaml"), "-o", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "workflows").iterdir()) == [
        "zoomcamp-hello_world.yaml", "zoomcamp-postgres_taxi.yaml"]
    assert json.loads((tmp_path / "manifest.json").read_text())["version"] == 1
    refused = _cli("compile", str(BROKEN), "-o", str(tmp_path / "no"))
    assert refused.returncode == 1 and not (tmp_path / "no").exists()


def test_compile_one_flow_of_a_directory(tmp_path: Path) -> None:
    out = _cli("compile", str(FLOWS), "--flow", "zoomcamp.postgres_taxi", "-o", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert [p.name for p in (tmp_path / "workflows").iterdir()] == ["zoomcamp-postgres_taxi.yaml"]


def test_graph() -> None:
    out = _cli("graph", "hello_world", "--path", str(FLOWS))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("flowchart TD") and "hello_message" in out.stdout
