"""Runs the statements of a query job and load jobs on DuckDB, BigQuery's way: each statement in its own
transaction (a failed statement leaves nothing behind), DDL semantics (IF NOT EXISTS, OR REPLACE, Already Exists),
destination tables with write/create dispositions, external tables refreshed from GCS before they are read."""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from .errors import BigQueryError, duplicate, invalid, invalid_query, not_found, unsupported
from .gcs_objects import ObjectCache
from .sources import SourceOptions, detect_columns, reader_sql
from .sql import ExternalSpec, Statement, TableRef, translate
from .types import duck_type, quote_ident, quote_literal
from .warehouse import RESULTS, Warehouse, now_ms


@dataclass
class Outcome:
    """What a job produced: where its rows are (if any) and its statistics."""

    statement_type: str = ""
    result_table: str | None = None
    ddl_operation: str | None = None
    ddl_target: TableRef | None = None
    dml_rows: int | None = None
    load: dict[str, Any] = field(default_factory=dict)


def duck_error(err: duckdb.Error, statement: int, count: int) -> BigQueryError:
    """A DuckDB error as BigQuery would report it: one line, with the statement number in a script."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    for prefix in ("Binder Error: ", "Parser Error: ", "Catalog Error: ", "Conversion Error: ",
                   "Invalid Input Error: ", "Constraint Error: "):
        text = text.removeprefix(prefix)
    where = f" (statement {statement})" if count > 1 else ""
    if isinstance(err, duckdb.TransactionException):
        return BigQueryError(503, "backendError", f"Transaction conflict, please retry: {text}{where}")
    if isinstance(err, duckdb.CatalogException) and "does not exist" in text:
        return not_found(f"Not found: {text}{where}")
    if isinstance(err, duckdb.ConversionException | duckdb.InvalidInputException | duckdb.ConstraintException):
        return invalid(f"Error while reading data: {text}{where}")
    if isinstance(err, duckdb.InterruptException):
        return BigQueryError(400, "stopped", "Job execution was cancelled: User requested cancellation")
    if isinstance(err, duckdb.InternalException | duckdb.OutOfMemoryException | duckdb.IOException):
        # Not 5xx: clients retry those for minutes, and re-running will not help.
        return BigQueryError(400, "invalid", f"Local BigQuery stand-in failed: {text}{where}")
    return invalid_query(f"{text}{where}")


class Executor:
    """Executes job configurations against the warehouse; one job at a time per cursor."""

    def __init__(self, warehouse: Warehouse, objects: ObjectCache) -> None:
        self.warehouse = warehouse
        self.objects = objects

    # --- query jobs ----------------------------------------------------------------------------------------
    def plan(self, project: str, config: dict[str, Any]) -> list[Statement]:
        if config.get("useLegacySql") is True:
            raise unsupported("Legacy SQL")
        if not str(config.get("query", "")).strip():
            raise invalid("Required parameter is missing: query")
        default = config.get("defaultDataset")
        default_ds = (default.get("projectId") or project, default["datasetId"]) if default else None
        return translate(config["query"], project, default_ds, config.get("queryParameters"))

    def dry_run(self, cur: duckdb.DuckDBPyConnection, project: str, config: dict[str, Any]) -> dict[str, Any]:
        """Validate a query without side effects; returns the schema of its result (if it has one)."""
        statements = self.plan(project, config)
        schema: dict[str, Any] = {}
        for st in statements:
            for p in st.projects:
                self.warehouse.open_project(p)
            self._check_reads(cur, st)
        last = statements[-1]
        if last.returns_rows and last.sql:
            try:
                described = cur.execute(f"DESCRIBE {last.sql}").fetchall()
            except duckdb.Error as err:
                raise duck_error(err, len(statements), len(statements)) from None
            from .types import bq_field

            schema = {"fields": [bq_field(str(r[0]), duckdb.sqltype(str(r[1]))) for r in described]}
        return {"statementType": last.kind if len(statements) == 1 else "SCRIPT", "schema": schema}

    def run_query(self, cur: duckdb.DuckDBPyConnection, project: str, job_key: str,
                  config: dict[str, Any]) -> Outcome:
        statements = self.plan(project, config)
        outcome = Outcome(statement_type=statements[0].kind if len(statements) == 1 else "SCRIPT")
        for index, st in enumerate(statements, start=1):
            for p in st.projects:
                self.warehouse.open_project(p)
            try:
                self._statement(cur, st, outcome, job_key, config, index == len(statements), project)
            except duckdb.Error as err:
                _rollback(cur)
                raise duck_error(err, index, len(statements)) from None
            except BaseException:
                _rollback(cur)
                raise
        return outcome

    def _statement(self, cur: duckdb.DuckDBPyConnection, st: Statement, out: Outcome, job_key: str,
                   config: dict[str, Any], last: bool, project: str) -> None:
        self._check_reads(cur, st)
        for ref in st.reads:
            meta = self.warehouse.table_meta(cur, ref)
            if meta.get("type") == "EXTERNAL":
                self._refresh_external(cur, ref, meta)
        if st.kind == "SELECT":
            if last:
                out.result_table = self._select(cur, st, job_key, config, project)
        elif st.kind == "CREATE_SCHEMA":
            self._create_schema(cur, st, out)
        elif st.kind == "DROP_SCHEMA":
            self._drop_schema(cur, st, out)
        elif st.kind == "CREATE_EXTERNAL_TABLE":
            self._create_external(cur, st, out)
        elif st.kind.startswith("CREATE_"):
            self._create(cur, st, out)
        elif st.kind.startswith("DROP_"):
            self._drop(cur, st, out)
        elif st.kind == "ALTER_TABLE":
            self._alter(cur, st, out)
        else:
            self._dml(cur, st, out)

    def _check_reads(self, cur: duckdb.DuckDBPyConnection, st: Statement) -> None:
        """BigQuery's not-found messages for every table the statement reads or modifies."""
        refs = set(st.reads)
        if st.target is not None and st.kind in ("INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE_TABLE",
                                                 "ALTER_TABLE"):
            refs.add(st.target)
        if st.target is not None and (st.kind.startswith("CREATE_") or st.kind.startswith("DROP_")):
            self._require_dataset(cur, st.target)
        for ref in sorted(refs, key=lambda r: (r.project, r.dataset, r.table)):
            if self.warehouse.object_kind(cur, ref) is None:
                self._require_dataset(cur, ref)
                raise not_found(f"Not found: Table {ref.bq_id()} was not found")

    def _require_dataset(self, cur: duckdb.DuckDBPyConnection, ref: TableRef) -> None:
        if not self.warehouse.dataset_exists(cur, ref.project, ref.dataset):
            raise not_found(f"Not found: Dataset {ref.project}:{ref.dataset} was not found")

    def _select(self, cur: duckdb.DuckDBPyConnection, st: Statement, job_key: str,
                config: dict[str, Any], project: str) -> str:
        assert st.sql is not None
        dest = config.get("destinationTable")
        if not dest:
            table = f"{quote_ident(RESULTS)}.main.{quote_ident(job_key)}"
            cur.execute(f"CREATE OR REPLACE TABLE {table} AS {st.sql}")
            return table
        ref = TableRef(dest.get("projectId") or project, dest["datasetId"], dest["tableId"])
        self.warehouse.open_project(ref.project)
        self._write_rows(cur, ref, st.sql, config.get("writeDisposition") or "WRITE_EMPTY",
                         config.get("createDisposition") or "CREATE_IF_NEEDED", None)
        return ref.duck()

    def _write_rows(self, cur: duckdb.DuckDBPyConnection, ref: TableRef, select_sql: str, write: str,
                    create: str, columns: list[tuple[str, str]] | None) -> int:
        """Write a query's rows to a table per the dispositions, atomically; returns the rows written."""
        self._require_dataset(cur, ref)
        kind = self.warehouse.object_kind(cur, ref)
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
            self.warehouse.put_table_meta(cur, ref, {"type": "TABLE", "creationTime": stamp,
                                                     "lastModifiedTime": stamp})
        row = cur.execute(f"INSERT INTO {ref.duck()} BY NAME {select_sql}").fetchone()
        cur.execute("COMMIT")
        return int(row[0]) if row else 0

    def _create(self, cur: duckdb.DuckDBPyConnection, st: Statement, out: Outcome) -> None:
        assert st.target is not None and st.sql is not None
        existing = self.warehouse.object_kind(cur, st.target)
        out.ddl_target = st.target
        if existing and st.if_not_exists:
            out.ddl_operation = "SKIP"
            return
        if existing and not st.replace:
            raise duplicate(f"Already Exists: Table {st.target.bq_id()}")
        cur.execute("BEGIN")
        if existing:
            self.warehouse.drop_object(cur, st.target)
        cur.execute(st.sql)
        stamp = now_ms()
        meta = {"type": st.object_kind, "creationTime": stamp, "lastModifiedTime": stamp, **st.table_meta}
        self.warehouse.put_table_meta(cur, st.target, meta)
        cur.execute("COMMIT")
        out.ddl_operation = "REPLACE" if existing else "CREATE"

    def _alter(self, cur: duckdb.DuckDBPyConnection, st: Statement, out: Outcome) -> None:
        assert st.target is not None
        out.ddl_target = st.target
        meta = self.warehouse.table_meta(cur, st.target)
        cur.execute("BEGIN")
        if st.sql:
            cur.execute(st.sql)
        meta.update(st.table_meta, lastModifiedTime=now_ms())
        self.warehouse.drop_table_meta(cur, st.target)
        target = TableRef(st.target.project, st.target.dataset, st.renamed_to) if st.renamed_to else st.target
        self.warehouse.put_table_meta(cur, target, meta)
        cur.execute("COMMIT")
        out.ddl_operation = "ALTER"

    def _drop(self, cur: duckdb.DuckDBPyConnection, st: Statement, out: Outcome) -> None:
        assert st.target is not None
        out.ddl_target = st.target
        cur.execute("BEGIN")
        dropped = self.warehouse.drop_object(cur, st.target)
        cur.execute("COMMIT")
        if not dropped and not st.if_exists:
            raise not_found(f"Not found: Table {st.target.bq_id()}")
        out.ddl_operation = "DROP" if dropped else "SKIP"

    def _dml(self, cur: duckdb.DuckDBPyConnection, st: Statement, out: Outcome) -> None:
        assert st.sql is not None
        cur.execute("BEGIN")
        row = cur.execute(st.sql).fetchone()
        cur.execute("COMMIT")
        if st.kind != "TRUNCATE_TABLE":
            out.dml_rows = (out.dml_rows or 0) + (int(row[0]) if row and row[0] is not None else 0)

    def _create_schema(self, cur: duckdb.DuckDBPyConnection, st: Statement, out: Outcome) -> None:
        assert st.dataset is not None
        project, dataset = st.dataset
        exists = self.warehouse.dataset_exists(cur, project, dataset)
        if exists and not st.if_not_exists:
            raise duplicate(f"Already Exists: Dataset {project}:{dataset}")
        if not exists:
            self.warehouse.create_dataset(cur, project, dataset, st.table_meta)
        out.ddl_operation = "SKIP" if exists else "CREATE"

    def _drop_schema(self, cur: duckdb.DuckDBPyConnection, st: Statement, out: Outcome) -> None:
        assert st.dataset is not None
        project, dataset = st.dataset
        if not self.warehouse.dataset_exists(cur, project, dataset):
            if st.if_exists:
                out.ddl_operation = "SKIP"
                return
            raise not_found(f"Not found: Dataset {project}:{dataset}")
        self.warehouse.delete_dataset(cur, project, dataset, st.cascade)
        out.ddl_operation = "DROP"

    # --- external tables -----------------------------------------------------------------------------------
    def _create_external(self, cur: duckdb.DuckDBPyConnection, st: Statement, out: Outcome) -> None:
        assert st.target is not None and st.external is not None
        existing = self.warehouse.object_kind(cur, st.target)
        out.ddl_target = st.target
        if existing and st.if_not_exists:
            out.ddl_operation = "SKIP"
            return
        if existing and not st.replace:
            raise duplicate(f"Already Exists: Table {st.target.bq_id()}")
        spec: ExternalSpec = st.external
        uris = spec.options.get("uris")
        if isinstance(uris, str):
            uris = [uris]
        if not uris:
            raise invalid_query("CREATE EXTERNAL TABLE requires OPTIONS(uris=[...])")
        options = SourceOptions.parse(spec.options)
        paths = self.objects.fetch(list(uris))
        columns = spec.columns or detect_columns(cur, paths, options)
        stamp = now_ms()
        config: dict[str, Any] = {"sourceUris": list(uris), "sourceFormat": _api_format(options.format),
                                  "autodetect": not spec.columns,
                                  "ignoreUnknownValues": options.ignore_unknown_values}
        if options.format == "CSV":
            config["csvOptions"] = {"skipLeadingRows": str(options.skip_leading_rows),
                                    "fieldDelimiter": options.field_delimiter, "quote": options.quote,
                                    "allowJaggedRows": options.allow_jagged_rows}
        meta = {"type": "EXTERNAL", "creationTime": stamp, "lastModifiedTime": stamp,
                "externalDataConfiguration": config, "sourceOptions": spec.options, "columns": columns,
                "paths": [str(p) for p in paths], **st.table_meta}
        cur.execute("BEGIN")
        if existing:
            self.warehouse.drop_object(cur, st.target)
        cur.execute(f"CREATE VIEW {st.target.duck()} AS SELECT * FROM {reader_sql(paths, options, columns)}")
        self.warehouse.put_table_meta(cur, st.target, meta)
        cur.execute("COMMIT")
        out.ddl_operation = "REPLACE" if existing else "CREATE"

    def _refresh_external(self, cur: duckdb.DuckDBPyConnection, ref: TableRef, meta: dict[str, Any]) -> None:
        """External tables read their objects at query time: re-point the view if an object changed."""
        paths = self.objects.fetch(list(meta["externalDataConfiguration"]["sourceUris"]))
        if [str(p) for p in paths] == meta.get("paths"):
            return
        options = SourceOptions.parse(meta["sourceOptions"])
        columns = [(str(n), str(t)) for n, t in meta["columns"]]
        cur.execute("BEGIN")
        cur.execute(f"CREATE OR REPLACE VIEW {ref.duck()} AS SELECT * FROM {reader_sql(paths, options, columns)}")
        self.warehouse.put_table_meta(cur, ref, dict(meta, paths=[str(p) for p in paths]))
        cur.execute("COMMIT")

    # --- copy and extract jobs -----------------------------------------------------------------------------
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
            self._write_rows(cur, target, select, config.get("writeDisposition") or "WRITE_EMPTY",
                             config.get("createDisposition") or "CREATE_IF_NEEDED", None)
        except duckdb.Error as err:
            _rollback(cur)
            raise duck_error(err, 1, 1) from None
        except BaseException:
            _rollback(cur)
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
        fmt = str(config.get("destinationFormat") or "CSV").upper()
        gzip = str(config.get("compression") or "NONE").upper() == "GZIP"
        options = {"CSV": [f"FORMAT csv, HEADER {str(config.get('printHeader', True)).lower()}",
                           f"DELIMITER {quote_literal(str(config.get('fieldDelimiter') or ','))}"],
                   "NEWLINE_DELIMITED_JSON": ["FORMAT json"], "PARQUET": ["FORMAT parquet"]}.get(fmt)
        if options is None:
            raise unsupported(f"Extract format {fmt}")
        if gzip and fmt != "PARQUET":
            options.append("COMPRESSION gzip")
        scratch.mkdir(parents=True, exist_ok=True)
        local = scratch / f"extract-{uuid.uuid4().hex}"
        try:
            cur.execute(f"COPY (SELECT * FROM {ref.duck()}) TO {quote_literal(str(local))} ({', '.join(options)})")
            content_type = {"CSV": "text/csv", "PARQUET": "application/octet-stream"}.get(fmt, "application/json")
            uri = str(uris[0]).replace("*", "000000000000")
            size = self.objects.upload(local, uri, content_type)
        except duckdb.Error as err:
            raise duck_error(err, 1, 1) from None
        finally:
            local.unlink(missing_ok=True)
        return Outcome(statement_type="EXTRACT", load={"destinationUriFileCounts": ["1"],
                                                       "inputBytes": str(size)})

    # --- load jobs -----------------------------------------------------------------------------------------
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
            rows = self._write_rows(cur, ref, select, config.get("writeDisposition") or "WRITE_APPEND",
                                    config.get("createDisposition") or "CREATE_IF_NEEDED", columns or None)
        except duckdb.Error as err:
            _rollback(cur)
            raise duck_error(err, 1, 1) from None
        except BaseException:
            _rollback(cur)
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


def _api_format(fmt: str) -> str:
    return {"JSON": "NEWLINE_DELIMITED_JSON"}.get(fmt, fmt)


def _rollback(cur: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        cur.execute("ROLLBACK")


def config_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
