"""The Executions API facade: a REST subset of workflowexecutions v1 on 127.0.0.1 (create, get, list with a
state filter, cancel), shaped so the official `google-cloud-workflows` ExecutionsClient (REST transport) works.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from kestra_gcp.engine.engine import Engine
from kestra_gcp.engine.errors import DeployError, WorkflowError
from kestra_gcp.engine.values import from_json

_PARENT = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/workflows/([^/]+)/executions$")
_NAME = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/workflows/([^/]+)/executions/([^/:]+)(:cancel)?$")
_STATE_TERM = re.compile(r'^\s*\(?\s*state\s*=\s*"?([A-Z_]+)"?\s*\)?\s*$')
_STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 500: "INTERNAL"}


class _ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _view(resource: dict[str, Any], view: str | None) -> dict[str, Any]:
    if view == "BASIC":
        return {k: v for k, v in resource.items() if k not in ("argument", "result", "error")}
    return resource


class ExecutionsApi:
    """Routes requests to an Engine; `serve()` runs it on 127.0.0.1."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes) -> dict[str, Any]:
        m = _PARENT.match(path)
        if m:
            workflow = m.group(3)
            self._known(workflow)
            if method == "POST":
                return self._create(workflow, body)
            if method == "GET":
                return self._list(workflow, query)
            raise _ApiError(405, f"{method} not allowed on {path}")
        m = _NAME.match(path)
        if m:
            workflow, eid, cancel = m.group(3), m.group(4), m.group(5)
            ex = self._execution(workflow, eid)
            if cancel:
                if method != "POST":
                    raise _ApiError(405, "cancel needs POST")
                self.engine.cancel(eid)
                self.engine.wait(eid, 10)
                return ex.to_resource()
            if method != "GET":
                raise _ApiError(405, f"{method} not allowed on {path}")
            return _view(ex.to_resource(), query.get("view"))
        raise _ApiError(404, f"no such resource: {path}")

    def _known(self, workflow: str) -> None:
        if workflow not in self.engine.programs:
            raise _ApiError(404, f"workflow {workflow} not found")

    def _execution(self, workflow: str, eid: str) -> Any:
        self._known(workflow)
        try:
            ex = self.engine.get(eid)
        except KeyError:
            raise _ApiError(404, f"execution {eid} not found") from None
        if ex.workflow_id != workflow:
            raise _ApiError(404, f"execution {eid} not found in workflow {workflow}")
        return ex

    def _create(self, workflow: str, body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            raise _ApiError(400, f"request body is not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise _ApiError(400, "request body must be an Execution object")
        raw = payload.get("argument")
        argument = None
        if raw not in (None, ""):
            if not isinstance(raw, str):
                raise _ApiError(400, "argument must be a JSON-encoded string")
            try:
                argument = from_json(raw)
            except WorkflowError as exc:
                raise _ApiError(400, f"argument: {exc.message}") from None
        labels = payload.get("labels") or {}
        try:
            eid = self.engine.start(workflow, argument, labels)
        except DeployError as exc:
            raise _ApiError(400, str(exc)) from None
        return self.engine.get(eid).to_resource()

    def _list(self, workflow: str, query: dict[str, str]) -> dict[str, Any]:
        states: set[str] | None = None
        flt = query.get("filter")
        if flt:
            states = set()
            for term in re.split(r"\s+OR\s+", flt.strip()):
                m = _STATE_TERM.match(term)
                if not m:
                    raise _ApiError(400, f'unsupported filter {flt!r} (only state="STATE" joined by OR)')
                states.add(m.group(1))
        items = [e for e in self.engine.list(workflow) if states is None or e.state in states]
        items.sort(key=lambda e: e.start_time, reverse=True)
        size = int(query.get("pageSize") or 0) or 100
        start = int(query.get("pageToken") or 0)
        page = items[start : start + size]
        out: dict[str, Any] = {"executions": [_view(e.to_resource(), query.get("view") or "BASIC") for e in page]}
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        return out

    def serve(self, port: int = 0) -> ThreadingHTTPServer:
        """Start serving on 127.0.0.1:port in a daemon thread; returns the server (`server_address[1]`)."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, code: int, payload: dict[str, Any]) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _route(self) -> None:
                url = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    self._reply(200, api.handle(self.command, url.path, query, body))
                except _ApiError as exc:
                    self._reply(
                        exc.code,
                        {
                            "error": {
                                "code": exc.code,
                                "message": exc.message,
                                "status": _STATUS.get(exc.code, "UNKNOWN"),
                            }
                        },
                    )

            do_GET = do_POST = do_DELETE = do_PATCH = _route

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="executions-api", daemon=True).start()
        return server
