"""postgresql.CopyIn / CopyOut: `COPY ... FROM STDIN` fed from a gs:// object, `COPY ... TO STDOUT` into
execution storage. Both stream in bounded chunks.

CopyIn runs in one transaction (a failure or a killed instance leaves the table unchanged) and is
exactly-once per task run: a ledger row `kestra_gcp.copy_in_runs` is written in the same transaction and
a retry of the same run (same execution, task run, task, source and table) returns the recorded
`rowCount` instead of loading the rows again. Without the privilege to create that ledger, CopyIn
still runs (transactionally) but a retry after a lost response would load again; it logs a warning.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from kfn import storage
from kfn.errors import TaskError
from kfn.logs import log
from kfn.postgres_conn import connect, from_task
from kfn.request import Call

if TYPE_CHECKING:
    import psycopg

READ_CHUNK = 1024 * 1024
_PREFETCH = 4
_FORMATS = ("TEXT", "CSV", "BINARY")
_LEDGER_DDL = (
    "CREATE SCHEMA IF NOT EXISTS kestra_gcp",
    "CREATE TABLE IF NOT EXISTS kestra_gcp.copy_in_runs (run_key text PRIMARY KEY, "
    "row_count bigint NOT NULL, finished_at timestamptz NOT NULL DEFAULT now())",
)
_LEDGER_INSERT = "INSERT INTO kestra_gcp.copy_in_runs (run_key, row_count) VALUES (%s, %s)"
_LEDGER_PRUNE = "DELETE FROM kestra_gcp.copy_in_runs WHERE finished_at < now() - interval '30 days'"
_EXT = {"CSV": "csv", "TEXT": "txt", "BINARY": "bin"}


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _char(call: Call, name: str) -> str | None:
    value = call.prop(name)
    if value is None:
        return None
    text = str(value)
    text = {"\\t": "\t", "\\n": "\n", "\\r": "\r"}.get(text, text)
    if len(text) != 1:
        raise TaskError(f"property '{name}' must be a single character, got {value!r}")
    return text


def _columns(call: Call, name: str) -> list[str]:
    value = call.prop(name, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise TaskError(f"property '{name}' must be a list of column names")
    return value


def copy_format(call: Call) -> str:
    fmt = str(call.prop("format", "TEXT")).upper()
    if fmt not in _FORMATS:
        raise TaskError(f"format must be one of {', '.join(_FORMATS)}, got {call.prop('format')!r}")
    return fmt


def copy_statement(call: Call, source: str, direction: str) -> str:
    """`COPY <source> <direction> WITH (...)` from Kestra's AbstractCopy properties."""
    options: list[str] = []
    fmt = copy_format(call)
    if fmt != "TEXT":
        options.append(f"FORMAT {fmt}")
    if call.flag("oids", False):
        options.append("OIDS")
    if call.flag("freeze", False):
        options.append("FREEZE")
    for prop, option in (("delimiter", "DELIMITER"), ("quote", "QUOTE"), ("escape", "ESCAPE")):
        char = _char(call, prop)
        if char is not None:
            options.append(f"{option} {_literal(char)}")
    if call.prop("nullString") is not None:
        options.append(f"NULL {_literal(str(call.prop('nullString')))}")
    if call.prop("header") is not None:
        options.append("HEADER " + ("TRUE" if call.flag("header", False) else "FALSE"))
    force_quote = _columns(call, "forceQuote")
    if force_quote:
        options.append("FORCE_QUOTE " + ("*" if force_quote == ["*"] else f"({', '.join(force_quote)})"))
    for prop, option in (("forceNotNull", "FORCE_NOT_NULL"), ("forceNull", "FORCE_NULL")):
        cols = _columns(call, prop)
        if cols:
            options.append(f"{option} ({', '.join(cols)})")
    if call.prop("encoding") is not None:
        options.append(f"ENCODING {_literal(str(call.prop('encoding')))}")
    text = f"COPY {source} {direction}"
    return text + (f" WITH ({', '.join(options)})" if options else "")


def pump(reader: BinaryIO, write: Callable[[bytes], Any], chunk: int = READ_CHUNK) -> int:
    """Copy `reader` into `write`, reading ahead in a thread (bounded queue); returns bytes moved."""
    chunks: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=_PREFETCH)
    stop = threading.Event()

    def produce() -> None:
        try:
            while not stop.is_set():
                data = reader.read(chunk)
                while not stop.is_set():
                    try:
                        chunks.put(data, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if not data:
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            chunks.put(exc)

    worker = threading.Thread(target=produce, name="copy-prefetch", daemon=True)
    worker.start()
    moved = 0
    try:
        while True:
            item = chunks.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                return moved
            write(item)
            moved += len(item)
    finally:
        stop.set()
        worker.join(timeout=5)


def _run_key(call: Call, table: str, source: str, columns: list[str]) -> str:
    execution = call.need_execution()
    material = [execution.id, execution.task_run_id or "", call.task_id, source, table, columns]
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()


def _ensure_ledger(conn: psycopg.Connection[Any]) -> bool:
    import psycopg

    for attempt in range(2):
        try:
            for ddl in _LEDGER_DDL:
                conn.execute(ddl)
            return True
        except psycopg.errors.InsufficientPrivilege:
            log("WARNING", "postgres: cannot create kestra_gcp.copy_in_runs; CopyIn retries are not "
                "deduplicated")
            return False
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
            if attempt:
                raise  # concurrent creation settled yet still failing: a real problem
    return True


def copy_in(call: Call) -> dict[str, Any]:
    spec = from_task(call)
    table = str(call.require("table"))
    source = str(call.require("from"))
    columns = _columns(call, "columns")
    target = table + (f" ({', '.join(columns)})" if columns else "")
    statement = copy_statement(call, target, "FROM STDIN")
    run_key = _run_key(call, table, source, columns)
    with storage.open_read(source, "from") as reader, connect(spec, autocommit=True) as conn:
        ledger = _ensure_ledger(conn)
        with conn.transaction():
            if ledger:
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (run_key,))
                done = conn.execute(
                    "SELECT row_count FROM kestra_gcp.copy_in_runs WHERE run_key = %s", (run_key,)
                ).fetchone()
                if done is not None:
                    log("INFO", f"postgres: task '{call.task_id}' already loaded {done[0]} rows (retry)")
                    return {"rowCount": int(done[0])}
            with conn.cursor() as cur:
                with cur.copy(statement) as copy:
                    pump(reader, copy.write)
                count = max(cur.rowcount, 0)
            if ledger:
                conn.execute(_LEDGER_INSERT, (run_key, count))
                conn.execute(_LEDGER_PRUNE)
    return {"rowCount": count}


def copy_out(call: Call) -> dict[str, Any]:
    spec = from_task(call)
    query = call.prop("sql")
    if query:
        source = f"({str(query).strip().rstrip(';')})"
    else:
        table = str(call.require("table"))
        columns = _columns(call, "columns")
        source = table + (f" ({', '.join(columns)})" if columns else "")
    statement = copy_statement(call, source, "TO STDOUT")
    file_name = f"{call.task_id}.{_EXT[copy_format(call)]}"
    uri = storage.execution_uri(call.need_execution(), call.task_id, file_name)
    with connect(spec, autocommit=True) as conn, conn.cursor() as cur:
        with storage.open_write(uri, what="CopyOut") as out, cur.copy(statement) as copy:
            for data in copy:
                out.write(bytes(data))
        count = max(cur.rowcount, 0)
    return {"uri": uri, "rowCount": count}
