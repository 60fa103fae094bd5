"""Cloud Storage tasks (Upload, Download, Copy, Delete, List, CreateBucket) -> the `gcs` function."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from compiler.tasks.base import TaskSpec
from compiler.tasks.gcp_common import GcpTask, gcp_call

if TYPE_CHECKING:
    from compiler.backend.builder import StepBuilder
    from compiler.ir import TaskNode

P = "io.kestra.plugin.gcp.gcs."


class Upload(GcpTask):
    from_: Any = Field(default=None, alias="from")
    to: str
    contentType: str | None = None
    contentEncoding: str | None = None
    contentDisposition: str | None = None
    cacheControl: str | None = None
    validateChecksum: bool | None = None
    expectedMd5: str | None = None
    expectedCrc32c: str | None = None


class Download(GcpTask):
    from_: str = Field(alias="from")


class Copy(GcpTask):
    from_: str = Field(alias="from")
    to: str
    delete: bool = False


class Delete(GcpTask):
    uri: str
    errorOnMissing: bool = False


class List(GcpTask):
    from_: str = Field(alias="from")
    filter: str | None = None
    listingType: str | None = None
    allVersions: bool | None = None
    regExp: str | None = None


class CreateBucket(GcpTask):
    name: str
    location: str | None = None
    storageClass: str | None = None
    ifExists: str = "ERROR"
    labels: dict[str, Any] | None = None
    versioningEnabled: bool | None = None
    requesterPays: bool | None = None
    defaultKmsKeyName: str | None = None


def generate(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    return gcp_call(node, b, "gcs")


SPECS = [
    TaskSpec(P + "Upload", Upload, generate, frozenset({"uri", "md5", "crc32c"}), function="gcs"),
    TaskSpec(P + "Download", Download, generate, frozenset({"bucket", "path", "uri"}), function="gcs"),
    TaskSpec(P + "Copy", Copy, generate, frozenset({"uri"}), function="gcs"),
    TaskSpec(P + "Delete", Delete, generate, frozenset({"uri", "deleted"}), function="gcs"),
    TaskSpec(P + "List", List, generate, frozenset({"blobs"}), function="gcs"),
    TaskSpec(P + "CreateBucket", CreateBucket, generate, frozenset({"bucket", "bucketUri"}), function="gcs"),
]
