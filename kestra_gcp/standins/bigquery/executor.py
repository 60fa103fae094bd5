"""Runs the statements of a query job on DuckDB, BigQuery's way: each statement in its own transaction (a failed
statement leaves nothing behind), DDL semantics (IF NOT EXISTS, OR REPLACE, Already Exists), destination tables
with write/create dispositions, external tables refreshed from GCS before they are read."""

from __future__ import annotations

from typing import Any

import duckdb

from .errors import duck_error, duplicate, invalid, invalid_query, not_found, unsupported
from .gcs_objects import ObjectCache
from .outcome import Outcome, rollback
from .sources import SourceOptions, detect_columns, reader_sql
from .sql import ExternalSpec, Statement, TableRef, translate
from .transfers import ExportFormat, export_rows, require_dataset, write_rows
from .types import bq_field, quote_ident
from .warehouse import RESULTS, Warehouse, now_ms


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
        if default is not None and not default.get("datasetId"):
            raise invalid("Required parameter is missing: defaultDataset.datasetId")
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
                rollback(cur)
                raise duck_error(err, index, len(statements)) from None
            except BaseException:
                rollback(cur)
                raise
        return outcome

    def _statement(self, cur: duckdb.DuckDBPyConnection, st: Statement, out: Outcome, job_key: str,
                   config: dict[str, Any], last: bool, project: str) -> None:
        self._check_reads(cur, st)
        self._refresh_externals(cur, st)
        if st.kind == "SELECT":
            if last:
                out.result_table = self._select(cur, st, job_key, config, project)
        elif st.kind == "CREATE_SCHEMA":
            self._create_schema(cur, st, out)
        elif st.kind == "DROP_SCHEMA":
            self._drop_schema(cur, st, out)
        elif st.kind == "EXPORT_DATA":
            self._export(cur, st)
        elif st.kind == "CREATE_TEMP_TABLE":
            assert st.sql is not None
            cur.execute(st.sql)
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
        require_dataset(self.warehouse, cur, ref)

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
        write_rows(self.warehouse, cur, ref, st.sql, config.get("writeDisposition") or "WRITE_EMPTY",
                   config.get("createDisposition") or "CREATE_IF_NEEDED", None, config)
        return ref.duck()

    def _export(self, cur: duckdb.DuckDBPyConnection, st: Statement) -> None:
        assert st.sql is not None and st.export is not None
        options = st.export
        form = ExportFormat(fmt=str(options.get("format") or "CSV").upper(), header=bool(options.get("header")),
                            delimiter=str(options.get("field_delimiter") or ","),
                            gzip=str(options.get("compression") or "").upper() == "GZIP")
        export_rows(self.objects, cur, st.sql, str(options["uri"]), form, self.warehouse.data_dir / "_tmp")

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

    def _refresh_externals(self, cur: duckdb.DuckDBPyConnection, st: Statement) -> None:
        """External tables the statement reads, directly or (for any view it reads) through views."""
        view_projects = set()
        for ref in st.reads:
            meta = self.warehouse.table_meta(cur, ref)
            if meta.get("type") == "EXTERNAL":
                self._refresh_external(cur, ref, meta)
            elif meta.get("type") == "VIEW":
                view_projects.add(ref.project)
        for project in sorted(view_projects):
            for ref, meta in self.warehouse.external_tables(cur, project):
                self._refresh_external(cur, ref, meta)

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

def _api_format(fmt: str) -> str:
    return {"JSON": "NEWLINE_DELIMITED_JSON"}.get(fmt, fmt)


