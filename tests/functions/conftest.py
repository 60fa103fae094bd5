"""Fixtures for function tests: `functions/` on sys.path, a fresh state bucket, `invoke` (real app)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kestra_gcp.local.services.gcs import GcsEmulator

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
if str(FUNCTIONS_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS_DIR))

Invoke = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture
def state_bucket(gcs_emulator: GcsEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new empty bucket named in KESTRA_GCP_BUCKET, with the storage client reset onto the emulator."""
    from kfn import storage

    storage.reset_client()
    name = f"state-{uuid.uuid4().hex[:12]}"
    storage.client().create_bucket(name)
    monkeypatch.setenv("KESTRA_GCP_BUCKET", name)
    yield name
    storage.reset_client()


def execution(**overrides: Any) -> dict[str, Any]:
    """An execution reference as the workflow sends it."""
    base = {"id": f"exec-{uuid.uuid4().hex[:8]}", "namespace": "zoomcamp", "flowId": "flow", "attempt": 1}
    base.update(overrides)
    return base


@pytest.fixture
def invoke() -> Invoke:
    """POST a body to a function through functions-framework's real app: (status, JSON body)."""
    from functions_framework import create_app

    apps: dict[str, Any] = {}

    def call(
        name: str,
        task: dict[str, Any] | None = None,
        exec_ref: dict[str, Any] | None = None,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        if name not in apps:
            apps[name] = create_app(name, str(FUNCTIONS_DIR / "main.py")).test_client()
        payload = body if body is not None else {"task": task, "execution": exec_ref or execution()}
        response = apps[name].post("/", json=payload, headers=headers or {})
        return response.status_code, response.get_json()

    return call
