"""The DuckDB side of the stand-in: one DuckDB file per project, attached to an in-memory hub connection under the
project id (so `"project"."dataset"."table"` resolves), datasets as schemas, and the BigQuery metadata DuckDB has
no place for (locations, descriptions, partitioning, external table definitions) in a hidden schema of each file.

It also renders the REST resources of datasets and tables."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from .errors import BigQueryError, duplicate, invalid, not_found
from .sql import META_SCHEMA, TableRef
from .types import bq_field, duck_type, quote_ident, quote_literal

META = META_SCHEMA
RESULTS = "__standin-results"
MEMORY_LIMIT = "1GB"  # beyond this DuckDB spills to data_dir/_tmp
_PROJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
_DATASET_RE = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
_RESERVED = {"memory", "system", "temp", "main", RESULTS}

_BQ_STRING_MACRO = r"""CREATE OR REPLACE MACRO bq_string(x) AS CASE
 WHEN typeof(x) LIKE 'DECIMAL(%' THEN
   regexp_replace(regexp_replace(CAST(x AS VARCHAR), '(\.[0-9]*[1-9])0+$', '\1'), '\.0+$', '')
 WHEN typeof(x) IN ('DOUBLE', 'FLOAT') THEN regexp_replace(CAST(x AS VARCHAR), '\.0$', '')
 ELSE CAST(x AS VARCHAR) END"""
_BQ_DIVIDE_MACRO = """CREATE OR REPLACE MACRO bq_divide(a, b) AS CASE
 WHEN b = 0 THEN error('division by zero: ' || CAST(a AS VARCHAR) || ' / ' || CAST(b AS VARCHAR))
 ELSE a / b END"""


def now_ms() -> str:
    return str(int(time.time() * 1000))


class Warehouse:
    """DuckDB catalog shared by all requests; hand each thread its own `cursor()`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        results = self.data_dir / "_results.duckdb"
        for stale in (results, results.with_suffix(".duckdb.wal")):
            stale.unlink(missing_ok=True)
        self._con = duckdb.connect(":memory:")
        self._con.execute("SET GLOBAL TimeZone = 'UTC'")
        self._con.execute(f"SET GLOBAL memory_limit = {quote_literal(MEMORY_LIMIT)}")
        self._con.execute(f"SET temp_directory = {quote_literal(str(self.data_dir / '_tmp'))}")
        self._con.execute(_BQ_STRING_MACRO)
        self._con.execute(_BQ_DIVIDE_MACRO)
        self._con.execute(f"ATTACH {quote_literal(str(results))} AS {quote_ident(RESULTS)}")
        self._lock = threading.RLock()
        self._attached: set[str] = set()

    def close(self) -> None:
        self._con.close()

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self._con.cursor()
        cur.execute("SET TimeZone = 'UTC'")  # BigQuery computes in UTC whatever the host's zone
        try:
            yield cur
        finally:
            cur.close()

    # --- projects ------------------------------------------------------------------------------------------
    def open_project(self, project: str) -> bool:
        """Attach the project's DuckDB file if it exists; False for a project nothing was ever written to."""
        if project in self._attached:
            return True
        if not _PROJECT_RE.match(project) or project.lower() in _RESERVED:
            raise invalid(f"Invalid project ID '{project}'")
        if not (self.data_dir / f"{project}.duckdb").exists():
            return False
        self.ensure_project(project)
        return True

    def ensure_project(self, project: str) -> None:
        """Attach (creating if needed) the project's DuckDB file: projects exist on demand."""
        if project in self._attached:
            return
        if not _PROJECT_RE.match(project) or project.lower() in _RESERVED:
            raise invalid(f"Invalid project ID '{project}'")
        with self._lock:
            if project in self._attached:
                return
            path = self.data_dir / f"{project}.duckdb"
            self._con.execute(f"ATTACH IF NOT EXISTS {quote_literal(str(path))} AS {quote_ident(project)}")
            meta = f"{quote_ident(project)}.{quote_ident(META)}"
            self._con.execute(f"CREATE SCHEMA IF NOT EXISTS {meta}")
            self._con.execute(f"CREATE TABLE IF NOT EXISTS {meta}.datasets (dataset_id VARCHAR PRIMARY KEY, "
                              "meta VARCHAR)")
            self._con.execute(f"CREATE TABLE IF NOT EXISTS {meta}.tables (dataset_id VARCHAR, table_id VARCHAR, "
                              "meta VARCHAR, PRIMARY KEY (dataset_id, table_id))")
            self._attached.add(project)

    # --- datasets ------------------------------------------------------------------------------------------
    def dataset_exists(self, cur: duckdb.DuckDBPyConnection, project: str, dataset: str) -> bool:
        if not self.open_project(project):
            return False
        if dataset in ("main", META):
            return self._dataset_meta(cur, project, dataset) is not None
        row = cur.execute("SELECT 1 FROM duckdb_schemas() WHERE database_name = ? AND schema_name = ?",
                          [project, dataset]).fetchone()
        return row is not None

    def _dataset_meta(self, cur: duckdb.DuckDBPyConnection, project: str, dataset: str) -> dict[str, Any] | None:
        row = cur.execute(f"SELECT meta FROM {quote_ident(project)}.{quote_ident(META)}.datasets "
                          "WHERE dataset_id = ?", [dataset]).fetchone()
        return json.loads(row[0]) if row else None

    def create_dataset(self, cur: duckdb.DuckDBPyConnection, project: str, dataset: str,
                       resource: dict[str, Any], exists_ok: bool = False) -> dict[str, Any]:
        if not _DATASET_RE.match(dataset) or dataset == META:
            raise invalid(f"Invalid dataset ID \"{dataset}\". Dataset IDs must be alphanumeric (plus underscores) "
                          "and must be at most 1024 characters long.")
        self.ensure_project(project)
        if self.dataset_exists(cur, project, dataset):
            if exists_ok:
                return self.dataset_resource(cur, project, dataset)
            raise duplicate(f"Already Exists: Dataset {project}:{dataset}")
        stamp = now_ms()
        meta = {k: v for k, v in resource.items() if k in ("location", "description", "labels", "friendlyName",
                                                            "defaultTableExpirationMs")}
        meta.setdefault("location", "US")
        meta.update(creationTime=stamp, lastModifiedTime=stamp)
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(project)}.{quote_ident(dataset)}")
        cur.execute(f"INSERT OR REPLACE INTO {quote_ident(project)}.{quote_ident(META)}.datasets VALUES (?, ?)",
                    [dataset, json.dumps(meta)])
        return self.dataset_resource(cur, project, dataset)

    def dataset_resource(self, cur: duckdb.DuckDBPyConnection, project: str, dataset: str) -> dict[str, Any]:
        if not self.dataset_exists(cur, project, dataset):
            raise not_found(f"Not found: Dataset {project}:{dataset}")
        meta = self._dataset_meta(cur, project, dataset) or {"location": "US", "creationTime": now_ms(),
                                                             "lastModifiedTime": now_ms()}
        return {"kind": "bigquery#dataset", "id": f"{project}:{dataset}", "etag": meta["lastModifiedTime"],
                "datasetReference": {"projectId": project, "datasetId": dataset}, **meta}

    def update_dataset(self, cur: duckdb.DuckDBPyConnection, project: str, dataset: str,
                       patch: dict[str, Any]) -> dict[str, Any]:
        """datasets.patch: only the descriptive fields change."""
        self.require_dataset(cur, project, dataset)
        meta = self._dataset_meta(cur, project, dataset) or {"location": "US", "creationTime": now_ms()}
        for key in ("description", "labels", "friendlyName", "defaultTableExpirationMs"):
            if key in patch:
                meta[key] = patch[key]
        meta["lastModifiedTime"] = now_ms()
        cur.execute(f"INSERT OR REPLACE INTO {quote_ident(project)}.{quote_ident(META)}.datasets VALUES (?, ?)",
                    [dataset, json.dumps(meta)])
        return self.dataset_resource(cur, project, dataset)

    def list_datasets(self, cur: duckdb.DuckDBPyConnection, project: str) -> list[dict[str, Any]]:
        if not self.open_project(project):
            return []
        names = [r[0] for r in cur.execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ? ORDER BY schema_name",
            [project]).fetchall()]
        return [self.dataset_resource(cur, project, n) for n in names if self.dataset_exists(cur, project, n)]

    def delete_dataset(self, cur: duckdb.DuckDBPyConnection, project: str, dataset: str,
                       delete_contents: bool) -> None:
        if not self.dataset_exists(cur, project, dataset):
            raise not_found(f"Not found: Dataset {project}:{dataset}")
        if self.table_names(cur, project, dataset) and not delete_contents:
            raise BigQueryError(400, "resourceInUse", f"Dataset {project}:{dataset} is still in use")
        meta = f"{quote_ident(project)}.{quote_ident(META)}"
        cur.execute("BEGIN")
        try:
            if dataset != "main":
                cur.execute(f"DROP SCHEMA {quote_ident(project)}.{quote_ident(dataset)} CASCADE")
            cur.execute(f"DELETE FROM {meta}.datasets WHERE dataset_id = ?", [dataset])
            cur.execute(f"DELETE FROM {meta}.tables WHERE dataset_id = ?", [dataset])
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    # --- tables --------------------------------------------------------------------------------------------
    def table_names(self, cur: duckdb.DuckDBPyConnection, project: str, dataset: str) -> list[str]:
        rows = cur.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
                           "UNION SELECT view_name FROM duckdb_views() WHERE database_name = ? AND schema_name = ? "
                           "ORDER BY 1", [project, dataset, project, dataset]).fetchall()
        return [r[0] for r in rows]

    def object_kind(self, cur: duckdb.DuckDBPyConnection, ref: TableRef) -> str | None:
        """"TABLE", "VIEW" (DuckDB view: a BigQuery view or external table) or None."""
        if not self.open_project(ref.project):
            return None
        args = [ref.project, ref.dataset, ref.table]
        if cur.execute("SELECT 1 FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
                       "AND lower(table_name) = lower(?)", args).fetchone():
            return "TABLE"
        if cur.execute("SELECT 1 FROM duckdb_views() WHERE database_name = ? AND schema_name = ? "
                       "AND lower(view_name) = lower(?)", args).fetchone():
            return "VIEW"
        return None

    def table_meta(self, cur: duckdb.DuckDBPyConnection, ref: TableRef) -> dict[str, Any]:
        if not self.open_project(ref.project):
            return {}
        row = cur.execute(f"SELECT meta FROM {quote_ident(ref.project)}.{quote_ident(META)}.tables "
                          "WHERE dataset_id = ? AND lower(table_id) = lower(?)", [ref.dataset, ref.table]).fetchone()
        return json.loads(row[0]) if row else {}

    def external_tables(self, cur: duckdb.DuckDBPyConnection, project: str) -> list[tuple[TableRef, dict[str, Any]]]:
        """Every external table of a project with its metadata."""
        if not self.open_project(project):
            return []
        rows = cur.execute(f"SELECT dataset_id, table_id, meta FROM {quote_ident(project)}.{quote_ident(META)}.tables "
                           "WHERE json_extract_string(meta, '$.type') = 'EXTERNAL'").fetchall()
        return [(TableRef(project, str(d), str(t)), json.loads(m)) for d, t, m in rows]

    def put_table_meta(self, cur: duckdb.DuckDBPyConnection, ref: TableRef, meta: dict[str, Any]) -> None:
        self.drop_table_meta(cur, ref)
        cur.execute(f"INSERT INTO {quote_ident(ref.project)}.{quote_ident(META)}.tables VALUES (?, ?, ?)",
                    [ref.dataset, ref.table, json.dumps(meta)])

    def drop_table_meta(self, cur: duckdb.DuckDBPyConnection, ref: TableRef) -> None:
        cur.execute(f"DELETE FROM {quote_ident(ref.project)}.{quote_ident(META)}.tables "
                    "WHERE dataset_id = ? AND lower(table_id) = lower(?)", [ref.dataset, ref.table])

    def require_dataset(self, cur: duckdb.DuckDBPyConnection, project: str, dataset: str) -> None:
        if not self.dataset_exists(cur, project, dataset):
            raise not_found(f"Not found: Dataset {project}:{dataset}")

    def schema_fields(self, cur: duckdb.DuckDBPyConnection, ref: TableRef,
                      descriptions: dict[str, str] | None = None) -> list[dict[str, Any]]:
        rows = cur.execute("SELECT column_name, data_type, is_nullable FROM duckdb_columns() "
                           "WHERE database_name = ? AND schema_name = ? AND lower(table_name) = lower(?) "
                           "ORDER BY column_index", [ref.project, ref.dataset, ref.table]).fetchall()
        descriptions = descriptions or {}
        return [bq_field(name, duckdb.sqltype(kind), bool(nullable), descriptions.get(name))
                for name, kind, nullable in rows]

    def table_resource(self, cur: duckdb.DuckDBPyConnection, ref: TableRef) -> dict[str, Any]:
        kind = self.object_kind(cur, ref)
        if kind is None:
            self.require_dataset(cur, ref.project, ref.dataset)
            raise not_found(f"Not found: Table {ref.bq_id()}")
        meta = self.table_meta(cur, ref)
        bq_type = meta.get("type") or ("VIEW" if kind == "VIEW" else "TABLE")
        stamp = meta.get("creationTime") or now_ms()
        resource: dict[str, Any] = {
            "kind": "bigquery#table", "id": ref.bq_id(), "etag": meta.get("lastModifiedTime", stamp),
            "tableReference": ref.api(), "type": bq_type,
            "schema": {"fields": self.schema_fields(cur, ref, meta.get("descriptions"))},
            "creationTime": stamp, "lastModifiedTime": meta.get("lastModifiedTime", stamp),
            "location": (self._dataset_meta(cur, ref.project, ref.dataset) or {}).get("location", "US"),
        }
        for key in ("timePartitioning", "clustering", "description", "labels", "externalDataConfiguration",
                    "view"):
            if key in meta:
                resource[key] = meta[key]
        if bq_type == "TABLE":
            rows = cur.execute(f"SELECT count(*) FROM {ref.duck()}").fetchone()
            resource["numRows"] = str(rows[0] if rows else 0)
            size = cur.execute("SELECT estimated_size * column_count * 8 FROM duckdb_tables() WHERE "
                               "database_name = ? AND schema_name = ? AND lower(table_name) = lower(?)",
                               [ref.project, ref.dataset, ref.table]).fetchone()
            resource["numBytes"] = str(size[0] if size and size[0] else 0)
        return resource

    def list_tables(self, cur: duckdb.DuckDBPyConnection, project: str, dataset: str) -> list[dict[str, Any]]:
        self.require_dataset(cur, project, dataset)
        items = []
        for name in self.table_names(cur, project, dataset):
            ref = TableRef(project, dataset, name)
            meta = self.table_meta(cur, ref)
            kind = meta.get("type") or ("VIEW" if self.object_kind(cur, ref) == "VIEW" else "TABLE")
            items.append({"kind": "bigquery#table", "id": ref.bq_id(), "tableReference": ref.api(),
                          "type": kind, "creationTime": meta.get("creationTime", now_ms())})
        return items

    def create_table(self, cur: duckdb.DuckDBPyConnection, ref: TableRef, resource: dict[str, Any]) -> None:
        """tables.insert: a native table from a schema, or a view from `view.query`."""
        self.require_dataset(cur, ref.project, ref.dataset)
        if self.object_kind(cur, ref) is not None:
            raise duplicate(f"Already Exists: Table {ref.bq_id()}")
        fields = (resource.get("schema") or {}).get("fields") or []
        stamp = now_ms()
        meta: dict[str, Any] = {"type": "TABLE", "creationTime": stamp, "lastModifiedTime": stamp}
        for key in ("timePartitioning", "clustering", "description", "labels"):
            if key in resource:
                meta[key] = resource[key]
        descriptions = {f["name"]: f["description"] for f in fields if f.get("description")}
        if descriptions:
            meta["descriptions"] = descriptions
        if resource.get("view") or resource.get("externalDataConfiguration"):
            raise invalid("Creating views or external tables through tables.insert is not supported by the local "
                          "BigQuery stand-in; use CREATE VIEW / CREATE EXTERNAL TABLE")
        if not fields:
            raise invalid(f"Table {ref.bq_id()} needs a schema")
        columns = []
        for f in fields:
            required = " NOT NULL" if str(f.get("mode", "")).upper() == "REQUIRED" else ""
            columns.append(f"{quote_ident(f['name'])} {duck_type(f)}{required}")
        cur.execute("BEGIN")
        try:
            cur.execute(f"CREATE TABLE {ref.duck()} ({', '.join(columns)})")
            self.put_table_meta(cur, ref, meta)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def update_table(self, cur: duckdb.DuckDBPyConnection, ref: TableRef, patch: dict[str, Any]) -> None:
        """tables.patch/update: descriptive metadata only (description, labels, field descriptions)."""
        if self.object_kind(cur, ref) is None:
            self.require_dataset(cur, ref.project, ref.dataset)
            raise not_found(f"Not found: Table {ref.bq_id()}")
        meta = self.table_meta(cur, ref) or {"type": "TABLE", "creationTime": now_ms()}
        for key in ("description", "labels", "friendlyName"):
            if key in patch:
                meta[key] = patch[key]
        fields = (patch.get("schema") or {}).get("fields") or []
        descriptions = dict(meta.get("descriptions") or {})
        descriptions.update({f["name"]: f["description"] for f in fields if f.get("description")})
        if descriptions:
            meta["descriptions"] = descriptions
        meta["lastModifiedTime"] = now_ms()
        cur.execute("BEGIN")
        self.put_table_meta(cur, ref, meta)
        cur.execute("COMMIT")

    def drop_object(self, cur: duckdb.DuckDBPyConnection, ref: TableRef) -> bool:
        """Drop a table, view or external table and its metadata; False if there was none."""
        kind = self.object_kind(cur, ref)
        if kind is None:
            return False
        cur.execute(f"DROP {kind} {ref.duck()}")
        self.drop_table_meta(cur, ref)
        return True
