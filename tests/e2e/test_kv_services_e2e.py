"""`kestra-gcp kv` and `services` against the real emulator under a fresh `.kestra-gcp/`."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kestra_gcp", *args], cwd=cwd, text=True, capture_output=True,
                          timeout=120)


def test_kv_set_get_list_then_services_stop() -> None:
    cwd = Path(tempfile.mkdtemp(prefix="kgcp-kv-"))
    try:
        assert _cli(cwd, "kv", "set", "zoomcamp", "GCP_DATASET", "zoomcamp").returncode == 0
        assert _cli(cwd, "kv", "set", "zoomcamp", "LIMIT", "42", "--type", "NUMBER").returncode == 0
        assert _cli(cwd, "kv", "get", "zoomcamp", "GCP_DATASET").stdout == "zoomcamp\n"
        assert _cli(cwd, "kv", "get", "zoomcamp", "LIMIT").stdout == "42\n"
        assert _cli(cwd, "kv", "list", "zoomcamp").stdout.splitlines() == ["GCP_DATASET\tSTRING", "LIMIT\tNUMBER"]
        missing = _cli(cwd, "kv", "get", "zoomcamp", "NOPE")
        assert missing.returncode == 1 and "no key 'NOPE'" in missing.stderr
        bad = _cli(cwd, "kv", "set", "zoomcamp", "N", "abc", "--type", "NUMBER")
        assert bad.returncode == 1 and "'abc' is not a NUMBER" in bad.stderr
        # the object has the layout the kv function reads
        status = {s["name"]: s for s in json.loads(_cli(cwd, "services", "status", "--json").stdout)}
        assert status["gcs"]["running"] and not status["postgres"]["running"]
        obj = next((cwd / ".kestra-gcp/services/gcs/storage").rglob("LIMIT"))
        assert json.loads(obj.read_text()) == {"value": 42, "type": "NUMBER", "expiresAt": None}
    finally:
        stop = _cli(cwd, "services", "stop")
        assert "gcs" in stop.stderr
        status = {s["name"]: s for s in json.loads(_cli(cwd, "services", "status", "--json").stdout)}
        assert not any(s["running"] for s in status.values())
