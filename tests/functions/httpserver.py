"""A real local HTTP server for function tests: routes map a path to a handler writing the response."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free 127.0.0.1 port in a thread; yields the base URL; stops and joins on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def serve(routes: dict[str, Route]) -> Iterator[str]:
    """Serve `routes` (keyed by path without query) on 127.0.0.1:<free port>; yield the base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _dispatch(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                self.send_response(404)
                self.send_header("Content-Length", "9")
                self.end_headers()
                self.wfile.write(b"not found")
                return
            route(self)

        do_GET = _dispatch
        do_POST = _dispatch

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url


def body(
    data: bytes,
    content_type: str = "application/octet-stream",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Route:
    """A route answering with a fixed body."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)

    return route


def redirect(location: str) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


@contextmanager
def refusing_proxy(upstream: str, refuse: Callable[[str, str], bool]) -> Iterator[str]:
    """A real forwarding proxy to `upstream`; requests for which refuse(method, path) holds get 403, as
    GCP answers a caller lacking the permission (e.g. bucket or dataset creation under least privilege)."""
    import urllib.error
    import urllib.request

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(length) if length else None
            if refuse(self.command, self.path.split("?", 1)[0]):
                status, payload, headers = 403, b'{"error": {"code": 403, "message": "Permission denied"}}', {}
            else:
                forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                request = urllib.request.Request(upstream + self.path, data=data, method=self.command,
                                                 headers=forwarded)
                try:
                    with urllib.request.urlopen(request) as response:
                        status, payload, headers = response.status, response.read(), dict(response.headers)
                except urllib.error.HTTPError as exc:
                    status, payload, headers = exc.code, exc.read(), dict(exc.headers)
            self.send_response(status)
            hop = ("content-length", "content-type", "transfer-encoding", "connection", "date", "server")
            for key, value in headers.items():
                if key.lower() not in hop:
                    self.send_header(key, value)
            self.send_header("Content-Type", headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url
