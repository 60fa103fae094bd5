"""BigQuery tasks (Query, Load, LoadFromGcs, CreateDataset) -> the `bigquery` function."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from compiler.tasks.base import TaskSpec
from compiler.tasks.gcp_common import GcpTask, gcp_call

if TYPE_CHECKING:
    from compiler.backend.builder import StepBuilder
    from compiler.ir import TaskNode

P = "io.kestra.plugin.gcp.bigquery."


class _Job(GcpTask):
    location: str | None = None
    labels: dict[str, Any] | None = None
    dryRun: bool | None = None
    jobTimeout: str | None = None
    retryAuto: Any = None
    retryReasons: Any = None
    retryMessages: Any = None
    destinationTable: str | None = None
    writeDisposition: str | None = None
    createDisposition: str | None = None
    clusteringFields: list[str] | None = None
    schemaUpdateOptions: list[str] | None = None
    timePartitioningField: str | None = None
    timePartitioningType: str | None = None


class Query(_Job):
    sql: str
    legacySql: bool | None = None
    fetchType: str = "NONE"
    fetch: bool | None = None
    fetchOne: bool | None = None
    store: bool | None = None
    defaultDataset: str | None = None
    priority: str | None = None
    allowLargeResults: bool | None = None
    useQueryCache: bool | None = None
    flattenResults: bool | None = None
    useLegacySql: bool | None = None
    maximumBillingTier: int | None = None
    maximumBytesBilled: int | None = None
    maxResults: int | None = None
    rangePartitioningField: str | None = None
    rangePartitioningStart: int | None = None
    rangePartitioningEnd: int | None = None
    rangePartitioningInterval: int | None = None
    parameters: dict[str, Any] | None = None


class _LoadBase(_Job):
    format: str | None = None
    csvOptions: dict[str, Any] | None = None
    avroOptions: dict[str, Any] | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    autodetect: bool | None = None
    ignoreUnknownValues: bool | None = None
    maxBadRecords: int | None = None


class Load(_LoadBase):
    from_: str = Field(alias="from")


class LoadFromGcs(_LoadBase):
    from_: list[str] | str = Field(alias="from")


class CreateDataset(GcpTask):
    name: str
    location: str | None = None
    ifExists: str = "ERROR"
    description: str | None = None
    friendlyName: str | None = None
    labels: dict[str, Any] | None = None
    defaultTableExpirationMs: int | None = None
    defaultPartitionExpirationMs: int | None = None


def generate(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    return gcp_call(node, b, "bigquery")


SPECS = [
    TaskSpec(P + "Query", Query, generate,
             frozenset({"jobId", "rows", "row", "size", "uri", "destinationTable"}), function="bigquery"),
    TaskSpec(P + "Load", Load, generate, frozenset({"jobId", "rows", "destinationTable"}), function="bigquery"),
    TaskSpec(P + "LoadFromGcs", LoadFromGcs, generate, frozenset({"jobId", "rows", "destinationTable"}),
             function="bigquery"),
    TaskSpec(P + "CreateDataset", CreateDataset, generate,
             frozenset({"dataset", "project", "location", "friendlyName", "description"}), function="bigquery"),
]
