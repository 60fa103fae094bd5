"""A local HTTP server serving synthetic taxi months under the course's release URL paths.

`GET /<taxi>/<taxi>_tripdata_<yyyy>-<MM>.csv.gz` answers with the generated file (generated on first request,
then cached under `cache_dir`), streamed from disk with its Content-Length. Months outside the release
(2019-01 to 2021-07, as DataTalksClub/nyc-tlc-data) and any other path answer 404, like the real host.
A flow points at it by replacing only its base URL with `server.base_url`.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kestra_gcp.testdata.generator import MonthSpec, generate

_PATH = re.compile(r"^/(yellow|green)/(yellow|green)_tripdata_(\d{4})-(\d{2})\.csv\.gz$")
FIRST_MONTH = (2019, 1)
LAST_MONTH = (2021, 7)

RowsFor = Callable[[str, int, int], int]


class TaxiDataServer:
    """Serves generated taxi months on 127.0.0.1; use as a context manager or call start()/stop()."""

    def __init__(self, cache_dir: Path, rows: int | RowsFor = 10_000, seed: int = 1,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._rows: RowsFor = (lambda _t, _y, _m: rows) if isinstance(rows, int) else rows
        self.seed = seed
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.requests: list[str] = []
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The replacement for `https://github.com/DataTalksClub/nyc-tlc-data/releases/download/`."""
        return f"http://127.0.0.1:{self.port}/"

    def spec_for(self, taxi: str, year: int, month: int) -> MonthSpec:
        return MonthSpec(taxi, year, month, self._rows(taxi, year, month), self.seed)

    def file_for(self, spec: MonthSpec) -> Path:
        """The cached file of a month, generated now if missing (one generation per file at a time)."""
        path = self.cache_dir / f"rows{spec.rows}-seed{spec.seed}" / spec.file_name
        with self._locks_guard:
            lock = self._locks.setdefault(str(path), threading.Lock())
        with lock:
            if not path.exists():
                generate(spec, path)
        return path

    def start(self) -> TaxiDataServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="taxi-data", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> TaxiDataServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet: tests read .requests
                return

            def _resolve(self) -> Path | None:
                server.requests.append(self.path)
                match = _PATH.match(self.path.split("?", 1)[0])
                if not match or match.group(1) != match.group(2):
                    return None
                year, month = int(match.group(3)), int(match.group(4))
                if not (1 <= month <= 12 and FIRST_MONTH <= (year, month) <= LAST_MONTH):
                    return None
                return server.file_for(server.spec_for(match.group(1), year, month))

            def _not_found(self) -> None:
                body = b"Not Found"
                self.send_response(404)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _serve(self) -> None:
                path = self._resolve()
                if path is None:
                    self._not_found()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(path.stat().st_size))
                self.send_header("Content-Disposition", f'attachment; filename="{path.name}"')
                self.end_headers()
                if self.command == "HEAD":
                    return
                with path.open("rb") as src:
                    try:
                        shutil.copyfileobj(src, self.wfile, 1 << 20)
                    except (BrokenPipeError, ConnectionResetError):
                        return

            do_GET = _serve
            do_HEAD = _serve

        return Handler
