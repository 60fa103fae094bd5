"""`kestra-gcp workflows run` and `workflows serve`, run as real processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

CLI = [sys.executable, "-m", "kestra_gcp"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"}
    )


def test_run_success_prints_result(tmp_path: Path) -> None:
    wf = tmp_path / "hello.yaml"
    wf.write_text(
        """main:
  params: [args]
  steps:
    - log:
        call: sys.log
        args: {text: '${"hi " + args.name}', severity: INFO}
    - r:
        return: '${ {"greeting": "hi " + args.name, "n": 1.0} }'
"""
    )
    proc = _run("workflows", "run", str(wf), "--data", '{"name": "ada"}')
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"greeting": "hi ada", "n": 1.0}
    assert "1.0" in proc.stdout
    assert "[INFO] hello/log: hi ada" in proc.stderr


def test_run_failure_prints_error_and_exits_1(tmp_path: Path) -> None:
    wf = tmp_path / "fail.yaml"
    wf.write_text("- r:\n    raise: {tags: [Custom], message: nope}\n")
    proc = _run("workflows", "run", str(wf))
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {"tags": ["Custom"], "message": "nope"}
    assert "Traceback" not in proc.stderr
    assert "fail.yaml:1:3: in step 'r': execution FAILED: nope" in proc.stderr


def test_run_deploy_error_one_line(tmp_path: Path) -> None:
    wf = tmp_path / "bad.yaml"
    wf.write_text("- a:\n    assign:\n      - x: 1\n    next: nowhere\n")
    proc = _run("workflows", "run", str(wf))
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(r"bad\.yaml:4:5: next: step 'nowhere' is not defined", lines[0]), lines


def test_unreadable_inputs_are_one_line_errors(tmp_path: Path) -> None:
    wf = tmp_path / "ok.yaml"
    wf.write_text("main:\n  params: [args]\n  steps:\n    - r:\n        return: ${args}\n")
    (tmp_path / "binary.yaml").write_bytes(b"- r:\n    return: \xff\n")
    (tmp_path / "arg.json").write_text('{"a": 1}')
    cases = [
        ((str(wf), "--data", f"@{tmp_path / 'missing.json'}"), f"--data @{tmp_path / 'missing.json'}: No such file"),
        ((str(wf), "--data", '{"a": '), "--data: invalid JSON at line 1 column 7"),
        ((str(tmp_path / "binary.yaml"),), f"{tmp_path / 'binary.yaml'}: not UTF-8 text (byte 17)"),
    ]
    for args, message in cases:
        proc = _run("workflows", "run", *args)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1 and message in lines[0], (args, proc.stderr)
    proc = _run("workflows", "run", str(wf), "--data", f"@{tmp_path / 'arg.json'}")
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"a": 1}, proc.stderr


def test_serve_directory(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text("main:\n  params: [a]\n  steps:\n    - r:\n        return: ${a + 1}\n")
    proc = subprocess.Popen(
        [*CLI, "workflows", "serve", str(tmp_path), "--port", "0"], stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/v1", line)
        assert m, line
        base = f"http://127.0.0.1:{m.group(1)}/v1/projects/local-project/locations/us-central1/workflows/one"
        created = requests.post(f"{base}/executions", json={"argument": "41"}, timeout=10).json()
        for _ in range(100):
            got = requests.get(f"http://127.0.0.1:{m.group(1)}/v1/{created['name']}", timeout=10).json()
            if got["state"] != "ACTIVE":
                break
            time.sleep(0.02)
        assert got["state"] == "SUCCEEDED" and got["result"] == "42"
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_with_a_taken_grpc_port_is_a_one_line_error(tmp_path: Path) -> None:
    import socket

    (tmp_path / "one.yaml").write_text("- r:\n    return: 1\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _run("workflows", "serve", str(tmp_path), "--port", "0", "--grpc-port", str(port))
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: cannot listen on 127.0.0.1:{port} (gRPC)"], proc.stderr
    assert "Traceback" not in proc.stderr
