"""Fixtures for the engine tests: a real local HTTP server speaking JSON, used by http.* and retry cases,
and a test double of the function contract (docs/contracts.md) for compiled flows."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest


class _State:
    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self.requests: list[dict[str, Any]] = []
        self.kv: dict[str, Any] = {}
        self.fail_tasks: set[str] = set()
        self.lock = threading.Lock()

    def bump(self, key: str) -> int:
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + 1
            return self.counters[key]


class _Handler(BaseHTTPRequestHandler):
    state: _State

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(
        self, code: int, body: Any, ctype: str = "application/json", headers: dict[str, str] | None = None
    ) -> None:
        if isinstance(body, bytes):
            raw = body
        elif ctype == "application/json":
            raw = json.dumps(body).encode()
        else:
            raw = str(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def _handle(self) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        record = {
            "method": self.command,
            "path": url.path,
            "query": query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": raw.decode("utf-8", errors="replace"),
        }
        self.state.requests.append(record)
        if parts[:1] == ["echo"]:
            self._send(200, record)
        elif parts[:1] == ["status"]:
            code = int(parts[1])
            self._send(code, {"error": {"message": f"status {code}"}})
        elif parts[:1] == ["flaky"]:
            # /flaky/<key>/<failures>/<code>: fail <failures> times with <code>, then succeed.
            key, failures, code = parts[1], int(parts[2]), int(parts[3])
            n = self.state.bump(key)
            if n <= failures:
                self._send(code, {"attempt": n})
            else:
                self._send(200, {"attempt": n})
        elif parts[:1] == ["slow"]:
            time.sleep(float(parts[1]))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client timed out
                self._send(200, {"slow": True})
        elif parts[:1] == ["text"]:
            self._send(200, "hello text", ctype="text/plain")
        elif parts[:1] == ["bytes"]:
            self._send(200, b"\x00\x01\x02", ctype="application/octet-stream")
        elif parts[:1] == ["big"]:
            self._send(200, b"x" * (3 * 1024 * 1024), ctype="application/octet-stream")
        elif parts[:1] == ["fn"]:
            self._function(parts[1] if len(parts) > 1 else "", raw)
        else:
            self._send(404, {"error": "no route"})

    def _function(self, name: str, raw: bytes) -> None:
        """A test double of the function contract: echoes the task as outputs, fails on demand."""
        if self.headers.get("Authorization", "") == "":
            self._send(401, {"error": {"type": "BadRequest", "message": f"{name}: missing bearer token"}})
            return
        req = json.loads(raw or b"{}")
        task = req.get("task", {})
        if task.get("id") in self.state.fail_tasks:
            self._send(400, {"error": {"type": "TaskError", "message": f"{name}: task {task['id']} failed on purpose"}})
            return
        ttype = str(task.get("type", ""))
        flow_namespace = req.get("execution", {}).get("namespace")
        namespace = task.get("namespace") or flow_namespace
        if name == "kv" and ttype.endswith("kv.Set"):
            self.state.kv[f"{namespace}/{task['key']}"] = task.get("value")
            self._send(200, {"outputs": {}})
            return
        if name == "kv" and ttype.endswith("kv.Get") and "keys" in task:
            self._kv_keys(task["keys"], flow_namespace)
            return
        if name == "kv" and ttype.endswith("kv.Get"):
            key = f"{namespace}/{task['key']}"
            if key not in self.state.kv and task.get("errorOnMissing"):
                self._send(404, {"error": {"type": "NotFound", "message": f"kv: key {task['key']} not found"}})
                return
            self._send(200, {"outputs": {"value": self.state.kv.get(key)}})
            return
        self._send(
            200, {"outputs": {"function": name, "taskId": task.get("id"), "uri": f"gs://b/{task.get('id')}", "rows": 3}}
        )

    def _kv_keys(self, keys: list[dict[str, Any]], flow_namespace: str | None) -> None:
        """The contract's batch Get: `{values: {namespace: {key: value}}}`; a missing key is null, or 404
        unless its errorOnMissing is false."""
        values: dict[str, dict[str, Any]] = {}
        for item in keys:
            ns = item.get("namespace") or flow_namespace
            stored = f"{ns}/{item['key']}"
            if stored not in self.state.kv and item.get("errorOnMissing", True) is not False:
                self._send(404, {"error": {"type": "NotFound", "message": f"kv: key {item['key']} not found"}})
                return
            values.setdefault(str(ns), {})[item["key"]] = self.state.kv.get(stored)
        self._send(200, {"outputs": {"values": values}})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


@pytest.fixture(scope="session")
def http_server() -> Iterator[tuple[str, _State]]:
    state = _State()
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
