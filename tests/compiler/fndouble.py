"""A test double of the function contract: a tiny local HTTP server answering `{"task", "execution"}` posts.

It is not the product's functions: it records requests and answers from a script of responses per task id,
so tests can check what a compiled workflow sends and how it reacts to 4xx/5xx answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FunctionDouble:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    # task id -> list of (status, body) answered in order (the last one repeats)
    script: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    # the KV store as "namespace/key" -> value; None: every key holds "value-of-<key>"
    kv: dict[str, Any] | None = None

    def env(self) -> dict[str, str]:
        names = ("DOWNLOAD", "GCS", "POSTGRES", "BIGQUERY", "DUCKDB", "KV", "PURGE", "TRIGGER")
        return {f"KESTRA_GCP_FN_{n}": f"{self.url}/{n.lower()}" for n in names}

    def answer(self, function: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.requests.append({"function": function, **payload})
        task = payload.get("task", {})
        queue = self.script.get(task.get("id", ""))
        if queue:
            return queue.pop(0) if len(queue) > 1 else queue[0]
        if task.get("type", "").endswith("kv.Set") and self.kv is not None:
            self.kv[f"{task['namespace']}/{task['key']}"] = task["value"]
            return 200, {"outputs": {}}
        if task.get("type", "").endswith("kv.Get") and "keys" in task:
            return self._kv_keys(task["keys"])
        if task.get("type", "").endswith("kv.Get"):
            return 200, {"outputs": {"value": f"value-of-{task.get('key')}"}}
        if function == "download":
            name = task.get("saveAs") or "file"
            return 200, {"outputs": {"uri": f"gs://bucket/executions/{task['id']}/{name}", "code": 200}}
        return 200, {"outputs": {"echo": task}}

    def _kv_keys(self, keys: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        """The contract's batch Get: missing keys are null, or 404 when errorOnMissing is not false."""
        values: dict[str, dict[str, Any]] = {}
        for item in keys:
            ns, key = item["namespace"], item["key"]
            if self.kv is None:
                value = f"value-of-{key}"
            elif f"{ns}/{key}" in self.kv:
                value = self.kv[f"{ns}/{key}"]
            elif item.get("errorOnMissing", True) is not False:
                return 404, {"error": {"type": "NotFound", "message": f"kv: key '{key}' not found in namespace '{ns}'"}}
            else:
                value = None
            values.setdefault(ns, {})[key] = value
        return 200, {"outputs": {"values": values}}


@contextmanager
def function_double() -> Iterator[FunctionDouble]:
    double = FunctionDouble()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = json.loads(self.rfile.read(length) or b"{}")
            status, body = double.answer(self.path.strip("/"), payload)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    double.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
