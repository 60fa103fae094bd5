"""The `duckdb` function: io.kestra.plugin.jdbc.duckdb Query and Queries.

Each call gets a private working directory (DuckDB's `file_search_path`, and where its database file
lives unless `url` names another). Before the SQL runs:
- `inputFiles` (name -> inline content or gs:// URI) are written there, objects streamed to disk;
- every gs:// URI quoted in the SQL (e.g. `read_csv_auto('gs://b/x/products.csv')`, as compiled from
  `outputs.t.outputFiles['products.csv']`) is streamed there and the SQL rewritten to the local path
  (a URI with `*`/`?` fetches every matching object and keeps the glob);
- `COPY ... TO 'gs://...'` writes a local file uploaded to that URI once all the SQL succeeded;
- the literal `{{workingDir}}` (passed through by the compiler) becomes the directory's path, and
  `{{outputFiles.NAME}}` / `{{outputFiles['NAME']}}` the path of output file NAME.
Afterwards `outputFiles` are uploaded to execution storage and the directory is removed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kfn import storage
from kfn.errors import FunctionError, TaskError
from kfn.postgres import fetch_type
from kfn.postgres_rows import InlineRows, ion_line, json_row
from kfn.postgres_sql import named_to_dollar, quoted_literals
from kfn.request import Call

if TYPE_CHECKING:
    import duckdb as duckdb_module

DEFAULT_URL = "jdbc:duckdb:"
_COPY_CHUNK = 1024 * 1024
_GS_IN_LITERAL = re.compile(r"gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]/[^'\s]+")
_OUTPUT_FILE_MARKER = re.compile(r"\{\{\s*outputFiles(?:\.([A-Za-z0-9_.-]+)|\[\s*'([^']+)'\s*\])\s*\}\}")
_WORKING_DIR_MARKER = re.compile(r"\{\{\s*workingDir\s*\}\}")
_GLOB = re.compile(r"[*?\[]")


def _download(uri: str, target: Path, what: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with storage.open_read(uri, what) as reader, open(target, "wb") as out:
        shutil.copyfileobj(reader, out, _COPY_CHUNK)


def _local_name(uri: str) -> str:
    """A short unique directory for one URI, keeping its base name (extensions drive format detection)."""
    return f"_gs/{hashlib.sha256(uri.encode()).hexdigest()[:12]}"


def _fetch_uri(uri: str, workdir: Path) -> str:
    """Stream the object(s) of `uri` under `workdir`; the local path (or glob) replacing it in the SQL."""
    bucket, name = storage.parse_gs_uri(uri, "sql")
    base = workdir / _local_name(uri)
    if not _GLOB.search(name):
        target = base / storage.safe_name(name)
        _download(uri, target, "sql")
        return str(target)
    prefix = name[: _GLOB.search(name).start()]  # type: ignore[union-attr]
    found = 0
    for blob in storage.client().list_blobs(bucket, prefix=prefix):
        if fnmatch.fnmatchcase(blob.name, name):
            _download(f"gs://{bucket}/{blob.name}", base / blob.name, "sql")
            found += 1
    if not found:
        raise TaskError(f"sql: no object matches {uri}")
    return str(base / name)


def _input_files(call: Call) -> dict[str, Any]:
    value = call.prop("inputFiles", {})
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise TaskError("inputFiles must be a map of file name -> content or gs:// URI") from exc
    if not isinstance(value, dict):
        raise TaskError("inputFiles must be a map of file name -> content or gs:// URI")
    return value


def _prepare_files(call: Call, workdir: Path) -> None:
    for name, content in _input_files(call).items():
        target = workdir / name
        if not target.resolve().is_relative_to(workdir.resolve()):
            raise TaskError(f"inputFiles: {name!r} points outside the working directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str) and content.startswith("gs://"):
            _download(content, target, f"inputFiles['{name}']")
        else:
            text = content if isinstance(content, str) else json.dumps(content)
            target.write_text(text, encoding="utf-8")


def _output_names(call: Call) -> list[str]:
    names = call.prop("outputFiles", [])
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise TaskError("outputFiles must be a list of file names")
    return [storage.safe_name(n) for n in names]


def _render_sql(sql: str, workdir: Path, outputs: list[str], writes: dict[str, Path]) -> str:
    """Fill the workingDir/outputFiles markers and localise every quoted gs:// URI: read ones are
    downloaded first; `COPY ... TO 'gs://...'` targets are written locally and recorded in `writes`
    (uploaded once the SQL succeeded)."""

    def output_path(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in outputs:
            raise TaskError(f"sql: outputFiles.{name} is not declared in outputFiles")
        return str(workdir / name)

    sql = _WORKING_DIR_MARKER.sub(lambda _: str(workdir), sql)
    sql = _OUTPUT_FILE_MARKER.sub(output_path, sql)
    uris = {m.group(0) for lit in quoted_literals(sql) for m in _GS_IN_LITERAL.finditer(lit)}
    for uri in sorted(uris, key=len, reverse=True):
        if re.search(r"\bTO\s+'" + re.escape(uri) + "'", sql, re.IGNORECASE):
            storage.parse_gs_uri(uri, "sql")
            local = workdir / "_out" / _local_name(uri) / storage.safe_name(uri)
            local.parent.mkdir(parents=True, exist_ok=True)
            writes[uri] = local
            sql = sql.replace(uri, str(local))
        else:
            sql = sql.replace(uri, _fetch_uri(uri, workdir))
    return sql


def _upload_writes(writes: dict[str, Path]) -> None:
    for uri, local in writes.items():
        if not local.is_file():
            raise TaskError(f"sql: nothing was written to {uri}")
        with open(local, "rb") as source, storage.open_write(uri, what="sql") as out:
            shutil.copyfileobj(source, out, _COPY_CHUNK)


def _database(call: Call, workdir: Path) -> str:
    database_uri = call.prop("databaseUri")
    if database_uri:
        target = workdir / "input.duckdb"
        _download(str(database_uri), target, "databaseUri")
        return str(target)
    url = str(call.prop("url", DEFAULT_URL)).strip()
    if not url.startswith(DEFAULT_URL):
        raise TaskError(f"url must start with {DEFAULT_URL}, got {url!r}")
    rest = url[len(DEFAULT_URL):]
    return rest or str(workdir / "kestra.duckdb")


def _returns_rows(cur: duckdb_module.DuckDBPyConnection, statement_type: str) -> bool:
    """JDBC semantics: a query result, not the `Count` of changed rows that DuckDB reports for DML/DDL."""
    description = cur.description
    if description is None:
        return False
    if statement_type in ("SELECT", "EXPLAIN", "PRAGMA", "CALL", "RELATION"):
        return True
    return [d[0] for d in description] != ["Count"]


def _batches(cur: duckdb_module.DuckDBPyConnection, size: int) -> Iterator[tuple[Any, ...]]:
    while batch := cur.fetchmany(size):
        yield from batch


_EXTENSION_STATEMENT = re.compile(
    r"^\s*(?:FORCE\s+)?(?:INSTALL|LOAD)\s+['\"]?([A-Za-z0-9_]+)['\"]?\s*(?:FROM\s+\S+\s*)?;?\s*$", re.IGNORECASE)


def _already_available(conn: duckdb_module.DuckDBPyConnection, statement: Any) -> bool:
    """`INSTALL json` / `LOAD json` of an extension built into this DuckDB: a no-op (it would otherwise
    try to download it, which fails offline)."""
    if statement.type.name != "LOAD":
        return False
    match = _EXTENSION_STATEMENT.match(statement.query)
    if match is None:
        return False
    row = conn.execute("SELECT loaded OR install_mode = 'STATICALLY_LINKED' FROM duckdb_extensions() "
                       "WHERE extension_name = ?", [match.group(1).lower()]).fetchone()
    return bool(row and row[0])


def _run_statement(
    conn: duckdb_module.DuckDBPyConnection, call: Call, statement: Any, number: int, kind: str, multi: bool,
) -> dict[str, Any] | None:
    if _already_available(conn, statement):
        return None
    parameters = call.prop("parameters") or {}
    names = set(statement.named_parameters)
    values = {k: parameters[k] for k in names if k in parameters}
    missing = names - values.keys()
    if missing:
        raise TaskError(f"parameter(s) {', '.join(sorted(missing))} not given in parameters")
    cur = conn.execute(statement.query, values or None)
    if not _returns_rows(cur, statement.type.name):
        return None
    columns = [d[0] for d in cur.description or []]
    size = int(call.prop("fetchSize", 10000))
    if kind == "NONE":
        return {}
    if kind == "FETCH_ONE":
        first = cur.fetchone()
        return {"row": json_row(columns, first), "size": 1} if first is not None else {"size": 0}
    if kind == "FETCH":
        inline = InlineRows(f"statement {number}")
        for row in _batches(cur, min(size, 1000)):
            inline.add(json_row(columns, row))
        return {"rows": inline.rows, "size": len(inline.rows)}
    name = f"{call.task_id}-{number}.ion" if multi else f"{call.task_id}.ion"
    uri = storage.execution_uri(call.need_execution(), call.task_id, name)
    count = 0
    with storage.open_write(uri, what="STORE") as out:
        for row in _batches(cur, size):
            out.write(ion_line(columns, row))
            count += 1
    return {"uri": uri, "size": count}


def _upload_outputs(call: Call, workdir: Path, names: list[str]) -> dict[str, str]:
    uploaded: dict[str, str] = {}
    for name in names:
        path = workdir / name
        if not path.is_file():
            raise TaskError(f"outputFiles: '{name}' was not written by the SQL (write it to "
                            f"'{{{{workingDir}}}}/{name}')")
        uri = storage.execution_uri(call.need_execution(), call.task_id, name)
        with open(path, "rb") as source, storage.open_write(uri, what=f"outputFiles['{name}']") as out:
            shutil.copyfileobj(source, out, _COPY_CHUNK)
        uploaded[name] = uri
    return uploaded


def _error(exc: Exception, number: int | None) -> FunctionError:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    message = lines[0] if lines else type(exc).__name__
    return TaskError(message + (f" (statement {number})" if number is not None else ""))


def run(call: Call, *, multi: bool) -> dict[str, Any]:
    import duckdb

    kind = fetch_type(call)
    transactional = call.flag("transaction", True) if multi else True
    outputs_wanted = _output_names(call)
    parameters = call.prop("parameters") or {}
    if not isinstance(parameters, dict):
        raise TaskError("parameters must be a map of name -> value")
    with tempfile.TemporaryDirectory(prefix="kestra-duckdb-") as tmp:
        workdir = Path(tmp)
        _prepare_files(call, workdir)
        writes: dict[str, Path] = {}
        sql = _render_sql(str(call.require("sql")), workdir, outputs_wanted, writes)
        after = _render_sql(str(call.prop("afterSQL", "")), workdir, outputs_wanted, writes)
        database = _database(call, workdir)
        try:
            conn = duckdb.connect(database)
        except duckdb.Error as exc:
            raise TaskError(f"cannot open database {call.prop('url', DEFAULT_URL)!r}: {_error(exc, None).message}") \
                from exc
        with conn:
            literal_dir = str(workdir).replace("'", "''")
            conn.execute(f"SET file_search_path = '{literal_dir}'")
            conn.execute(f"SET temp_directory = '{literal_dir}/.tmp'")
            if not os.path.isdir(os.path.expanduser("~")):  # e.g. a container user without a home
                conn.execute(f"SET home_directory = '{literal_dir}'")
            zone = call.prop("timeZoneId")
            if zone:
                try:
                    conn.execute("SET TimeZone = ?", [str(zone)])
                except duckdb.Error as exc:
                    raise TaskError(f"timeZoneId {zone!r}: {_error(exc, None).message}") from exc
            try:
                statements = conn.extract_statements(named_to_dollar(sql, set(parameters)))
                statements += conn.extract_statements(named_to_dollar(after, set(parameters))) if after.strip() \
                    else []
            except duckdb.Error as exc:
                raise _error(exc, None) from exc
            if not statements:
                raise TaskError("sql contains no statement")
            numbered = len(statements) > 1
            results: list[dict[str, Any]] = []
            if transactional:
                conn.begin()
            number = 0
            try:
                for number, statement in enumerate(statements, 1):
                    output = _run_statement(conn, call, statement, number, kind, multi)
                    if output is not None:
                        results.append(output)
                if transactional:
                    conn.commit()
            except duckdb.Error as exc:
                if transactional:
                    with contextlib.suppress(duckdb.Error):
                        conn.rollback()
                raise _error(exc, number if numbered else None) from exc
        _upload_writes(writes)
        response: dict[str, Any] = {"outputs": results} if multi else (results[0] if results else {})
        response["outputFiles"] = _upload_outputs(call, workdir, outputs_wanted)
        if call.flag("outputDbFile", False):
            if not Path(database).is_file():
                raise TaskError("outputDbFile: the database is not a local file")
            response["databaseUri"] = _upload_outputs(call, Path(database).parent, [Path(database).name])[
                Path(database).name]
        return response


def handle(call: Call) -> dict[str, Any]:
    kind = call.short_type
    if kind == "Query":
        return run(call, multi=False)
    if kind == "Queries":
        return run(call, multi=True)
    raise TaskError(f"task type {call.type} is not served by the duckdb function")
