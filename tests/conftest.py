"""Shared pytest fixtures: a session-wide GCS emulator (fake-gcs-server) for every test that needs storage."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from kestra_gcp.local.services import gcs


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[gcs.GcsEmulator]:
    """One fake-gcs-server for the session; STORAGE_EMULATOR_HOST points at it while it runs."""
    emulator = gcs.start(tmp_path_factory.mktemp("gcs"), reuse=False)
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = emulator.url
    try:
        yield emulator
    finally:
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous
        emulator.stop()
