"""The local GCS emulator service: start, reuse of a live server, persistence in the data dir, stop."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import requests

from kestra_gcp.errors import UserError
from kestra_gcp.local.services import gcs


def test_start_reuse_persist_stop(tmp_path: Path) -> None:
    first = gcs.start(tmp_path)
    try:
        assert first.owned
        requests.post(f"{first.url}/storage/v1/b", json={"name": "kept"}, timeout=5).raise_for_status()
        again = gcs.start(tmp_path)
        assert (again.owned, again.port, again.pid) == (False, first.port, first.pid)
    finally:
        first.stop()
    assert not (tmp_path / "emulator.json").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(first.pid, 0)
    second = gcs.start(tmp_path)
    try:
        assert second.owned
        names = [b["name"] for b in requests.get(f"{second.url}/storage/v1/b", timeout=5).json()["items"]]
        assert names == ["kept"]
    finally:
        second.stop()


def test_stale_state_file_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "emulator.json").write_text('{"pid": 999999, "port": 1}')
    emulator = gcs.start(tmp_path)
    try:
        assert emulator.owned and emulator.port != 1
    finally:
        emulator.stop()


def test_busy_fixed_port_is_a_user_error(tmp_path: Path, gcs_emulator: gcs.GcsEmulator) -> None:
    with pytest.raises(UserError, match="GCS emulator \\(fake-gcs-server\\) failed to start"):
        gcs.start(tmp_path, port=gcs_emulator.port, reuse=False, timeout=3)


def test_stopping_a_reused_server_does_not_wait_on_its_zombie(tmp_path: Path) -> None:
    """The server exits on SIGTERM but nobody reaps it yet (as under a PID 1 that does not reap): a zombie is
    not a live server, so stop returns at once instead of waiting out its timeout."""
    first = gcs.start(tmp_path)
    try:
        reused = gcs.start(tmp_path)
        assert not reused.owned
        began = time.monotonic()
        reused.stop(timeout=10.0)
        assert time.monotonic() - began < 3.0
        assert not (tmp_path / "emulator.json").exists()
    finally:
        first.stop()
