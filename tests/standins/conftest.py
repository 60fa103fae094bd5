"""Fixtures for the stand-in tests: a BigQuery stand-in per session, real google-cloud-bigquery and
google-cloud-storage clients (the GCS emulator is the shared `gcs_emulator` fixture)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, storage

from kestra_gcp.standins.bigquery import BigQueryStandin

PROJECT = "test-project"


@pytest.fixture(scope="session")
def bq_standin(tmp_path_factory: pytest.TempPathFactory, gcs_emulator: object) -> Iterator[BigQueryStandin]:
    standin = BigQueryStandin(tmp_path_factory.mktemp("bigquery")).start()
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
def bq(bq_standin: BigQueryStandin) -> bigquery.Client:
    return bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),
                           client_options={"api_endpoint": bq_standin.url})


@pytest.fixture(scope="session")
def gcs(gcs_emulator: object) -> storage.Client:
    return storage.Client(project=PROJECT, credentials=AnonymousCredentials())


@pytest.fixture()
def dataset(bq: bigquery.Client) -> Iterator[str]:
    """A fresh dataset, deleted with its contents afterwards."""
    name = f"ds_{uuid.uuid4().hex[:10]}"
    bq.create_dataset(name)
    yield name
    bq.delete_dataset(name, delete_contents=True, not_found_ok=True)


@pytest.fixture()
def bucket(gcs: storage.Client) -> storage.Bucket:
    return gcs.create_bucket(f"b-{uuid.uuid4().hex[:12]}")


def data_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path
