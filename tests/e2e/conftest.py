"""End-to-end fixtures: a working directory whose `.kestra-gcp/` holds the embedded services for the whole
session, a taxi data server on the course's release paths, and helpers that run the real `kestra-gcp` CLI.

Flows are copied from `flows/` with one change only: the base URL of their data (issue 6 item 5).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kestra_gcp.testdata import TaxiDataServer

REPO = Path(__file__).resolve().parents[2]
RELEASE_BASE = "https://github.com/DataTalksClub/nyc-tlc-data/releases/download/"
ROWS = {"green": 10_000, "yellow": 20_000}


def month_rows(taxi: str, _year: int, month: int) -> int:
    """Rows of a served month: small, and different per month so counts tell months apart."""
    return ROWS[taxi] + 100 * month


@dataclass
class Cli:
    """The `kestra-gcp` command run in the session's working directory."""

    cwd: Path
    data: TaxiDataServer

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kestra_gcp", *args], cwd=self.cwd, text=True, input=stdin,
                              capture_output=True, timeout=timeout, env={**os.environ, "COLUMNS": "200"})

    def flow(self, name: str) -> Path:
        """flows/<name>.yaml with its data base URL pointed at the local server (the only change)."""
        text = (REPO / "flows" / f"{name}.yaml").read_text()
        target = self.cwd / "flows" / f"{name}.yaml"
        target.parent.mkdir(exist_ok=True)
        target.write_text(text.replace(RELEASE_BASE, self.data.base_url))
        return target

    def run_json(self, flow: Path, *inputs: str) -> tuple[int, dict[str, Any], str]:
        args = ["run", str(flow), "--json"]
        for item in inputs:
            args += ["-i", item]
        proc = self(*args)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        result = json.loads(lines[-1]) if lines else {}
        return proc.returncode, result, proc.stderr

    def services(self) -> dict[str, dict[str, Any]]:
        proc = self("services", "status", "--json")
        assert proc.returncode == 0, proc.stderr
        return {s["name"]: s for s in json.loads(proc.stdout)}

    def pg(self) -> Any:
        import psycopg

        url = self.services()["postgres"]["url"]
        return psycopg.connect(f"{url}/ny_taxi", user="root", password="root", autocommit=True)


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    # Under /tmp and world-traversable: the embedded PostgreSQL runs as an unprivileged user.
    path = Path(tempfile.mkdtemp(prefix="kgcp-e2e-"))
    path.chmod(0o755)
    yield path
    subprocess.run([sys.executable, "-m", "kestra_gcp", "services", "stop"], cwd=path, capture_output=True,
                   timeout=120)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def taxi_data(workdir: Path) -> Iterator[TaxiDataServer]:
    with TaxiDataServer(workdir / "taxi-cache", rows=month_rows) as server:
        yield server


@pytest.fixture(scope="session")
def cli(workdir: Path, taxi_data: TaxiDataServer) -> Cli:
    return Cli(workdir, taxi_data)
