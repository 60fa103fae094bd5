"""PostgreSQL JDBC tasks (Query, Queries, CopyIn, CopyOut) -> the `postgres` function."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from compiler.tasks.base import TaskBase, TaskSpec

if TYPE_CHECKING:
    from compiler.backend.builder import StepBuilder
    from compiler.ir import TaskNode

P = "io.kestra.plugin.jdbc.postgresql."
FetchType = Literal["NONE", "FETCH_ONE", "FETCH", "STORE"]


class _Connection(TaskBase):
    url: str
    username: str | None = None
    password: str | None = None
    ssl: bool | str | None = None
    sslMode: str | None = None
    sslRootCert: str | None = None
    sslCert: str | None = None
    sslKey: str | None = None
    sslKeyPassword: str | None = None
    timeZoneId: str | None = None


class Query(_Connection):
    sql: str
    parameters: dict[str, Any] | None = None
    fetchType: FetchType | str = "NONE"
    fetch: bool | None = None
    fetchOne: bool | None = None
    store: bool | None = None
    fetchSize: int | None = None
    afterSQL: str | None = None


class Queries(Query):
    transaction: bool = True
    connectionPooling: bool | None = None
    connectionPoolSize: int | None = None
    outputFiles: list[str] | None = None


class CopyIn(_Connection):
    from_: str = Field(alias="from")
    table: str
    columns: list[str] | None = None
    format: Literal["TEXT", "CSV", "BINARY"] | str = "TEXT"
    oids: bool | None = None
    freeze: bool | None = None
    delimiter: str | None = None
    nullString: str | None = None
    header: bool | str | None = None
    quote: str | None = None
    escape: str | None = None
    forceQuote: list[str] | None = None
    forceNotNull: list[str] | None = None
    forceNull: list[str] | None = None
    encoding: str | None = None
    socketTimeout: str | None = None


class CopyOut(_Connection):
    sql: str | None = None
    table: str | None = None
    columns: list[str] | None = None
    format: Literal["TEXT", "CSV", "BINARY"] | str = "TEXT"
    delimiter: str | None = None
    nullString: str | None = None
    header: bool | str | None = None
    quote: str | None = None
    escape: str | None = None
    forceQuote: list[str] | None = None
    encoding: str | None = None


def generate(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    return b.call_function(node, "postgres", b.task_body(node))


QUERY_OUT = frozenset({"row", "rows", "uri", "size"})
SPECS = [
    TaskSpec(P + "Query", Query, generate, QUERY_OUT, function="postgres"),
    TaskSpec(P + "Queries", Queries, generate, frozenset({"outputs"}), function="postgres"),
    TaskSpec(P + "CopyIn", CopyIn, generate, frozenset({"rowCount"}), function="postgres"),
    TaskSpec(P + "CopyOut", CopyOut, generate, frozenset({"uri", "rowCount"}), function="postgres"),
]
