"""The stand-in as a server: `BigQueryStandin` runs it in a background thread (tests, the local engine) and
`serve()` runs it in the foreground (`python -m kestra_gcp.standins.bigquery`)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from .api import create_app
from .executor import Executor
from .gcs_objects import ObjectCache
from .jobs import JobService
from .transfers import Transfers
from .uploads import Uploads
from .warehouse import Warehouse


class BigQueryStandin:
    """A BigQuery v2 REST server backed by DuckDB files in `data_dir` (one per project).

    Point the client at `.url`: `bigquery.Client(project=..., credentials=AnonymousCredentials(),
    client_options={"api_endpoint": standin.url})`."""

    def __init__(self, data_dir: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.data_dir = Path(data_dir)
        self.warehouse = Warehouse(self.data_dir)
        objects = ObjectCache(self.data_dir / "_objects")
        self.jobs = JobService(Executor(self.warehouse, objects), Transfers(self.warehouse, objects))
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        app = create_app(self.warehouse, self.jobs, Uploads(self.data_dir / "_uploads"))
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.server_port}"

    def start(self) -> BigQueryStandin:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="bigquery-standin", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving, finish the running job, close the DuckDB files."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.jobs.close()
        self.warehouse.close()

    def __enter__(self) -> BigQueryStandin:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def serve(host: str, port: int, data_dir: str | Path) -> None:
    """Run the stand-in in the foreground until interrupted."""
    standin = BigQueryStandin(data_dir, host, port)
    print(f"BigQuery stand-in listening on {standin.url} (data in {standin.data_dir})", flush=True)
    try:
        standin.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        standin.jobs.close()
        standin.warehouse.close()
