"""Load, copy and extract jobs, and the dispositions-aware table write they share with query destinations:
load reads `gs://` objects (or uploaded files) with DuckDB's readers, extract writes a `gs://` object."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from .errors import duck_error, duplicate, invalid, not_found, unsupported
from .gcs_objects import ObjectCache
from .outcome import Outcome, rollback
from .sources import SourceOptions, detect_columns, reader_sql
from .sql import TableRef
from .types import duck_type, quote_ident, quote_literal
from .warehouse import Warehouse, now_ms


def require_dataset(warehouse: Warehouse, cur: duckdb.DuckDBPyConnection, ref: TableRef) -> None:
    if not warehouse.dataset_exists(cur, ref.project, ref.dataset):
        raise not_found(f"Not found: Dataset {ref.project}:{ref.dataset} was not found")


def write_rows(warehouse: Warehouse, cur: duckdb.DuckDBPyConnection, ref: TableRef, select_sql: str, write: str,
                create: str, columns: list[tuple[str, str]] | None, config: dict[str, Any] | None = None) -> int:
    """Write a query's rows to a table per the dispositions, atomically; returns the rows written.

    A table created here takes timePartitioning/clustering from the job `config`; a truncated one keeps its
    descriptive metadata."""
    require_dataset(warehouse, cur, ref)
    kind = warehouse.object_kind(cur, ref)
    if kind is None and create == "CREATE_NEVER":
        raise not_found(f"Not found: Table {ref.bq_id()}")
    if kind == "VIEW":
        raise invalid(f"Cannot write to {ref.bq_id()}: it is a view or an external table")
    if kind is not None and write == "WRITE_EMPTY":
        count = cur.execute(f"SELECT count(*) FROM {ref.duck()}").fetchone()
        if count and count[0]:
            raise duplicate(f"Already Exists: Table {ref.bq_id()}")
    cur.execute("BEGIN")
    if kind is None or write == "WRITE_TRUNCATE":
        if columns is not None:
            cols = ", ".join(f"{quote_ident(n)} {t}" for n, t in columns)
            cur.execute(f"CREATE OR REPLACE TABLE {ref.duck()} ({cols})")
        else:
            cur.execute(f"CREATE OR REPLACE TABLE {ref.duck()} AS SELECT * FROM ({select_sql}) LIMIT 0")
        stamp = now_ms()
        meta = warehouse.table_meta(cur, ref) if kind is not None else {}
        meta.update(type="TABLE", creationTime=meta.get("creationTime", stamp), lastModifiedTime=stamp)
        for key in ("timePartitioning", "clustering", "rangePartitioning"):
            if (config or {}).get(key):
                meta[key] = (config or {})[key]
        warehouse.put_table_meta(cur, ref, meta)
    row = cur.execute(f"INSERT INTO {ref.duck()} BY NAME {select_sql}").fetchone()
    cur.execute("COMMIT")
    return int(row[0]) if row else 0


@dataclass
class ExportFormat:
    """How exported rows are written (extract jobs, EXPORT DATA)."""

    fmt: str = "CSV"
    header: bool = True
    delimiter: str = ","
    gzip: bool = False


def export_rows(objects: ObjectCache, cur: duckdb.DuckDBPyConnection, select_sql: str, uri: str,
                form: ExportFormat, scratch: Path) -> int:
    """Write a query's rows to one `gs://` object (a `*` in the URI becomes 000000000000); returns its size."""
    options = {"CSV": [f"FORMAT csv, HEADER {str(form.header).lower()}", f"DELIMITER {quote_literal(form.delimiter)}"],
               "NEWLINE_DELIMITED_JSON": ["FORMAT json"], "JSON": ["FORMAT json"],
               "PARQUET": ["FORMAT parquet"]}.get(form.fmt)
    if options is None:
        raise unsupported(f"Export format {form.fmt}")
    if form.gzip and form.fmt != "PARQUET":
        options.append("COMPRESSION gzip")
    scratch.mkdir(parents=True, exist_ok=True)
    local = scratch / f"export-{uuid.uuid4().hex}"
    try:
        cur.execute(f"COPY ({select_sql}) TO {quote_literal(str(local))} ({', '.join(options)})")
        content_type = {"CSV": "text/csv", "PARQUET": "application/octet-stream"}.get(form.fmt, "application/json")
        return objects.upload(local, uri.replace("*", "000000000000"), content_type)
    except duckdb.Error as err:
        raise duck_error(err, 1, 1) from None
    finally:
        local.unlink(missing_ok=True)


class Transfers:
    """Runs load, copy and extract job configurations."""

    def __init__(self, warehouse: Warehouse, objects: ObjectCache) -> None:
        self.warehouse = warehouse
        self.objects = objects

    def run_copy(self, cur: duckdb.DuckDBPyConnection, project: str, config: dict[str, Any]) -> Outcome:
        sources = config.get("sourceTables") or ([config["sourceTable"]] if config.get("sourceTable") else [])
        dest = config.get("destinationTable")
        if not sources or not dest:
            raise invalid("Required parameter is missing: sourceTables and destinationTable")
        refs = [TableRef(s.get("projectId") or project, s["datasetId"], s["tableId"]) for s in sources]
        target = TableRef(dest.get("projectId") or project, dest["datasetId"], dest["tableId"])
        for ref in [*refs, target]:
            self.warehouse.open_project(ref.project)
        for ref in refs:
            if self.warehouse.object_kind(cur, ref) != "TABLE":
                raise not_found(f"Not found: Table {ref.bq_id()}")
        select = " UNION ALL BY NAME ".join(f"SELECT * FROM {ref.duck()}" for ref in refs)
        try:
            write_rows(self.warehouse, cur, target, select, config.get("writeDisposition") or "WRITE_EMPTY",
                       config.get("createDisposition") or "CREATE_IF_NEEDED", None)
        except duckdb.Error as err:
            rollback(cur)
            raise duck_error(err, 1, 1) from None
        except BaseException:
            rollback(cur)
            raise
        source_meta = self.warehouse.table_meta(cur, refs[0])
        meta = self.warehouse.table_meta(cur, target)
        for key in ("descriptions", "timePartitioning", "clustering", "description"):
            if key in source_meta and key not in meta:
                meta[key] = source_meta[key]
        self.warehouse.put_table_meta(cur, target, meta)
        return Outcome(statement_type="COPY")

    def run_extract(self, cur: duckdb.DuckDBPyConnection, project: str, config: dict[str, Any],
                    scratch: Path) -> Outcome:
        source = config.get("sourceTable")
        uris = config.get("destinationUris") or ([config["destinationUri"]] if config.get("destinationUri") else [])
        if not source or len(uris) != 1:
            raise invalid("Extract jobs need a sourceTable and exactly one destination URI")
        ref = TableRef(source.get("projectId") or project, source["datasetId"], source["tableId"])
        self.warehouse.open_project(ref.project)
        if self.warehouse.object_kind(cur, ref) is None:
            raise not_found(f"Not found: Table {ref.bq_id()}")
        size = export_rows(self.objects, cur, f"SELECT * FROM {ref.duck()}", str(uris[0]), ExportFormat(
            fmt=str(config.get("destinationFormat") or "CSV").upper(),
            header=bool(config.get("printHeader", True)),
            delimiter=str(config.get("fieldDelimiter") or ","),
            gzip=str(config.get("compression") or "NONE").upper() == "GZIP"), scratch)
        return Outcome(statement_type="EXTRACT", load={"destinationUriFileCounts": ["1"],
                                                       "inputBytes": str(size)})

    def run_load(self, cur: duckdb.DuckDBPyConnection, project: str, config: dict[str, Any],
                 local_files: list[Path] | None = None) -> Outcome:
        dest = config.get("destinationTable")
        if not dest:
            raise invalid("Required parameter is missing: destinationTable")
        ref = TableRef(dest.get("projectId") or project, dest["datasetId"], dest["tableId"])
        self.warehouse.open_project(ref.project)
        options = SourceOptions.parse(config)
        paths = local_files or self.objects.fetch(list(config.get("sourceUris") or []))
        try:
            columns = self._load_columns(cur, ref, config, options, paths)
            select = f"SELECT * FROM {reader_sql(paths, options, columns)}"
            rows = write_rows(self.warehouse, cur, ref, select, config.get("writeDisposition") or "WRITE_APPEND",
                              config.get("createDisposition") or "CREATE_IF_NEEDED", columns or None, config)
        except duckdb.Error as err:
            rollback(cur)
            raise duck_error(err, 1, 1) from None
        except BaseException:
            rollback(cur)
            raise
        size = sum(Path(p).stat().st_size for p in paths)
        return Outcome(statement_type="LOAD", load={"inputFiles": str(len(paths)), "inputFileBytes": str(size),
                                                    "outputRows": str(rows), "outputBytes": "0",
                                                    "badRecords": "0"})

    def _load_columns(self, cur: duckdb.DuckDBPyConnection, ref: TableRef, config: dict[str, Any],
                      options: SourceOptions, paths: list[Path]) -> list[tuple[str, str]]:
        fields = (config.get("schema") or {}).get("fields")
        if fields:
            return [(str(f["name"]), duck_type(f)) for f in fields]
        if options.format == "PARQUET":
            return []
        if self.warehouse.object_kind(cur, ref) == "TABLE" and not options.autodetect:
            rows = cur.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? AND "
                               "schema_name = ? AND lower(table_name) = lower(?) ORDER BY column_index",
                               [ref.project, ref.dataset, ref.table]).fetchall()
            return [(str(n), str(t)) for n, t in rows]
        if options.autodetect or options.format == "JSON":
            return detect_columns(cur, paths, options)
        raise invalid("No schema specified on job or table.")


def insert_all(warehouse: Warehouse, cur: duckdb.DuckDBPyConnection, ref: TableRef, body: dict[str, Any],
               scratch: Path) -> dict[str, Any]:
    """tabledata.insertAll (streaming inserts): rows validated by field name, then inserted atomically."""
    rows = body.get("rows") or []
    described = cur.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? AND "
                            "schema_name = ? AND lower(table_name) = lower(?) ORDER BY column_index",
                            [ref.project, ref.dataset, ref.table]).fetchall()
    columns = [(str(n), str(t)) for n, t in described]
    known = {n.lower() for n, _ in columns}
    errors, valid = [], []
    for index, row in enumerate(rows):
        data = row.get("json") or {}
        unknown = [k for k in data if k.lower() not in known]
        if unknown and not body.get("ignoreUnknownValues"):
            errors.append({"index": index, "errors": [
                {"reason": "invalid", "location": k, "message": f"no such field: {k}."} for k in unknown]})
        else:
            valid.append({k: v for k, v in data.items() if k.lower() in known})
    if errors and not body.get("skipInvalidRows"):
        stopped = [{"index": i, "errors": [{"reason": "stopped", "message": ""}]}
                   for i in range(len(rows)) if i not in {e["index"] for e in errors}]
        return {"kind": "bigquery#tableDataInsertAllResponse", "insertErrors": errors + stopped}
    if valid:
        scratch.mkdir(parents=True, exist_ok=True)
        path = scratch / f"insert-{uuid.uuid4().hex}.json"
        try:
            path.write_text("\n".join(json.dumps(r) for r in valid))
            reader = reader_sql([path], SourceOptions(format="JSON"), columns)
            cur.execute("BEGIN")
            cur.execute(f"INSERT INTO {ref.duck()} BY NAME SELECT * FROM {reader}")
            cur.execute("COMMIT")
        except duckdb.Error as err:
            rollback(cur)
            raise duck_error(err, 1, 1) from None
        finally:
            path.unlink(missing_ok=True)
    response: dict[str, Any] = {"kind": "bigquery#tableDataInsertAllResponse"}
    if errors:
        response["insertErrors"] = errors
    return response


def _api_format(fmt: str) -> str:
    return {"JSON": "NEWLINE_DELIMITED_JSON"}.get(fmt, fmt)
