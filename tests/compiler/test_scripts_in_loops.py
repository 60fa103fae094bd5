"""A script task inside a parallel ForEach, compiled and run in the real engine with the local Cloud Run jobs:
each iteration is its own task run, with its own storage prefix and outputs document (none overwritten)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.cloud import storage

from compiler.api import compile_paths
from compiler.tasks.scripts import image_key, job_env_var
from kestra_gcp.engine import Engine, VirtualClock
from kestra_gcp.local import scripts

FLOW = """
id: loop_scripts
namespace: tests
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    concurrencyLimit: 0
    tasks:
      - id: py
        type: io.kestra.plugin.scripts.python.Script
        containerImage: python:3.11-slim
        script: |
          print('::{"outputs": {"v": "{{ taskrun.value }}"}}::')
"""


@pytest.fixture()
def bucket(gcs_emulator: Any) -> storage.Bucket:
    return storage.Client(project="test").create_bucket(f"loops-{uuid.uuid4().hex[:10]}")


def test_each_iteration_of_a_script_keeps_its_own_outputs(bucket: storage.Bucket, tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(FLOW)
    result = compile_paths([tmp_path / "f.yaml"])
    assert result.ok, [d.format() for d in result.diagnostics]
    scripts.install(tmp_path / "cache")
    env = {"KESTRA_GCP_BUCKET": bucket.name,
           job_env_var(image_key("python:3.11-slim")): "projects/p/locations/l/jobs/python-3-11-slim"}
    ex = Engine(result.workflows, env=env, clock=VirtualClock()).run("tests-loop_scripts", None)
    assert ex.state == "SUCCEEDED", ex.error
    documents = [b for b in bucket.list_blobs() if b.name.endswith("/_outputs.json")]
    assert sorted(json.loads(d.download_as_bytes())["vars"]["v"] for d in documents) == ["a", "b"]
