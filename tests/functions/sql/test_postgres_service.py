"""The embedded PostgreSQL service: init once, reuse a running server, stop/restart, roles and databases."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from kestra_gcp.local.services.postgres import EmbeddedPostgres, PostgresServiceError, read_postmaster


def test_ensure_database_is_idempotent_and_sets_the_password(postgres_server: EmbeddedPostgres) -> None:
    url = postgres_server.ensure_database("svc_db", "svc_user", "first")
    assert postgres_server.ensure_database("svc_db", "svc_user", "second").endswith("/svc_db")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(url, connect_timeout=5).close()
    with psycopg.connect(postgres_server.url("svc_db", "svc_user", "second")) as conn:
        conn.execute("CREATE TABLE mine (a int)")  # the owner may create tables in public
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("svc_user", "svc_db")


def test_superuser_needs_its_password(postgres_server: EmbeddedPostgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres_server.url("postgres", "postgres", "guess"), connect_timeout=5).close()


def test_lifecycle_reuse_stop_restart() -> None:
    root = Path(tempfile.mkdtemp(prefix="kgcp-pg-life-"))
    root.chmod(0o711)
    try:
        first = EmbeddedPostgres(root / "data").start()
        info = read_postmaster(first.data_dir)
        assert info is not None and info.port == first.port
        if os.geteuid() == 0:  # never runs as root
            assert (first.data_dir / "PG_VERSION").stat().st_uid != 0
        second = EmbeddedPostgres(root / "data").start()  # another handle reuses the running server
        assert second.port == first.port
        assert read_postmaster(first.data_dir) == info
        second.stop()
        assert not first.is_running()
        first.start()  # data survives a restart
        assert first.is_running() and first.initialised
        first.stop()
        first.stop()  # stopping twice is harmless
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_unusable_data_dirs_are_clear_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "file.txt").write_text("x")
    with pytest.raises(PostgresServiceError, match="is not empty and is not a PostgreSQL data dir"):
        EmbeddedPostgres(junk).start()
    if os.geteuid() == 0:
        private = Path(tempfile.mkdtemp(prefix="kgcp-pg-private-"))  # mode 0700, owned by root
        try:
            with pytest.raises(PostgresServiceError, match="cannot reach"):
                EmbeddedPostgres(private / "data").start()
            assert not (private / "data").exists()
        finally:
            shutil.rmtree(private, ignore_errors=True)
