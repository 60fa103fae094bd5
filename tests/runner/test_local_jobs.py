"""The local Cloud Run jobs and Cloud Storage connectors, driven by a hand-written workflow in the real engine."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.cloud import storage

from kestra_gcp.engine import Engine
from kestra_gcp.local import scripts

WORKFLOW = """
main:
  params: [args]
  steps:
    - run:
        call: googleapis.run.v2.projects.locations.jobs.run
        args:
          name: projects/p/locations/l/jobs/python-3-11-slim
          body:
            overrides:
              containerOverrides:
                - env:
                    - name: KESTRA_RUNNER_SPEC
                      value: ${base64.encode(json.encode(args.spec))}
        result: job
    - read:
        call: googleapis.storage.v1.objects.get
        args:
          bucket: ${args.spec.storage.bucket}
          object: ${text.url_encode(args.spec.outputsObject)}
          alt: media
        result: raw
    - done:
        return: ${json.decode(raw)}
"""


@pytest.fixture()
def bucket(gcs_emulator: Any) -> storage.Bucket:
    return storage.Client(project="test").create_bucket(f"jobs-{uuid.uuid4().hex[:10]}")


def spec_for(bucket: storage.Bucket, task: dict[str, Any]) -> dict[str, Any]:
    prefix = f"executions/ns/f/e1/{task['id']}/"
    return {
        "task": task,
        "execution": {"id": "e1", "namespace": "ns", "flowId": "f"},
        "storage": {"bucket": bucket.name, "prefix": prefix},
        "outputsObject": prefix + "_outputs.json",
    }


def test_job_connector_runs_the_runner_and_storage_connector_reads_its_outputs(
    bucket: storage.Bucket, tmp_path: Path
) -> None:
    notes: list[str] = []
    scripts.install(tmp_path, notes.append)
    task = {
        "id": "py",
        "type": "io.kestra.plugin.scripts.python.Script",
        "containerImage": "python:3.11-slim",
        "script": "print('::{\"outputs\": {\"answer\": 42}}::')\nprint('hello')",
    }
    execution = Engine({"w": WORKFLOW}).run("w", {"spec": spec_for(bucket, task)})
    assert execution.state == "SUCCEEDED", execution.error
    assert execution.result == {"vars": {"answer": 42}, "exitCode": 0, "outputFiles": {}, "state": "SUCCESS"}
    assert notes[0] == "note: no container runtime is used locally; 'python:3.11-slim' tasks run with the host Python"
    assert "[py] hello" in notes


def test_missing_spec_is_a_value_error(tmp_path: Path) -> None:
    scripts.install(tmp_path)
    source = WORKFLOW.replace("KESTRA_RUNNER_SPEC", "OTHER")
    execution = Engine({"w": source}).run("w", {"spec": {"storage": {"bucket": "b"}, "outputsObject": "x"}})
    assert execution.state == "FAILED"
    assert "ValueError" in execution.error["tags"]


def test_reading_a_missing_object_raises_http_404(bucket: storage.Bucket, tmp_path: Path) -> None:
    scripts.install(tmp_path)
    source = """
main:
  steps:
    - read:
        call: googleapis.storage.v1.objects.get
        args: {bucket: BUCKET, object: nope, alt: media}
        result: raw
    - done:
        return: ${raw}
""".replace("BUCKET", bucket.name)
    execution = Engine({"w": source}).run("w", None)
    assert execution.state == "FAILED"
    assert execution.error["code"] == 404 and "HttpError" in execution.error["tags"]


def test_dependencies_get_one_cached_virtualenv_per_set(tmp_path: Path) -> None:
    jobs = scripts.LocalJobs(tmp_path)
    python = jobs.python_for(["six==1.16.0"])
    marker = Path(python).parents[1] / ".complete"
    first = marker.stat().st_mtime_ns
    assert jobs.python_for(["six==1.16.0"]) == python
    assert marker.stat().st_mtime_ns == first, "the second task reuses the environment"
    out = subprocess.run([python, "-c", "import six; print(six.__version__)"], capture_output=True, text=True)
    assert out.stdout.strip() == "1.16.0"
    assert jobs.python_for([]) == sys.executable
