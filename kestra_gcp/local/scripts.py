"""Local stand-ins for the two connectors script tasks use: Cloud Run jobs and Cloud Storage object reads.

`install(cache_dir)` registers, in the engine's connector registry:
- `googleapis.run.v2.projects.locations.jobs.run`: runs `functions/runner/kestra_runner.py` in a subprocess
  with the spec from the container override env, in a cached virtualenv per dependency set (the runner then
  skips installing). A task's `containerImage` would need a container runtime; none is used here, so the host
  Python runs the task and the run says so once.
- `googleapis.storage.v1.objects.get`: reads an object (or its metadata) from the GCS emulator.

The runner is the same file a Cloud Run job executes, so the local run proves the cloud code path.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import venv
from pathlib import Path
from typing import Any

from kestra_gcp.engine.connectors import register
from kestra_gcp.engine.errors import error

RUNNER = Path(__file__).resolve().parents[2] / "functions" / "runner" / "kestra_runner.py"
JOBS_RUN = "googleapis.run.v2.projects.locations.jobs.run"
OBJECTS_GET = "googleapis.storage.v1.objects.get"


class LocalJobs:
    """Runs script tasks the way their Cloud Run job would, on this machine."""

    def __init__(self, cache_dir: Path, notify: Any = None) -> None:
        self.cache_dir = cache_dir
        self.notify = notify or (lambda message: print(message, file=sys.stderr))
        self._lock = threading.Lock()
        self._noted_images: set[str] = set()

    def python_for(self, dependencies: list[str]) -> str:
        """A virtualenv with `dependencies` installed, created once per dependency set and reused."""
        if not dependencies:
            return sys.executable
        digest = hashlib.sha256("\n".join(sorted(dependencies)).encode()).hexdigest()[:16]
        home = self.cache_dir / "venvs" / digest
        python = home / "bin" / "python"
        with self._lock:
            if (home / ".complete").exists():
                return str(python)
            venv.EnvBuilder(with_pip=True, clear=True).create(home)
            proc = subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *dependencies],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
                raise error("OperationError", f"installing {', '.join(dependencies)} failed:\n{tail}")
            (home / ".complete").write_text("\n".join(sorted(dependencies)))
        return str(python)

    def run(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name") or "")
        overrides = ((args.get("body") or {}).get("overrides") or {}).get("containerOverrides") or [{}]
        env = {str(e.get("name")): str(e.get("value", "")) for e in overrides[0].get("env") or []}
        if "KESTRA_RUNNER_SPEC" not in env:
            raise error("ValueError", f"{JOBS_RUN}: no KESTRA_RUNNER_SPEC in the container overrides")
        spec = json.loads(base64.b64decode(env["KESTRA_RUNNER_SPEC"]))
        task = spec.get("task") or {}
        image = task.get("containerImage") or (task.get("docker") or {}).get("image")
        if image and image not in self._noted_images:
            self._noted_images.add(image)
            self.notify(f"note: no container runtime is used locally; '{image}' tasks run with the host Python")
        spec["python"] = self.python_for([str(d) for d in task.get("dependencies") or []])
        spec["dependenciesInstalled"] = True
        proc_env = {**os.environ, **env, "KESTRA_RUNNER_SPEC": base64.b64encode(json.dumps(spec).encode()).decode()}
        proc = subprocess.run([sys.executable, str(RUNNER)], env=proc_env, capture_output=True, text=True)
        for line in proc.stdout.splitlines() + proc.stderr.splitlines():
            self.notify(f"[{task.get('id', '?')}] {line}")
        execution = f"{name}/executions/{spec.get('execution', {}).get('id', 'local')}-{task.get('id', 'task')}"
        if proc.returncode != 0:
            raise error(
                "OperationError",
                f"job {name} failed: runner exited with code {proc.returncode}",
                operation={"name": execution, "failedCount": 1, "succeededCount": 0},
            )
        return {"name": execution, "taskCount": 1, "succeededCount": 1, "failedCount": 0}


def read_object(args: dict[str, Any]) -> Any:
    """`objects.get` against STORAGE_EMULATOR_HOST: bytes with `alt: media`, else the metadata map."""
    host = os.environ.get("STORAGE_EMULATOR_HOST", "").rstrip("/")
    if not host:
        raise error("ConnectionError", f"{OBJECTS_GET}: STORAGE_EMULATOR_HOST is not set")
    bucket, name = str(args.get("bucket", "")), urllib.parse.unquote(str(args.get("object", "")))
    url = f"{host}/storage/v1/b/{bucket}/o/{urllib.parse.quote(name, safe='')}"
    if args.get("alt") == "media":
        url += "?alt=media"
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            data = resp.read()
    except urllib.error.HTTPError as exc:
        raise error("HttpError", f"HTTP server responded with error code {exc.code}", code=exc.code,
                    headers={}, body=exc.read().decode("utf-8", "replace")) from None
    except urllib.error.URLError as exc:
        raise error("ConnectionError", f"{OBJECTS_GET}: {exc.reason}") from None
    return data if args.get("alt") == "media" else json.loads(data)


def install(cache_dir: Path, notify: Any = None) -> LocalJobs:
    """Register the local job and storage connectors; returns the job runner (for its cache)."""
    jobs = LocalJobs(cache_dir, notify)
    register(JOBS_RUN)(lambda _rt, args: jobs.run(args))
    register(OBJECTS_GET)(lambda _rt, args: read_object(args))
    return jobs
