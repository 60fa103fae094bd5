"""What a finished job produced: its result table (if any), DDL/DML effects and load statistics."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import duckdb

from .sql import TableRef


@dataclass
class Outcome:
    """What a job produced: where its rows are (if any) and its statistics."""

    statement_type: str = ""
    result_table: str | None = None
    ddl_operation: str | None = None
    ddl_target: TableRef | None = None
    dml_rows: int | None = None
    load: dict[str, Any] = field(default_factory=dict)


def rollback(cur: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):
        cur.execute("ROLLBACK")
