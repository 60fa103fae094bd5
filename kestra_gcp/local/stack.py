"""The embedded services a local run needs, started on demand and reused across runs.

`ensure(state, needs)` starts (or reuses) the GCS emulator (always: execution storage and KV), the embedded
PostgreSQL (when a flow's JDBC URL is not mapped to a real server) and the BigQuery stand-in, each with its
data dir under `.kestra-gcp/services/<name>/`, and returns a `LocalStack` that knows the environment the
functions and the workflows get. `status(state)` and `stop(state)` serve `kestra-gcp services`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kestra_gcp.local import procs
from kestra_gcp.local.state import LocalConfig, StateDir

LOOPBACK_ALLOW = "127.0.0.0/8,::1/128"


@dataclass
class ServiceStatus:
    """One line of `kestra-gcp services status`."""

    name: str
    running: bool
    pid: int | None
    url: str
    data_dir: Path


@dataclass
class LocalStack:
    """The services of one `.kestra-gcp/` and the environment derived from them."""

    state: StateDir
    config: LocalConfig
    gcs_url: str = ""
    bigquery_url: str = ""
    postgres: Any = None  # kestra_gcp.local.services.postgres.EmbeddedPostgres when started
    connections: dict[str, str] = field(default_factory=dict)

    def function_env(self) -> dict[str, str]:
        """Environment of the functions (docs/contracts.md, "Function environment")."""
        env = {
            "KESTRA_GCP_BUCKET": self.config.bucket,
            "GOOGLE_CLOUD_PROJECT": self.config.project,
            "KESTRA_GCP_REGION": self.config.region,
            "KESTRA_GCP_PG_CONNECTIONS": json.dumps(self.connections, sort_keys=True),
            "KESTRA_GCP_DOWNLOAD_ALLOW": LOOPBACK_ALLOW,
            "KESTRA_GCP_SECRETS_FILE": str(self.state.secrets_path),
        }
        if self.gcs_url:
            env["STORAGE_EMULATOR_HOST"] = self.gcs_url
        if self.bigquery_url:
            env["KESTRA_GCP_BIGQUERY_ENDPOINT"] = self.bigquery_url
        return env

    def storage_client(self) -> Any:
        """A google-cloud-storage client on the emulator (anonymous)."""
        import os

        from google.cloud import storage  # type: ignore[attr-defined,unused-ignore]

        os.environ["STORAGE_EMULATOR_HOST"] = self.gcs_url
        return storage.Client(project=self.config.project)

    def ensure_bucket(self, name: str | None = None) -> None:
        client = self.storage_client()
        bucket = client.bucket(name or self.config.bucket)
        if not bucket.exists():
            from google.api_core.exceptions import Conflict

            with contextlib.suppress(Conflict):  # created meanwhile by another run
                client.create_bucket(bucket)


def _gcs_dir(state: StateDir) -> Path:
    return state.service_dir("gcs")


def _pg_dir(state: StateDir) -> Path:
    """The embedded PostgreSQL data dir: under `.kestra-gcp/`, unless the server's unprivileged user (we run it
    as `nobody` when we are root) cannot traverse that path (e.g. a checkout under a 0700 /root); then a
    directory under /var/tmp named after the state dir, so every command finds the same one."""
    preferred = state.service_dir("postgres") / "data"
    if os.geteuid() != 0:
        return preferred
    from kestra_gcp.local.services.postgres import reachable_by, run_as_user

    if reachable_by(preferred, run_as_user()):
        return preferred
    digest = hashlib.sha256(str(state.root.resolve()).encode()).hexdigest()[:12]
    fallback = Path("/var/tmp") / f"kestra-gcp-postgres-{digest}"
    fallback.mkdir(mode=0o755, exist_ok=True)
    return fallback / "data"


def _bq_dir(state: StateDir) -> Path:
    return state.service_dir("bigquery")


def ensure(state: StateDir, needs: set[str], extra_connections: dict[str, str] | None = None,
           pg_endpoints: list[dict[str, Any]] | None = None) -> LocalStack:
    """Start or reuse what `needs` names ("gcs", "postgres", "bigquery"); create the state bucket.

    `pg_endpoints` lists the flow's JDBC endpoints `{"key": "host:port", "database", "user", "password"}`;
    those not mapped by the config or `extra_connections` go to the embedded server, where their database
    and role are created to match.
    """
    state.ensure()
    config = state.load_config()
    connections = {**config.connections, **(extra_connections or {})}
    stack = LocalStack(state=state, config=config, connections=dict(connections))
    from kestra_gcp.local.services import gcs

    stack.gcs_url = gcs.start(_gcs_dir(state)).url
    stack.ensure_bucket()
    endpoints = pg_endpoints or []
    embedded = [ep for ep in endpoints if ep["key"] not in connections]
    if "postgres" in needs and embedded:
        from kestra_gcp.local.services.postgres import EmbeddedPostgres

        server = EmbeddedPostgres(_pg_dir(state)).start()
        stack.postgres = server
        for ep in embedded:
            if ep.get("user") and ep.get("password") is not None:
                server.ensure_database(ep["database"], ep["user"], ep["password"])
            stack.connections[ep["key"]] = f"postgresql://{server.host}:{server.port}"
    if "bigquery" in needs:
        from kestra_gcp.local.services import bigquery

        stack.bigquery_url = bigquery.start(_bq_dir(state), {"STORAGE_EMULATOR_HOST": stack.gcs_url}).url
    return stack


def status(state: StateDir) -> list[ServiceStatus]:
    """What runs under this state directory (without starting anything)."""
    from kestra_gcp.local.services import bigquery
    from kestra_gcp.local.services.postgres import read_postmaster

    rows: list[ServiceStatus] = []
    gcs_info = _read_json(_gcs_dir(state) / "emulator.json")
    gcs_pid = int(gcs_info["pid"]) if gcs_info and "pid" in gcs_info else None
    rows.append(ServiceStatus("gcs", bool(gcs_pid and _alive(gcs_pid)), gcs_pid,
                              str(gcs_info.get("url", "")) if gcs_info else "", _gcs_dir(state)))
    pg = read_postmaster(_pg_dir(state))
    pg = pg if pg is not None and _alive(pg.pid) else None
    rows.append(ServiceStatus("postgres", pg is not None, pg.pid if pg else None,
                              f"postgresql://127.0.0.1:{pg.port}" if pg else "", _pg_dir(state)))
    bq = bigquery.recorded(_bq_dir(state))
    rows.append(ServiceStatus("bigquery", bq is not None, bq[0].pid if bq else None,
                              bq[0].url if bq else "", _bq_dir(state)))
    return rows


def stop(state: StateDir) -> list[str]:
    """Stop every service of this state directory; returns the names that were running.

    Signals are sent here (zombie-aware waits, see `procs`) rather than through each service's own stop,
    which would wait forever on a server whose zombie nobody reaps.
    """
    from kestra_gcp.local.services import bigquery
    from kestra_gcp.local.services.postgres import read_postmaster

    stopped: list[str] = []
    bq = bigquery.recorded(_bq_dir(state))
    if bq is not None and procs.terminate(bq[0].pid):
        stopped.append("bigquery")
    (_bq_dir(state) / bigquery.RECORD).unlink(missing_ok=True)
    pg = read_postmaster(_pg_dir(state))
    if pg is not None and procs.terminate(pg.pid, signal.SIGINT, timeout=30):  # fast shutdown
        stopped.append("postgres")
    info = _read_json(_gcs_dir(state) / "emulator.json")
    if info and "pid" in info and procs.terminate(int(info["pid"])):
        stopped.append("gcs")
    (_gcs_dir(state) / "emulator.json").unlink(missing_ok=True)
    return stopped


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: int) -> bool:
    return procs.alive(pid)
