"""DuckDB readers (`read_csv`, `read_json`, `read_parquet`) for external tables and load jobs.

BigQuery options arrive in two spellings — DDL `OPTIONS(skip_leading_rows=1)` and the REST API's
`skipLeadingRows` — and are normalised here into one `SourceOptions`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from .errors import invalid, unsupported
from .types import quote_ident, quote_literal

_FORMATS = {"CSV": "CSV", "NEWLINE_DELIMITED_JSON": "JSON", "JSON": "JSON", "PARQUET": "PARQUET"}
_AUTODETECTED = {"TIMESTAMP": "TIMESTAMPTZ", "INTEGER": "BIGINT", "SMALLINT": "BIGINT", "TINYINT": "BIGINT",
                 "FLOAT": "DOUBLE"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass
class SourceOptions:
    """The reading options of a CSV/JSON/Parquet source, BigQuery defaults included."""

    format: str = "CSV"
    skip_leading_rows: int = 0
    field_delimiter: str = ","
    quote: str = '"'
    null_marker: str | None = None
    allow_jagged_rows: bool = False
    ignore_unknown_values: bool = False
    max_bad_records: int = 0
    encoding: str = "UTF-8"
    autodetect: bool = False

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> SourceOptions:
        """From DDL OPTIONS or a REST `externalDataConfiguration`/`load` configuration (csvOptions merged)."""
        merged = dict(raw)
        merged.update(raw.get("csvOptions") or {})
        values = {_snake(k): v for k, v in merged.items()}
        fmt = str(values.get("format") or values.get("source_format") or "CSV").upper()
        if fmt not in _FORMATS:
            raise unsupported(f"Source format {fmt}")
        delimiter = str(values.get("field_delimiter") or ",")
        if delimiter.lower() in ("\\t", "tab"):
            delimiter = "\t"
        return cls(
            format=_FORMATS[fmt],
            skip_leading_rows=int(values.get("skip_leading_rows") or 0),
            field_delimiter=delimiter,
            quote=str(values.get("quote")) if values.get("quote") is not None else '"',
            null_marker=values.get("null_marker"),
            allow_jagged_rows=bool(values.get("allow_jagged_rows")),
            ignore_unknown_values=bool(values.get("ignore_unknown_values")),
            max_bad_records=int(values.get("max_bad_records") or 0),
            encoding=str(values.get("encoding") or "UTF-8").upper(),
            autodetect=bool(values.get("autodetect")),
        )


def reader_sql(paths: list[Path], options: SourceOptions, columns: list[tuple[str, str]] | None) -> str:
    """A table function call reading `paths` with the given columns (name, DuckDB type) or autodetected ones."""
    files = "[" + ", ".join(quote_literal(str(p)) for p in paths) + "]"
    if options.format == "PARQUET":
        return f"read_parquet({files})"
    if options.format == "JSON":
        args = [files, "format='newline_delimited'"]
        if columns:
            args.append("columns=" + _struct(columns))
        if options.ignore_unknown_values or options.max_bad_records:
            args.append("ignore_errors=true")
        return f"read_json({', '.join(args)})"
    args = [files, f"delim={quote_literal(options.field_delimiter)}"]
    if options.quote:
        args += [f"quote={quote_literal(options.quote)}", f"escape={quote_literal(options.quote)}"]
    if options.null_marker is not None:
        args.append(f"nullstr={quote_literal(str(options.null_marker))}")
    if options.encoding not in ("UTF-8", "UTF8"):
        args.append("encoding='latin-1'" if options.encoding in ("ISO-8859-1", "LATIN1") else
                    f"encoding={quote_literal(options.encoding.lower())}")
    if options.allow_jagged_rows:
        args.append("null_padding=true")
    if options.ignore_unknown_values:
        args.append("strict_mode=false")
    if options.max_bad_records:
        args.append("ignore_errors=true")
    if columns:
        args += ["header=false", f"skip={options.skip_leading_rows}", "auto_detect=false",
                 "columns=" + _struct(columns)]
    else:
        args += [f"header={'true' if options.skip_leading_rows else 'false'}",
                 f"skip={max(options.skip_leading_rows - 1, 0)}"]
    return f"read_csv({', '.join(args)})"


def detect_columns(cursor: duckdb.DuckDBPyConnection, paths: list[Path],
                   options: SourceOptions) -> list[tuple[str, str]]:
    """Schema autodetection: DuckDB's sniffer, with its types mapped to the ones BigQuery would choose."""
    try:
        described = cursor.execute(f"DESCRIBE SELECT * FROM {reader_sql(paths, options, None)}").fetchall()
    except duckdb.Error as err:
        raise invalid(f"Error while reading data: {str(err).splitlines()[0]}") from None
    columns = []
    for row in described:
        name, kind = str(row[0]), str(row[1])
        columns.append((name, _AUTODETECTED.get(kind, kind)))
    return columns


def _struct(columns: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{quote_literal(name)}: {quote_literal(kind)}" for name, kind in columns) + "}"


def column_list(columns: list[tuple[str, str]]) -> str:
    """`"a", "b"` for a SELECT list."""
    return ", ".join(quote_ident(name) for name, _ in columns)
