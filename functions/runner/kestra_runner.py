"""Script task runner: runs one Kestra python/shell Script or Commands task in a working directory.

Shipped as a single standard-library file so that it runs in any stock image (`python:3.11-slim`) as a Cloud Run
job, and locally in a subprocess. It reads a run spec (JSON, see `docs/contracts.md`, "Script tasks") from the
environment variable `KESTRA_RUNNER_SPEC` (base64) or from the file named by `--spec`, then:

1. fetches `inputFiles` (inline content, or `gs://` objects) into a fresh working directory;
2. installs `dependencies` (uv when present, else pip) unless the caller already did;
3. runs `beforeCommands`, then the script or the commands, streaming their output;
4. uploads the files matching `outputFiles` globs to execution storage;
5. writes the outputs document (`vars` from `::{"outputs": {...}}::` lines, `exitCode`, `outputFiles`, `state`,
   `message`) to `gs://<bucket>/<outputsObject>` and exits 0 — a failed script is reported in that document,
   not by the exit status, so the workflow can name the task, exit code and stderr tail.

Cloud Storage is reached through its JSON API: with `STORAGE_EMULATOR_HOST` locally, with the metadata server's
token on Cloud Run.
"""

from __future__ import annotations

import base64
import collections
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any

OUTPUT_LINE = re.compile(r"^::(\{.*\})::$")
STDERR_TAIL_LINES = 20
METADATA_TOKEN_URL = (
    "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
)
PYTHON_TYPES = ("io.kestra.plugin.scripts.python.Script", "io.kestra.plugin.scripts.python.Commands")
SCRIPT_TYPES = ("io.kestra.plugin.scripts.python.Script", "io.kestra.plugin.scripts.shell.Script")


class RunnerError(Exception):
    """A failure of the runner itself (bad spec, unreachable storage), reported in the outputs document."""


class Storage:
    """The few Cloud Storage JSON API calls the runner needs, streamed, standard library only."""

    def __init__(self) -> None:
        emulator = os.environ.get("STORAGE_EMULATOR_HOST", "").rstrip("/")
        if emulator and not emulator.startswith("http"):
            emulator = "http://" + emulator
        self.base = emulator or "https://storage.googleapis.com"
        self.emulated = bool(emulator)
        self._token: tuple[str, float] | None = None

    def _headers(self) -> dict[str, str]:
        if self.emulated:
            return {}
        if self._token is None or self._token[1] < time.time() + 60:
            req = urllib.request.Request(METADATA_TOKEN_URL, headers={"Metadata-Flavor": "Google"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                doc = json.load(resp)
            self._token = (doc["access_token"], time.time() + float(doc.get("expires_in", 300)))
        return {"Authorization": f"Bearer {self._token[0]}"}

    @staticmethod
    def split(uri: str) -> tuple[str, str]:
        if not uri.startswith("gs://") or "/" not in uri[5:]:
            raise RunnerError(f"not a gs:// object URI: {uri}")
        bucket, name = uri[5:].split("/", 1)
        return bucket, name

    def download(self, uri: str, dest: str) -> None:
        bucket, name = self.split(uri)
        url = f"{self.base}/storage/v1/b/{bucket}/o/{urllib.parse.quote(name, safe='')}?alt=media"
        req = urllib.request.Request(url, headers=self._headers())
        try:
            with urllib.request.urlopen(req, timeout=300) as resp, open(dest, "wb") as out:
                shutil.copyfileobj(resp, out, 1 << 20)
        except urllib.error.HTTPError as exc:
            raise RunnerError(f"cannot read {uri}: HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            raise RunnerError(f"cannot read {uri}: {exc.reason}") from None

    def upload(self, bucket: str, name: str, source: IO[bytes], size: int, content_type: str) -> str:
        """One media upload: the object appears only once the whole body has arrived."""
        query = urllib.parse.urlencode({"uploadType": "media", "name": name})
        url = f"{self.base}/upload/storage/v1/b/{bucket}/o?{query}"
        headers = {**self._headers(), "Content-Type": content_type, "Content-Length": str(size)}
        req = urllib.request.Request(url, data=source, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=600) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            raise RunnerError(f"cannot write gs://{bucket}/{name}: HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            raise RunnerError(f"cannot write gs://{bucket}/{name}: {exc.reason}") from None
        return f"gs://{bucket}/{name}"

    def upload_file(self, bucket: str, name: str, path: str) -> str:
        with open(path, "rb") as fh:
            return self.upload(bucket, name, fh, os.path.getsize(path), "application/octet-stream")

    def upload_json(self, bucket: str, name: str, doc: dict[str, Any]) -> str:
        import io

        data = json.dumps(doc).encode()
        return self.upload(bucket, name, io.BytesIO(data), len(data), "application/json")


def load_spec(argv: list[str]) -> dict[str, Any]:
    if "--spec" in argv:
        with open(argv[argv.index("--spec") + 1], encoding="utf-8") as fh:
            return dict(json.load(fh))
    raw = os.environ.get("KESTRA_RUNNER_SPEC")
    if not raw:
        raise RunnerError("no run spec: set KESTRA_RUNNER_SPEC (base64 JSON) or pass --spec FILE")
    return dict(json.loads(base64.b64decode(raw)))


def prepare_inputs(task: dict[str, Any], workdir: str, storage: Storage) -> None:
    for name, value in (task.get("inputFiles") or {}).items():
        path = os.path.normpath(os.path.join(workdir, name))
        if not path.startswith(workdir + os.sep):
            raise RunnerError(f"inputFiles: '{name}' escapes the working directory")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if isinstance(value, str) and value.startswith("gs://"):
            storage.download(value, path)
        else:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(value if isinstance(value, str) else json.dumps(value))


def shell_script(task: dict[str, Any], python: str, dependencies_installed: bool) -> str:
    """The whole task as one shell script: dependency install, beforeCommands, then the script or commands."""
    lines = ["set -e"] if task.get("failFast", True) else []
    deps = [str(d) for d in task.get("dependencies") or []]
    if deps and not dependencies_installed:
        quoted = " ".join(_sh_quote(d) for d in deps)
        if shutil.which("uv"):
            lines.append(f"uv pip install --quiet --system --python {_sh_quote(python)} {quoted}")
        else:
            lines.append(f"{_sh_quote(python)} -m pip install --quiet --disable-pip-version-check {quoted}")
    lines.extend(str(c) for c in task.get("beforeCommands") or [])
    task_type = str(task.get("type", ""))
    if task_type in SCRIPT_TYPES:
        if task_type in PYTHON_TYPES:
            lines.append(f"{_sh_quote(python)} __kestra_script.py")
        else:
            lines.append("sh __kestra_script.sh")
    else:
        lines.extend(str(c) for c in task.get("commands") or [])
    return "\n".join(lines) + "\n"


def as_text(value: Any) -> str:
    """A property value as Kestra renders it into a string: strings as-is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _sh_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def run_process(
    script: str, workdir: str, env: dict[str, str], timeout: float | None
) -> tuple[int, dict[str, Any], list[str], bool]:
    """Run the script under sh in its own process group; stream output; parse Kestra output lines."""
    proc = subprocess.Popen(
        ["/bin/sh", "-c", script],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    variables: dict[str, Any] = {}
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)

    def pump_stdout() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            match = OUTPUT_LINE.match(line)
            if match:
                try:
                    doc = json.loads(match.group(1))
                except ValueError:
                    doc = None
                if isinstance(doc, dict) and isinstance(doc.get("outputs"), dict):
                    variables.update(doc["outputs"])
                    continue
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def pump_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            tail.append(line)
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    pumps = [threading.Thread(target=pump_stdout), threading.Thread(target=pump_stderr)]
    for pump in pumps:
        pump.start()
    timed_out = False
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        code = proc.wait()
    for pump in pumps:
        pump.join()
    return code, variables, list(tail), timed_out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def collect_outputs(task: dict[str, Any], workdir: str, spec: dict[str, Any], storage: Storage) -> dict[str, str]:
    bucket = spec["storage"]["bucket"]
    prefix = spec["storage"]["prefix"].rstrip("/") + "/"
    uploaded: dict[str, str] = {}
    for pattern in task.get("outputFiles") or []:
        for path in sorted(glob.glob(os.path.join(workdir, str(pattern)), recursive=True)):
            if not os.path.isfile(path):
                continue
            rel = os.path.relpath(path, workdir)
            if rel.startswith("__kestra_script."):
                continue
            uploaded[rel] = storage.upload_file(bucket, prefix + rel, path)
    return uploaded


def execute(spec: dict[str, Any], storage: Storage) -> dict[str, Any]:
    """Run the task of `spec`; return the outputs document (never raises for a failing script)."""
    task = spec["task"]
    python = spec.get("python") or os.environ.get("KESTRA_RUNNER_PYTHON") or "python3"
    workdir = os.path.realpath(tempfile.mkdtemp(prefix="kestra-task-"))
    try:
        prepare_inputs(task, workdir, storage)
        task_type = str(task.get("type", ""))
        if task_type in SCRIPT_TYPES:
            name = "__kestra_script.py" if task_type in PYTHON_TYPES else "__kestra_script.sh"
            with open(os.path.join(workdir, name), "w", encoding="utf-8") as fh:
                fh.write(str(task.get("script", "")))
        env = dict(os.environ)
        env.pop("KESTRA_RUNNER_SPEC", None)
        env.update({str(k): as_text(v) for k, v in (task.get("env") or {}).items()})
        env["WORKING_DIR"] = workdir
        python_dir = os.path.dirname(python)
        if python_dir:
            env["PATH"] = python_dir + os.pathsep + env.get("PATH", "")
        script = shell_script(task, python, bool(spec.get("dependenciesInstalled")))
        timeout = spec.get("timeoutSeconds")
        code, variables, tail, timed_out = run_process(script, workdir, env, timeout)
        files = collect_outputs(task, workdir, spec, storage)
        doc: dict[str, Any] = {"vars": variables, "exitCode": code, "outputFiles": files}
        if timed_out:
            doc.update(state="FAILED", message=f"timed out after {timeout:g} s")
        elif code != 0:
            message = f"exited with code {code}"
            if tail:
                message += ":\n" + "\n".join(tail)
            doc.update(state="FAILED", message=message)
        else:
            doc["state"] = "SUCCESS"
        return doc
    except RunnerError as exc:
        return {"vars": {}, "exitCode": -1, "outputFiles": {}, "state": "FAILED", "message": str(exc)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str]) -> int:
    storage = Storage()
    try:
        spec = load_spec(argv)
    except (RunnerError, ValueError, OSError) as exc:
        print(f"kestra-runner: {exc}", file=sys.stderr)
        return 2
    doc = execute(spec, storage)
    try:
        storage.upload_json(spec["storage"]["bucket"], spec["outputsObject"], doc)
    except RunnerError as exc:
        print(f"kestra-runner: {exc}", file=sys.stderr)
        return 2
    if doc["state"] != "SUCCESS":
        print(f"kestra-runner: task '{spec['task'].get('id')}' {doc['message']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
