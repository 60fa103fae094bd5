"""The local BigQuery: the DuckDB stand-in (`kestra_gcp.standins.bigquery`) in a background process.

`start(data_dir, env)` launches `python -m kestra_gcp.local.services.bigquery --port P --data-dir D`,
records `data_dir/bigquery.json` (pid, port, url, the GCS emulator it reads external tables from) and reuses
a live server recorded there when it was started against the same GCS emulator. Clients reach it through
`KESTRA_GCP_BIGQUERY_ENDPOINT=<url>` (google-cloud-bigquery `client_options.api_endpoint`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kestra_gcp.errors import UserError
from kestra_gcp.local import procs

RECORD = "bigquery.json"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    return procs.alive(pid)


def _ready(url: str) -> bool:
    """Any HTTP answer from the REST root means the server is up."""
    try:
        with urllib.request.urlopen(f"{url}/bigquery/v2/projects/ping/datasets", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class BigQueryService:
    """A running stand-in; `owned` is False when reused from an earlier start."""

    url: str
    port: int
    pid: int
    data_dir: Path
    owned: bool

    @property
    def env(self) -> dict[str, str]:
        return {"KESTRA_GCP_BIGQUERY_ENDPOINT": self.url}

    def stop(self, timeout: float = 10.0) -> None:
        procs.terminate(self.pid, timeout=timeout)
        (self.data_dir / RECORD).unlink(missing_ok=True)


def recorded(data_dir: Path) -> tuple[BigQueryService, dict[str, str]] | None:
    """The live server recorded in `data_dir` with the record itself, or None."""
    try:
        info = json.loads((data_dir / RECORD).read_text())
        pid, port, url = int(info["pid"]), int(info["port"]), str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid):
        (data_dir / RECORD).unlink(missing_ok=True)
        return None
    return BigQueryService(url=url, port=port, pid=pid, data_dir=data_dir, owned=False), info


def start(data_dir: Path, env: dict[str, str], host: str = "127.0.0.1",
          timeout: float = 30.0) -> BigQueryService:
    """Start (or reuse) the stand-in serving `data_dir`; `env` carries STORAGE_EMULATOR_HOST."""
    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    found = recorded(root)
    if found is not None:
        service, info = found
        if info.get("storage") == env.get("STORAGE_EMULATOR_HOST", "") and _ready(service.url):
            return service
        service.stop()
    port = _free_port(host)
    url = f"http://{host}:{port}"
    with (root / "bigquery.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kestra_gcp.local.services.bigquery", "--host", host, "--port", str(port),
             "--data-dir", str(root / "data")],
            env={**os.environ, **env}, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if _ready(url):
            record = {"pid": process.pid, "port": port, "url": url,
                      "storage": env.get("STORAGE_EMULATOR_HOST", "")}
            (root / RECORD).write_text(json.dumps(record))
            return BigQueryService(url=url, port=port, pid=process.pid, data_dir=root, owned=True)
        time.sleep(0.1)
    if process.poll() is None:
        process.kill()
        process.wait()
    raise UserError(f"BigQuery stand-in failed to start; see {root / 'bigquery.log'}")


def _main() -> int:
    parser = argparse.ArgumentParser(prog="python -m kestra_gcp.local.services.bigquery")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    import threading

    from kestra_gcp.standins.bigquery.server import BigQueryStandin

    args.data_dir.mkdir(parents=True, exist_ok=True)
    standin = BigQueryStandin(args.data_dir, args.host, args.port)
    # SIGTERM: stop serving from another thread, then close the DuckDB files cleanly
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=standin._server.shutdown).start())
    standin.serve_forever()
    standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
