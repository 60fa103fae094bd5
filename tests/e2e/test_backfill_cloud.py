"""`backfill --project/--region` through google-cloud-workflows, against the engine's local Executions API."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from compiler.api import compile_paths
from kestra_gcp.engine import Engine
from kestra_gcp.engine.api import ExecutionsApi
from kestra_gcp.engine.api_grpc import serve_grpc

FLOW = Path(__file__).parent / "flows" / "scheduled_hello.yaml"


def test_cloud_backfill_creates_one_execution_per_tick_with_kestra_trigger_variables() -> None:
    compiled = compile_paths([FLOW])
    assert compiled.ok, [d.format() for d in compiled.diagnostics]
    engine = Engine(compiled.workflows, project="proj", location="europe-west1")
    server, port = serve_grpc(ExecutionsApi(engine), 0)
    cwd = Path(tempfile.mkdtemp(prefix="kgcp-bf-"))
    try:
        args = [sys.executable, "-m", "kestra_gcp", "backfill", str(FLOW), "--trigger", "monthly",
                "--start", "2019-01-01", "--end", "2019-03-31", "--project", "proj", "--region", "europe-west1",
                "--endpoint", f"127.0.0.1:{port}", "--json"]
        proc = subprocess.run(args, cwd=cwd, text=True, capture_output=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        rows = json.loads(proc.stdout.strip().splitlines()[-1])["ticks"]
        assert [(r["tick"], r["state"]) for r in rows] == [
            ("2019-01-01T09:00:00Z", "SUCCESS"), ("2019-02-01T09:00:00Z", "SUCCESS"),
            ("2019-03-01T09:00:00Z", "SUCCESS")]
        executions = sorted(engine.list("zoomcamp-scheduled_hello"), key=lambda e: e.start_time)
        assert [e.result["outputs"]["tick"]["value"] for e in executions] == [
            "green 2019-01", "green 2019-02", "green 2019-03"]
        first = executions[0].argument
        assert first["trigger"] == {"date": "2019-01-01T09:00:00Z", "next": "2019-02-01T09:00:00Z",
                                    "previous": "2018-12-01T09:00:00Z"}
        assert first["labels"]["system.from"] == "trigger"
        # concurrency limit 1: no two executions overlapped
        for before, after in itertools.pairwise(executions):
            assert before.end_time <= after.start_time
        # resumable: nothing to do the second time, everything the third with --force
        again = subprocess.run(args, cwd=cwd, text=True, capture_output=True, timeout=120)
        assert again.returncode == 0 and "3 ticks: 0 run, 3 already done" in again.stderr
        forced = subprocess.run([*args, "--force"], cwd=cwd, text=True, capture_output=True, timeout=120)
        assert forced.returncode == 0 and "3 ticks: 3 run" in forced.stderr
        assert len(engine.list("zoomcamp-scheduled_hello")) == 6
    finally:
        server.stop(None)


def test_backfill_unknown_trigger_is_a_one_line_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "kestra_gcp", "backfill", str(FLOW), "--trigger", "nope",
                           "--start", "2019-01-01", "--end", "2019-02-01", "--project", "p", "--region", "r"],
                          cwd=tempfile.mkdtemp(), text=True, capture_output=True, timeout=120)
    assert proc.returncode == 1
    # (the root CLI's console wraps long lines at 80 columns when stderr is not a terminal)
    assert "has no Schedule trigger 'nope' (its schedules: monthly)" in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr
