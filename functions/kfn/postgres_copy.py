"""postgresql.CopyIn / CopyOut: `COPY ... FROM STDIN` fed from a gs:// object, `COPY ... TO STDOUT` into
execution storage. Both stream in bounded chunks.

CopyIn runs in one transaction (a failure or a killed instance leaves the table unchanged) and is
exactly-once per task run through `kfn.postgres_ledger`: a retry of the same run returns the recorded
`rowCount` instead of loading the rows again.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from kfn import postgres_ledger as ledger
from kfn import storage
from kfn.errors import TaskError
from kfn.logs import log
from kfn.postgres_conn import connect, from_task
from kfn.request import Call

READ_CHUNK = 1024 * 1024
_PREFETCH = 4
_FORMATS = ("TEXT", "CSV", "BINARY")
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


def copy_in(call: Call) -> dict[str, Any]:
    spec = from_task(call)
    table = str(call.require("table"))
    source = str(call.require("from"))
    columns = _columns(call, "columns")
    target = table + (f" ({', '.join(columns)})" if columns else "")
    statement = copy_statement(call, target, "FROM STDIN")
    key = ledger.run_key(call)
    with storage.open_read(source, "from") as reader, connect(spec, autocommit=True) as conn:
        exactly_once = ledger.ensure(conn)
        with conn.transaction():
            if exactly_once and (done := ledger.recorded(conn, key)) is not None:
                log("INFO", f"postgres: task '{call.task_id}' already loaded {done.get('rowCount')} rows (retry)")
                return done
            with conn.cursor() as cur:
                with cur.copy(statement) as copy:
                    pump(reader, copy.write)
                outputs = {"rowCount": max(cur.rowcount, 0)}
            if exactly_once:
                ledger.record(conn, key, outputs)
    return outputs


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
