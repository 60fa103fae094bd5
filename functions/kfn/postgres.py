"""The `postgres` function: io.kestra.plugin.jdbc.postgresql Query, Queries, CopyIn and CopyOut (psycopg 3).

Query/Queries split `sql` into statements and run them in one transaction (Queries: unless
`transaction: false`), binding Kestra's named `:param` parameters. Each statement that returns rows
yields an output per `fetchType`: NONE (nothing kept), FETCH_ONE (`row`), FETCH (`rows`, bounded by the
workflow state size), STORE (an Ion file in execution storage, streamed: `uri`). Queries answers
`{"outputs": [...]}`, Query the output of its first row-returning statement. (Query also accepts several
statements, as Kestra did before plugin-jdbc refused them in 2025-10: flows written for older Kestra,
the course's among them, keep working.) A writing transaction is exactly-once per task run
(`kfn.postgres_ledger`); failures map to the contract's errors with PostgreSQL's own message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from kfn import postgres_ledger as ledger
from kfn import storage
from kfn.errors import FunctionError, TaskError, TransientError
from kfn.postgres_conn import connect, from_task
from kfn.postgres_rows import InlineRows, ion_line, json_row
from kfn.postgres_sql import bind_named, split_statements
from kfn.request import Call

if TYPE_CHECKING:
    import psycopg

FETCH_TYPES = ("NONE", "FETCH_ONE", "FETCH", "STORE")
_TRANSIENT_STATES = ("08", "53", "57P", "58", "40001", "40P01")


def fetch_type(call: Call) -> str:
    """`fetchType`, or Kestra's deprecated booleans `fetch` / `fetchOne` / `store`."""
    if call.flag("fetch", False):
        return "FETCH"
    if call.flag("fetchOne", False):
        return "FETCH_ONE"
    if call.flag("store", False):
        return "STORE"
    value = str(call.prop("fetchType", "NONE")).upper()
    if value not in FETCH_TYPES:
        raise TaskError(f"fetchType must be one of {', '.join(FETCH_TYPES)}, got {call.prop('fetchType')!r}")
    return value


def sql_error(exc: Exception, statement: int | None = None) -> FunctionError:
    """A psycopg error as the contract's error: PostgreSQL's own message, where it happened."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    message = primary or (lines[0] if lines else type(exc).__name__)
    context = getattr(diag, "context", None) if diag is not None else None
    if context and context.startswith("COPY "):
        message += f" ({context.splitlines()[0]})"
    if statement is not None:
        message += f" (statement {statement})"
    state = getattr(exc, "sqlstate", None)
    if (state and state.startswith(_TRANSIENT_STATES)) or (state is None and _is_connection_error(exc)):
        return TransientError(message)
    return TaskError(message)


def _is_connection_error(exc: Exception) -> bool:
    import psycopg

    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


class _Rows:
    """Streams a statement's rows; `returned` tells afterwards whether it was a row-returning statement."""

    def __init__(self, cur: psycopg.Cursor[Any], query: str, values: list[Any] | None, size: int) -> None:
        self.cur, self.query, self.values, self.size = cur, query, values, size
        self.returned = True
        self.columns: list[str] = []

    def __iter__(self) -> Iterator[Any]:
        import psycopg

        # chunked streaming (size > 1) needs libpq >= 17; older ones stream row by row
        size = self.size if psycopg.pq.version() >= 170000 else 1
        try:
            for row in self.cur.stream(self.query, self.values, size=size):
                if not self.columns:
                    self.columns = [d.name for d in self.cur.description or []]
                yield row
        except psycopg.ProgrammingError as exc:
            # psycopg's way of saying the statement completed without a result set (DDL, plain DML)
            if "didn't produce a result" not in str(exc):
                raise
            self.returned = False


class _NoRows(Exception):
    """A STORE statement returned no result set (the file it began is discarded)."""


def _run_statement(
    conn: psycopg.Connection[Any], call: Call, statement: str, number: int, kind: str, store_name: str
) -> dict[str, Any] | None:
    """Run one statement; its output if it returned rows (None for DDL/DML without RETURNING)."""
    query, values = bind_named(statement, call.prop("parameters"))
    size = int(call.prop("fetchSize", 10000))
    with conn.cursor() as cur:
        if kind == "STORE":
            uri = storage.execution_uri(call.need_execution(), call.task_id, store_name)
            try:
                with storage.open_write(uri, what="STORE") as out:
                    rows = _Rows(cur, query, values, size)
                    count = 0
                    for row in rows:
                        out.write(ion_line(rows.columns, row))
                        count += 1
                    if not rows.returned:
                        raise _NoRows
            except _NoRows:
                return None
            return {"uri": uri, "size": count}
        if kind == "FETCH":
            inline = InlineRows(f"statement {number}")
            rows = _Rows(cur, query, values, min(size, 1000))
            for row in rows:
                inline.add(json_row(rows.columns, row))
            return {"rows": inline.rows, "size": len(inline.rows)} if rows.returned else None
        # NONE / FETCH_ONE: the rest of the rows is drained, streamed (memory stays bounded)
        rows = _Rows(cur, query, values, min(size, 1000))
        first = None
        for row in rows:
            if first is None:
                first = row
        if not rows.returned:
            return None
        if kind == "FETCH_ONE":
            return {"row": json_row(rows.columns, first), "size": 1} if first is not None else {"size": 0}
        return {}


_READ_ONLY = re.compile(r"^[\s(]*(SELECT|SHOW|EXPLAIN|VALUES|TABLE|FETCH)\b", re.IGNORECASE)
_COMMENTS = re.compile(r"^\s*(--[^\n]*\n|/\*.*?\*/)", re.DOTALL)


def _read_only(statement: str) -> bool:
    """Whether a statement only reads (a WITH may hide a data-modifying CTE: not read-only)."""
    text = statement
    while (match := _COMMENTS.match(text)) is not None:
        text = text[match.end():]
    return _READ_ONLY.match(text) is not None


def run_queries(call: Call, *, multi: bool) -> dict[str, Any]:
    import psycopg

    statements = split_statements(str(call.require("sql")))
    if not statements:
        raise TaskError("sql contains no statement")
    after = split_statements(str(call.prop("afterSQL", "")))
    kind = fetch_type(call)
    transactional = call.flag("transaction", True) if multi else True
    outputs: list[dict[str, Any]] = []
    numbered = len(statements) + len(after) > 1
    with connect(from_task(call), autocommit=True) as conn:
        zone = call.prop("timeZoneId")
        if zone:
            try:
                conn.execute("SELECT set_config('TimeZone', %s, false)", (str(zone),))
            except psycopg.Error as exc:
                raise TaskError(f"timeZoneId {zone!r}: {sql_error(exc).message}") from exc
        # A transaction that writes is recorded, so that a retry of this run does not write twice.
        exactly_once = transactional and not all(_read_only(s) for s in statements + after) \
            and ledger.ensure(conn)
        key = ledger.run_key(call) if exactly_once else ""
        with conn.transaction() if transactional else nullcontext():
            if exactly_once and (done := ledger.recorded(conn, key)) is not None:
                return done
            for number, statement in enumerate(statements + after, 1):
                name = f"{call.task_id}-{number}.ion" if multi else f"{call.task_id}.ion"
                try:
                    output = _run_statement(conn, call, statement, number, kind, name)
                except psycopg.Error as exc:
                    raise sql_error(exc, number if numbered else None) from exc
                if output is not None:
                    outputs.append(output)
            result = {"outputs": outputs} if multi else (outputs[0] if outputs else {})
            if exactly_once:
                ledger.record(conn, key, result)
    return result


def handle(call: Call) -> dict[str, Any]:
    import psycopg

    kind = call.short_type
    try:
        if kind == "Query":
            return run_queries(call, multi=False)
        if kind == "Queries":
            return run_queries(call, multi=True)
        if kind in ("CopyIn", "CopyOut"):
            from kfn import postgres_copy

            return postgres_copy.copy_in(call) if kind == "CopyIn" else postgres_copy.copy_out(call)
    except psycopg.Error as exc:
        raise sql_error(exc) from exc
    raise TaskError(f"task type {call.type} is not served by the postgres function")
