"""The script runner, run as a subprocess the way a Cloud Run job runs it, against the real GCS emulator."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.cloud import storage

RUNNER = Path(__file__).resolve().parents[2] / "functions" / "runner" / "kestra_runner.py"


@pytest.fixture()
def bucket(gcs_emulator: Any) -> storage.Bucket:
    client = storage.Client(project="test")
    return client.create_bucket(f"runner-{uuid.uuid4().hex[:10]}")


def run_task(bucket: storage.Bucket, task: dict[str, Any], **extra: Any) -> tuple[int, dict[str, Any], str]:
    prefix = f"executions/ns/flow/e1/{task['id']}/"
    spec = {
        "task": task,
        "execution": {"id": "e1", "namespace": "ns", "flowId": "flow"},
        "storage": {"bucket": bucket.name, "prefix": prefix},
        "outputsObject": prefix + "_outputs.json",
        "python": sys.executable,
        **extra,
    }
    env = {**os.environ, "KESTRA_RUNNER_SPEC": base64.b64encode(json.dumps(spec).encode()).decode()}
    proc = subprocess.run([sys.executable, str(RUNNER)], env=env, capture_output=True, text=True, timeout=120)
    doc = json.loads(bucket.blob(spec["outputsObject"]).download_as_bytes())
    return proc.returncode, doc, proc.stderr


def test_python_script_outputs_vars_and_files(bucket: storage.Bucket) -> None:
    bucket.blob("in/data.json").upload_from_string('{"products": [{"p": 2}, {"p": 5}]}')
    script = (
        "import json\n"
        "data = json.load(open('data.json'))\n"
        "total = sum(x['p'] for x in data['products'])\n"
        "open('out.csv', 'w').write('total\\n%d\\n' % total)\n"
        "print('::' + json.dumps({'outputs': {'total': total, 'name': 'x'}}) + '::')\n"
        "print('plain line')\n"
    )
    code, doc, _ = run_task(
        bucket,
        {
            "id": "transform",
            "type": "io.kestra.plugin.scripts.python.Script",
            "script": script,
            "inputFiles": {"data.json": f"gs://{bucket.name}/in/data.json", "note.txt": "inline"},
            "outputFiles": ["*.csv"],
        },
    )
    assert code == 0
    assert doc["state"] == "SUCCESS"
    assert doc["vars"] == {"total": 7, "name": "x"}
    assert doc["exitCode"] == 0
    uri = doc["outputFiles"]["out.csv"]
    assert uri == f"gs://{bucket.name}/executions/ns/flow/e1/transform/out.csv"
    assert bucket.blob(uri.split("/", 3)[3]).download_as_bytes() == b"total\n7\n"


def test_shell_commands_with_before_commands_and_env(bucket: storage.Bucket) -> None:
    code, doc, _ = run_task(
        bucket,
        {
            "id": "sh",
            "type": "io.kestra.plugin.scripts.shell.Commands",
            "beforeCommands": ["mkdir -p out"],
            "commands": ['echo "$GREETING" > out/hello.txt', 'echo "$COLS $FLAG" > out/typed.txt',
                         "echo '::{\"outputs\":{\"n\":3}}::'"],
            "env": {"GREETING": "hi there", "COLS": ["a", "b"], "FLAG": True},
            "outputFiles": ["out/**"],
        },
    )
    assert code == 0 and doc["state"] == "SUCCESS"
    assert doc["vars"] == {"n": 3}
    assert sorted(doc["outputFiles"]) == ["out/hello.txt", "out/typed.txt"]
    typed = doc["outputFiles"]["out/typed.txt"].split("/", 3)[3]
    assert bucket.blob(typed).download_as_bytes() == b'["a", "b"] true\n', "non-strings are rendered as JSON"


def test_failing_script_reports_exit_code_and_stderr_tail(bucket: storage.Bucket) -> None:
    script = "import sys\nfor i in range(30):\n    print(f'err {i}', file=sys.stderr)\nsys.exit(3)\n"
    code, doc, stderr = run_task(
        bucket, {"id": "bad", "type": "io.kestra.plugin.scripts.python.Script", "script": script}
    )
    assert code == 0, "a failed script is reported in the outputs document"
    assert doc["state"] == "FAILED" and doc["exitCode"] == 3
    message = doc["message"].splitlines()
    assert message[0] == "exited with code 3:"
    assert message[1:] == [f"err {i}" for i in range(10, 30)]
    assert "task 'bad' exited with code 3" in stderr


def test_timeout_kills_the_process_group(bucket: storage.Bucket) -> None:
    _, doc, _ = run_task(
        bucket,
        {"id": "slow", "type": "io.kestra.plugin.scripts.shell.Commands", "commands": ["sleep 30 & sleep 30"]},
        timeoutSeconds=1,
    )
    assert doc["state"] == "FAILED"
    assert doc["message"] == "timed out after 1 s"


def test_missing_input_object_is_reported(bucket: storage.Bucket) -> None:
    _, doc, _ = run_task(
        bucket,
        {
            "id": "t",
            "type": "io.kestra.plugin.scripts.shell.Commands",
            "commands": ["cat x"],
            "inputFiles": {"x": f"gs://{bucket.name}/nope"},
        },
    )
    assert doc["state"] == "FAILED"
    assert doc["message"] == f"cannot read gs://{bucket.name}/nope: HTTP 404"


def test_input_file_cannot_escape_workdir(bucket: storage.Bucket) -> None:
    _, doc, _ = run_task(
        bucket,
        {"id": "t", "type": "io.kestra.plugin.scripts.shell.Commands", "commands": ["true"],
         "inputFiles": {"../evil": "x"}},
    )
    assert doc["state"] == "FAILED" and "escapes the working directory" in doc["message"]
