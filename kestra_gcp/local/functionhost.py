"""Hosts every entry point of `functions/main.py` on one 127.0.0.1 port, one path prefix per function.

Each function gets its own functions-framework app (`create_app(target, source)`), exactly as Cloud Run
builds it; a small dispatcher routes `/<name>/...` to it with the prefix stripped. `FunctionHost` serves in a
thread of the current process; `FunctionHostProcess` runs it in a child process (`python -m
kestra_gcp.local.functionhost`) with its own environment, forwards the functions' structured log lines
(JSON on stderr) to a callback, and stops when the parent closes its stdin or exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Response

from kestra_gcp.errors import UserError

FUNCTION_NAMES = ("download", "gcs", "postgres", "bigquery", "duckdb", "kv", "purge", "trigger")


def functions_dir() -> Path:
    """The deployable `functions/` source directory (KESTRA_GCP_FUNCTIONS_DIR overrides)."""
    override = os.environ.get("KESTRA_GCP_FUNCTIONS_DIR")
    path = Path(override) if override else Path(__file__).resolve().parents[2] / "functions"
    if not (path / "main.py").is_file():
        raise UserError(f"functions source not found at {path} (set KESTRA_GCP_FUNCTIONS_DIR)")
    return path


class _Dispatcher:
    """WSGI app routing `/<name>/rest` to the app of function `name` with PATH_INFO `/rest`."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.apps = apps

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "") or "/"
        name, _, rest = path.lstrip("/").partition("/")
        app = self.apps.get(name)
        if app is None:
            body = Response('{"error": {"type": "NotFound", "message": "no such function"}}', status=404,
                            content_type="application/json")
            return body(environ, start_response)
        environ = dict(environ)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + "/" + name
        environ["PATH_INFO"] = "/" + rest
        return app(environ, start_response)


class FunctionHost:
    """`with FunctionHost(env) as host: host.url("download")`."""

    def __init__(self, env: dict[str, str], names: tuple[str, ...] = FUNCTION_NAMES,
                 source: Path | None = None, port: int = 0) -> None:
        self.env = dict(env)
        self.port = port
        self.names = names
        self.source = (source or functions_dir()) / "main.py"
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FunctionHost:
        import logging

        import functions_framework

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        os.environ.update(self.env)
        apps = {name: functions_framework.create_app(name, str(self.source)) for name in self.names}
        self._server = make_server("127.0.0.1", self.port, _Dispatcher(apps), threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="function-host", daemon=True)
        self._thread.start()
        return self

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("function host not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def workflow_env(self) -> dict[str, str]:
        """`KESTRA_GCP_FN_<NAME>` for every hosted function, as docs/contracts.md names them."""
        return {f"KESTRA_GCP_FN_{name.upper()}": self.url(name) for name in self.names}

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FunctionHost:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class FunctionHostProcess:
    """The function host in a child process; `on_log(entry)` receives each JSON log line it writes."""

    def __init__(self, env: dict[str, str], on_log: Callable[[dict[str, Any]], None] | None = None,
                 log_path: Path | None = None) -> None:
        self.env = env
        self.on_log = on_log
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 60.0) -> FunctionHostProcess:
        child_env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kestra_gcp.local.functionhost"], env=child_env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self._reader = threading.Thread(target=self._pump, args=(self.process.stderr,), daemon=True)
        self._reader.start()
        ready: list[str] = []
        waiter = threading.Thread(target=lambda: ready.append(self.process.stdout.readline()),  # type: ignore[union-attr]
                                  daemon=True)
        waiter.start()
        waiter.join(timeout)
        line = ready[0].strip() if ready else ""
        if not line.startswith("http://"):
            self.stop()
            raise UserError(f"the local function host did not start: {line or 'no answer in time'}"
                            + (f" (see {self.log_path})" if self.log_path else ""))
        self.base_url = line
        return self

    def _pump(self, stream: IO[str]) -> None:
        log_file = self.log_path.open("a") if self.log_path else None
        try:
            for line in stream:
                if log_file is not None:
                    log_file.write(line)
                    log_file.flush()
                if self.on_log is None:
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    entry = {"severity": "DEFAULT", "message": line.rstrip("\n")}
                if isinstance(entry, dict):
                    self.on_log(entry)
        finally:
            if log_file is not None:
                log_file.close()

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def workflow_env(self, names: tuple[str, ...] = FUNCTION_NAMES) -> dict[str, str]:
        return {f"KESTRA_GCP_FN_{name.upper()}": self.url(name) for name in names}

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        self.process = None

    def __enter__(self) -> FunctionHostProcess:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _main() -> int:
    """Child process: serve all functions, print the base URL, stop when stdin closes."""
    host = FunctionHost({})
    try:
        host.start()
    except Exception as exc:  # reported to the parent on stdout as the first line
        print(f"{type(exc).__name__}: {exc}", flush=True)
        return 1
    print(host.base_url, flush=True)
    sys.stdin.read()  # returns at EOF: the parent stopped us or died
    # Every request has been answered by then (each is complete or failed in the parent): leave at once,
    # without the slow interpreter teardown of the client libraries' threads.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(_main())
