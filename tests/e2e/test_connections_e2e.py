"""`--connection host:port=postgresql://...` and `.kestra-gcp/config.json` send a flow's JDBC URL to another
server instead of starting the embedded one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli

pytestmark = pytest.mark.e2e

FLOW = Path(__file__).parent / "flows" / "pg_marker.yaml"


def test_connection_mapping_uses_the_given_server_and_starts_no_embedded_one(cli: Cli) -> None:
    code, _, stderr = cli.run_json(FLOW)  # creates ny_taxi and root on the session's embedded server
    assert code == 0, stderr
    target = cli.services()["postgres"]["url"]  # postgresql://127.0.0.1:PORT
    with cli.pg() as conn:
        before = conn.execute("SELECT count(*) FROM connection_marker").fetchone()[0]
    other = Path(tempfile.mkdtemp(prefix="kgcp-conn-"))
    try:
        def run(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "kestra_gcp", "run", str(FLOW), *extra], cwd=other,
                                  text=True, capture_output=True, timeout=120)

        proc = run("--connection", f"pgdatabase:5432={target}")
        assert proc.returncode == 0, proc.stderr
        (other / ".kestra-gcp" / "config.json").write_text(
            json.dumps({"connections": {"pgdatabase:5432": target}}))
        proc = run()
        assert proc.returncode == 0, proc.stderr
        status = json.loads(subprocess.run([sys.executable, "-m", "kestra_gcp", "services", "status", "--json"],
                                           cwd=other, text=True, capture_output=True, timeout=60).stdout)
        assert not next(s for s in status if s["name"] == "postgres")["running"]
        with cli.pg() as conn:
            after = conn.execute("SELECT count(*) FROM connection_marker").fetchone()[0]
        assert after == before + 2
        bad = run("--connection", "pgdatabase=nowhere")
        assert bad.returncode == 1 and "--connection" in bad.stderr and "Traceback" not in bad.stderr
    finally:
        subprocess.run([sys.executable, "-m", "kestra_gcp", "services", "stop"], cwd=other, capture_output=True,
                       timeout=60)
        shutil.rmtree(other, ignore_errors=True)
