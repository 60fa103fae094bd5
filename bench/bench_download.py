"""Benchmark: the download function vs `curl -s URL | gunzip | <plain google-cloud-storage upload of stdin>`.

Both move the same gzipped taxi CSV (default ~1 GB uncompressed) from a loopback HTTP server into the same
fake-gcs-server. Reports throughput (uncompressed MB/s) of each, their ratio, the function process's peak
RSS (VmHWM), and the cold import time of functions/main.py. Run: `.venv/bin/python bench/bench_download.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
PY = sys.executable
UPLOAD_STDIN = (
    "import shutil, sys; from google.cloud import storage; "
    'w = storage.Client().bucket(sys.argv[1]).blob(sys.argv[2]).open("wb"); '
    "shutil.copyfileobj(sys.stdin.buffer, w, 1 << 20); w.close()"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _tree(pid: int) -> list[int]:
    """The process and its descendants (functions-framework serves from gunicorn worker processes)."""
    import psutil

    root = psutil.Process(pid)
    return [root.pid, *(child.pid for child in root.children(recursive=True))]


def peak_rss_mb(pid: int) -> float:
    """The largest VmHWM (peak resident set) among the function's processes."""
    peaks = [0.0]
    for member in _tree(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks)


def reset_peak(pid: int) -> None:
    for member in _tree(pid):
        Path(f"/proc/{member}/clear_refs").write_text("5")


def cold_import_seconds(runs: int = 5) -> float:
    code = "import time; t = time.perf_counter(); import main; print(time.perf_counter() - t)"
    times = [
        float(subprocess.run([PY, "-c", code], cwd=FUNCTIONS, capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000, help="taxi rows (~100 bytes each)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "kestra-gcp-bench")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from kestra_gcp.local.services import gcs
    from kestra_gcp.testdata import MonthSpec, generate

    data_dir = args.cache / "http"
    source = data_dir / f"yellow_{args.rows}.csv.gz"
    if not source.exists():
        print(f"generating {source} ...", file=sys.stderr)
        generate(MonthSpec("yellow", 2019, 1, args.rows), source)
    work = Path(tempfile.mkdtemp(prefix="bench-download-"))
    emulator = gcs.start(work / "gcs", reuse=False)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        env = {
            **os.environ,
            "STORAGE_EMULATOR_HOST": emulator.url,
            "KESTRA_GCP_BUCKET": "bench",
            "KESTRA_GCP_DOWNLOAD_ALLOW": "127.0.0.0/8",
            "PYTHONPATH": str(FUNCTIONS),
        }
        requests.post(f"{emulator.url}/storage/v1/b", json={"name": "bench"}, timeout=10).raise_for_status()
        http_port, fn_port = free_port(), free_port()
        procs.append(
            subprocess.Popen(
                [PY, "-m", "http.server", str(http_port), "--bind", "127.0.0.1", "--directory", str(data_dir)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        function = subprocess.Popen(
            [
                PY,
                "-m",
                "functions_framework",
                "--target",
                "download",
                "--source",
                str(FUNCTIONS / "main.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(fn_port),
            ],
            env=env,
            cwd=FUNCTIONS,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(function)
        url = f"http://127.0.0.1:{http_port}/{source.name}"
        wait_http(url)
        wait_http(f"http://127.0.0.1:{fn_port}/")

        fn_times, base_times, fn_rss = [], [], []
        size = 0
        for run in range(args.runs):
            reset_peak(function.pid)
            body = {
                "task": {
                    "id": "extract",
                    "type": "io.kestra.plugin.scripts.shell.Commands",
                    "uri": url,
                    "gunzip": True,
                    "outputFile": "yellow.csv",
                },
                "execution": {"id": f"run{run}", "namespace": "bench", "flowId": "download"},
            }
            started = time.perf_counter()
            response = requests.post(f"http://127.0.0.1:{fn_port}/", json=body, timeout=3600)
            fn_times.append(time.perf_counter() - started)
            response.raise_for_status()
            size = response.json()["outputs"]["length"]
            fn_rss.append(peak_rss_mb(function.pid))

            started = time.perf_counter()
            subprocess.run(
                f"curl -s {url} | gunzip | {PY} -c '{UPLOAD_STDIN}' bench baseline/run{run}.csv",
                shell=True,
                check=True,
                env=env,
            )
            base_times.append(time.perf_counter() - started)
        stored = requests.get(f"{emulator.url}/storage/v1/b/bench/o/baseline%2Frun0.csv", timeout=10).json()
        assert int(stored["size"]) == size, (stored["size"], size)

        mb = size / 1e6
        fn_best, base_best = min(fn_times), min(base_times)
        result = {
            "uncompressed_mb": round(mb, 1),
            "compressed_mb": round(source.stat().st_size / 1e6, 1),
            "function_mb_per_s": round(mb / fn_best, 1),
            "baseline_mb_per_s": round(mb / base_best, 1),
            "throughput_ratio": round(base_best / fn_best, 3),
            "function_seconds": [round(t, 2) for t in fn_times],
            "baseline_seconds": [round(t, 2) for t in base_times],
            "function_peak_rss_mb": round(max(fn_rss), 1),
            "cold_import_main_s": round(cold_import_seconds(), 3),
        }
        print(json.dumps(result, indent=2))
        return 0
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        emulator.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
