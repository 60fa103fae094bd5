"""Exactly-once task runs in PostgreSQL: a ledger row written in the same transaction as the task's work.

A retry of the same task run (same execution, task run id and rendered task body, i.e. the request the
workflow re-sends after a lost response or a timeout) finds the ledger row and gets the recorded outputs
back instead of running the statements again. Concurrent duplicates serialise on an advisory lock.
Creating the ledger needs the CREATE privilege on the database; without it (or on a read-only server)
tasks still run transactionally, but a retry after a committed attempt would run again (a warning is
logged). Rows older than 30 days are pruned.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from kfn.logs import log
from kfn.request import Call

if TYPE_CHECKING:
    import psycopg

_DDL = (
    "CREATE SCHEMA IF NOT EXISTS kestra_gcp",
    "CREATE TABLE IF NOT EXISTS kestra_gcp.task_runs (run_key text PRIMARY KEY, outputs jsonb NOT NULL, "
    "finished_at timestamptz NOT NULL DEFAULT now())",
)
# NULL: no ledger yet; else whether the current role may read, write and prune it.
_USABLE = (
    "SELECT CASE WHEN to_regclass('kestra_gcp.task_runs') IS NULL THEN NULL ELSE "
    "has_schema_privilege('kestra_gcp', 'USAGE') AND "
    "has_table_privilege('kestra_gcp.task_runs', 'SELECT,INSERT,DELETE') END"
)
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
_GET = "SELECT outputs FROM kestra_gcp.task_runs WHERE run_key = %s"
_PUT = "INSERT INTO kestra_gcp.task_runs (run_key, outputs) VALUES (%s, %s)"
_PRUNE = "DELETE FROM kestra_gcp.task_runs WHERE finished_at < now() - interval '30 days'"


def run_key(call: Call) -> str:
    """Identity of one task run: execution, task run id and the task body as sent (secret markers, not
    values), so the iterations of a loop, whose bodies differ, are distinct runs."""
    execution = call.need_execution()
    task = call.body.get("task", call.task) if call.body else call.task
    material = json.dumps([execution.id, execution.task_run_id or "", task], sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


def ensure(conn: psycopg.Connection[Any]) -> bool:
    """Create the ledger if needed (autocommit connection); False when this role may not use it."""
    import psycopg

    for attempt in range(2):
        try:
            row = conn.execute(_USABLE).fetchone()
            if row is not None and row[0] is not None:
                if not row[0]:
                    log("WARNING", "postgres: this role may not use kestra_gcp.task_runs; retries of this "
                        "task are not deduplicated")
                return bool(row[0])
            for ddl in _DDL:
                conn.execute(ddl)
            return True
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction):
            log("WARNING", "postgres: cannot create kestra_gcp.task_runs; retries of this task are not "
                "deduplicated")
            return False
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
            if attempt:  # a concurrent creation settled and it still fails: a real problem
                raise
    return True


def recorded(conn: psycopg.Connection[Any], key: str) -> dict[str, Any] | None:
    """Inside the task's transaction: wait for any concurrent duplicate, then its recorded outputs."""
    conn.execute(_LOCK, (key,))
    row = conn.execute(_GET, (key,)).fetchone()
    return dict(row[0]) if row is not None else None


def record(conn: psycopg.Connection[Any], key: str, outputs: dict[str, Any]) -> None:
    """Inside the task's transaction, just before it commits."""
    from psycopg.types.json import Jsonb

    conn.execute(_PUT, (key, Jsonb(outputs)))
    conn.execute(_PRUNE)
