"""DuckDB JDBC tasks (Query, Queries) -> the `duckdb` function; `{{ workingDir }}` is left for it to fill."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compiler.tasks.base import TaskBase, TaskSpec

if TYPE_CHECKING:
    from compiler.backend.builder import StepBuilder
    from compiler.ir import TaskNode

P = "io.kestra.plugin.jdbc.duckdb."


class Query(TaskBase):
    sql: str
    url: str | None = None
    databaseUri: str | None = None
    username: str | None = None
    password: str | None = None
    inputFiles: dict[str, Any] | str | None = None
    outputFiles: list[str] | None = None
    parameters: dict[str, Any] | None = None
    fetchType: str = "NONE"
    fetch: bool | None = None
    fetchOne: bool | None = None
    store: bool | None = None
    fetchSize: int | None = None
    timeZoneId: str | None = None
    outputDbFile: bool | None = None
    afterSQL: str | None = None


class Queries(Query):
    transaction: bool = True


def generate(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    return b.call_function(node, "duckdb", b.task_body(node))


SPECS = [
    TaskSpec(P + "Query", Query, generate, frozenset({"row", "rows", "uri", "size", "outputFiles", "databaseUri"}),
             function="duckdb"),
    TaskSpec(P + "Queries", Queries, generate, frozenset({"outputs", "outputFiles", "databaseUri"}),
             function="duckdb"),
]
