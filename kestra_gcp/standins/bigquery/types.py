"""BigQuery <-> DuckDB types: schema fields for DuckDB columns, DuckDB types for BigQuery schemas, and the SQL
that renders a DuckDB value in the string form the BigQuery REST API uses in `rows[].f[].v`."""

from __future__ import annotations

from typing import Any, cast

from duckdb.sqltypes import DuckDBPyType

from .errors import invalid

NUMERIC_DUCK = "DECIMAL(38,9)"
BIGNUMERIC_DUCK = "DECIMAL(38,18)"

_SCALAR_TO_DUCK = {
    "STRING": "VARCHAR", "BYTES": "BLOB", "INTEGER": "BIGINT", "INT64": "BIGINT", "FLOAT": "DOUBLE",
    "FLOAT64": "DOUBLE", "NUMERIC": NUMERIC_DUCK, "DECIMAL": NUMERIC_DUCK, "BIGNUMERIC": BIGNUMERIC_DUCK,
    "BIGDECIMAL": BIGNUMERIC_DUCK, "BOOLEAN": "BOOLEAN", "BOOL": "BOOLEAN", "TIMESTAMP": "TIMESTAMPTZ",
    "DATE": "DATE", "TIME": "TIME", "DATETIME": "TIMESTAMP", "JSON": "JSON", "GEOGRAPHY": "VARCHAR",
}

_INTEGERS = {"tinyint", "smallint", "integer", "bigint", "hugeint", "utinyint", "usmallint", "uinteger",
             "ubigint", "uhugeint"}
_SIMPLE = {"varchar": "STRING", "blob": "BYTES", "boolean": "BOOLEAN", "float": "FLOAT", "double": "FLOAT",
           "date": "DATE", "time": "TIME", "timestamp with time zone": "TIMESTAMP", "timestamp": "DATETIME",
           "timestamp_ms": "DATETIME", "timestamp_s": "DATETIME", "timestamp_ns": "DATETIME", "uuid": "STRING",
           "interval": "STRING", "bit": "STRING", "enum": "STRING"}


def quote_ident(name: str) -> str:
    """A DuckDB quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


def _member(t: DuckDBPyType, name: str) -> Any:
    """A child of a DuckDB type: `child` of a list, `scale` of a decimal."""
    return dict(t.children)[name]


def _members(t: DuckDBPyType) -> list[tuple[str, DuckDBPyType]]:
    """The (name, type) members of a struct type."""
    return [(str(name), cast(DuckDBPyType, child)) for name, child in t.children]


def bq_type_name(t: DuckDBPyType) -> str:
    """The BigQuery (legacy REST) type name of a scalar DuckDB type."""
    if str(t) == "JSON":
        return "JSON"
    if t.id in _INTEGERS:
        return "INTEGER"
    if t.id == "decimal":
        scale = int(_member(t, "scale"))
        return "NUMERIC" if scale <= 9 else "BIGNUMERIC"
    return _SIMPLE.get(t.id, "STRING")


def bq_field(name: str, t: DuckDBPyType, nullable: bool = True, description: str | None = None) -> dict[str, Any]:
    """A BigQuery `TableFieldSchema` for a DuckDB column."""
    mode = "NULLABLE" if nullable else "REQUIRED"
    if t.id == "list":
        t = _member(t, "child")
        mode = "REPEATED"
    field: dict[str, Any] = {"name": name, "mode": mode}
    if t.id == "struct":
        field["type"] = "RECORD"
        field["fields"] = [bq_field(child_name, child_type) for child_name, child_type in _members(t)]
    else:
        field["type"] = bq_type_name(t)
    if description:
        field["description"] = description
    return field


def duck_type(field: dict[str, Any]) -> str:
    """The DuckDB column type for a BigQuery `TableFieldSchema` (as given in load jobs and tables.insert)."""
    kind = str(field.get("type", "STRING")).upper()
    if kind in ("RECORD", "STRUCT"):
        members = ", ".join(f"{quote_ident(f['name'])} {duck_type(f)}" for f in field.get("fields", []))
        base = f"STRUCT({members})"
    elif kind in _SCALAR_TO_DUCK:
        base = _SCALAR_TO_DUCK[kind]
    else:
        raise invalid(f"Unsupported field type {kind} for field {field.get('name')}")
    return base + "[]" if str(field.get("mode", "")).upper() == "REPEATED" else base


def value_sql(column: str, t: DuckDBPyType, int64_timestamp: bool) -> str:
    """SQL rendering a scalar `column` (any SQL expression) as the VARCHAR the REST API sends as a cell's `v`."""
    kind = bq_type_name(t)
    if kind == "BYTES":
        return f"base64({column})"
    if kind == "TIMESTAMP":
        if int64_timestamp:
            return f"CAST(epoch_us({column}) AS VARCHAR)"
        return f"CAST(epoch_us({column}) / 1e6 AS VARCHAR)"
    if kind == "DATETIME":
        return f"strftime({column}, '%Y-%m-%dT%H:%M:%S.%f')"
    if kind in ("NUMERIC", "BIGNUMERIC", "FLOAT"):
        return f"bq_string({column})"
    return f"CAST({column} AS VARCHAR)"


def cell_sql(column: str, t: DuckDBPyType, int64_timestamp: bool, depth: int = 0) -> str:
    """SQL for a cell's `v` (VARCHAR for scalars, JSON for REPEATED `[{"v": ...}]` and RECORD `{"f": [...]}`)."""
    if t.id == "list":
        var = f"x{depth}"
        inner = cell_sql(var, _member(t, "child"), int64_timestamp, depth + 1)
        return (f"CASE WHEN {column} IS NULL THEN json('[]') ELSE "
                f"to_json(list_transform({column}, lambda {var}: json_object('v', {inner}))) END")
    if t.id == "struct":
        parts = []
        for name, child in _members(t):
            member = f"struct_extract({column}, {quote_literal(name)})"
            parts.append(f"json_object('v', {cell_sql(member, child, int64_timestamp, depth + 1)})")
        members = ", ".join(parts)
        return f"CASE WHEN {column} IS NULL THEN NULL ELSE json_object('f', json_array({members})) END"
    return value_sql(column, t, int64_timestamp)


def row_sql(columns: list[tuple[str, DuckDBPyType]], int64_timestamp: bool) -> str:
    """SQL rendering a whole row as the REST API's `{"f": [{"v": ...}, ...]}` JSON text."""
    cells = ", ".join(f"json_object('v', {cell_sql(quote_ident(name), t, int64_timestamp)})" for name, t in columns)
    return f"CAST(json_object('f', json_array({cells})) AS VARCHAR)"
