"""The `gcs` function: Kestra gcp.gcs.Upload/Download/Copy/Delete/List/CreateBucket/DeleteBucket.

Object moves are server-side rewrites (bytes never pass through the function), pinned to the source
generation, so a retry rewrites the same bytes and a failure leaves no partial object.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kfn import storage
from kfn.errors import Conflict, NotFound, TaskError
from kfn.request import Call, dispatch

if TYPE_CHECKING:
    from google.cloud.storage import Blob

MAX_LISTED = 10_000


def _rewrite(source: Blob, destination_uri: str, content_type: str | None = None) -> Blob:
    destination = storage.blob(destination_uri, "to")
    if content_type:
        destination.content_type = content_type
    pinned = source.bucket.blob(source.name, generation=source.generation)
    token = None
    while True:
        token, _, _ = destination.rewrite(pinned, token=token)
        if token is None:
            break
    destination.reload()
    return destination


def _hash_matches(actual: str | None, expected: str) -> bool:
    """Compare a base64 GCS hash with an expected value given in base64 or hex."""
    if actual is None:
        return False
    if expected == actual:
        return True
    try:
        return base64.b64decode(actual).hex() == expected.lower()
    except (binascii.Error, ValueError):
        return False


def _describe(blob: Blob) -> dict[str, Any]:
    return {
        "uri": f"gs://{blob.bucket.name}/{blob.name}",
        "bucket": blob.bucket.name,
        "name": blob.name,
        "size": blob.size,
        "contentType": blob.content_type,
        "md5": blob.md5_hash,
        "crc32c": blob.crc32c,
        "generation": blob.generation,
        "updated": blob.updated.isoformat() if blob.updated else None,
        "isDirectory": blob.name.endswith("/"),
    }


def _destination(to: str, source_name: str) -> str:
    """`to`, or the source's base name inside it when `to` is a folder (ends with '/')."""
    return to + source_name.rsplit("/", 1)[-1] if to.endswith("/") else to


def _upload(call: Call) -> dict[str, Any]:
    sources = call.require("from")
    to = str(call.require("to"))
    many = isinstance(sources, list)
    if many and not to.endswith("/"):
        raise TaskError("'to' must end with '/' when 'from' is a list")
    uris: list[str] = []
    last: Blob | None = None
    for source_uri in sources if many else [sources]:
        source = storage.existing_blob(str(source_uri), "from")
        for prop, actual in (("expectedMd5", source.md5_hash), ("expectedCrc32c", source.crc32c)):
            expected = call.prop(prop)
            if expected and not _hash_matches(actual, str(expected)):
                raise TaskError(f"{prop}: {source_uri} has {actual}, expected {expected}")
        last = _rewrite(source, _destination(to, source.name), call.prop("contentType"))
        uris.append(f"gs://{last.bucket.name}/{last.name}")
    if last is None:
        raise TaskError("'from' is empty")
    outputs: dict[str, Any] = {"uri": uris[-1], "md5": last.md5_hash, "crc32c": last.crc32c}
    if many:
        outputs["uris"] = uris
    return outputs


def _download(call: Call) -> dict[str, Any]:
    source = storage.existing_blob(str(call.require("from")), "from")
    name = source.name.rsplit("/", 1)[-1] or "download"
    target = storage.execution_uri(call.need_execution(), call.task_id, name)
    _rewrite(source, target)
    return {"uri": target, "bucket": source.bucket.name, "path": source.name}


def _copy(call: Call) -> dict[str, Any]:
    source_uri, to = str(call.require("from")), str(call.require("to"))
    try:
        source = storage.existing_blob(source_uri, "from")
    except NotFound:
        # a retried move whose first attempt completed: the source is gone, the destination is there
        _, name = storage.parse_gs_uri(source_uri, "from")
        done = _destination(to, name)
        if call.flag("delete", False) and storage.blob(done, "to").exists():
            return {"uri": done}
        raise
    copied = _rewrite(source, _destination(to, source.name))
    if call.flag("delete", False):
        source.delete(if_generation_match=source.generation)
    return {"uri": f"gs://{copied.bucket.name}/{copied.name}"}


def _delete(call: Call) -> dict[str, Any]:
    from google.api_core import exceptions as gexc

    uri = str(call.require("uri"))
    try:
        storage.blob(uri).delete()
    except gexc.NotFound:
        if call.flag("errorOnMissing", False):
            raise NotFound(f"uri: object {uri} does not exist") from None
        return {"uri": uri, "deleted": False}
    return {"uri": uri, "deleted": True}


def _pattern(reg_exp: object) -> re.Pattern[str] | None:
    if not reg_exp:
        return None
    try:
        return re.compile(str(reg_exp))
    except re.error as exc:
        raise TaskError(f"regExp {reg_exp!r} is not a valid regular expression: {exc}") from None


def _list(call: Call) -> dict[str, Any]:
    source = str(call.require("from"))
    match = re.match(r"^gs://([^/]+)/?(.*)$", source)
    if not match:
        raise TaskError(f"from: {source!r} is not a gs://bucket/prefix URI")
    bucket, prefix = match.groups()
    recursive = str(call.prop("listingType", "DIRECTORY")).upper() == "RECURSIVE"
    kind = str(call.prop("filter", "BOTH")).upper()
    pattern = _pattern(call.prop("regExp"))
    iterator = storage.client().list_blobs(
        bucket,
        prefix=prefix or None,
        delimiter=None if recursive else "/",
        versions=call.flag("allVersions", False),
    )
    blobs: list[dict[str, Any]] = []
    for blob in iterator:
        uri = f"gs://{bucket}/{blob.name}"
        if pattern and not pattern.fullmatch(uri):
            continue
        if kind == "DIRECTORY" and not blob.name.endswith("/"):
            continue
        if kind == "FILES" and blob.name.endswith("/"):
            continue
        blobs.append(_describe(blob))
        if len(blobs) > MAX_LISTED:
            raise TaskError(f"from: more than {MAX_LISTED} objects under {source}; narrow it with regExp")
    if kind != "FILES" and not recursive:
        for sub in sorted(iterator.prefixes):
            uri = f"gs://{bucket}/{sub}"
            if not pattern or pattern.fullmatch(uri):
                blobs.append({"uri": uri, "bucket": bucket, "name": sub, "isDirectory": True})
    return {"blobs": blobs}


def _existing(name: str, if_exists: str, update: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    outputs = {"bucket": name, "bucketUri": f"gs://{name}", "created": False}
    if if_exists == "ERROR":
        raise Conflict(f"bucket {name} already exists (ifExists: ERROR)")
    if if_exists == "UPDATE":
        return {**outputs, **update()}
    return {**outputs, "updated": False}


def _create_bucket(call: Call) -> dict[str, Any]:
    """Look the bucket up first: without project-level create permission GCS answers 403, not 409, for an
    existing bucket, so creating first would fail `ifExists: SKIP` under least privilege."""
    from google.api_core import exceptions as gexc

    name = str(call.require("name"))
    if_exists = str(call.prop("ifExists", "ERROR")).upper()
    if if_exists not in ("ERROR", "SKIP", "UPDATE"):
        raise TaskError(f"ifExists {if_exists!r} is not one of ERROR, SKIP, UPDATE")
    client = storage.client()
    labels = call.prop("labels") or {}

    def configure(bucket: Any) -> bool:
        """Apply the declared settings; whether there were any."""
        if call.prop("storageClass"):
            bucket.storage_class = str(call.prop("storageClass"))
        if labels:
            bucket.labels = {str(k): str(v) for k, v in labels.items()}
        if call.prop("versioningEnabled") is not None:
            bucket.versioning_enabled = call.flag("versioningEnabled", False)
        return bool(labels or call.prop("storageClass") or "versioningEnabled" in call.task)

    def update(bucket: Any) -> dict[str, Any]:
        if configure(bucket):
            bucket.patch()
            return {"updated": True}
        return {"updated": False}

    found = client.lookup_bucket(name)
    if found is not None:
        return _existing(name, if_exists, lambda: update(found))
    bucket = client.bucket(name)
    configure(bucket)
    try:
        client.create_bucket(bucket, location=call.prop("location"), project=call.prop("projectId"))
    except gexc.Conflict:  # created meanwhile by someone else
        return _existing(name, if_exists, lambda: update(client.bucket(name)))
    return {"bucket": name, "bucketUri": f"gs://{name}", "created": True, "updated": False}


def _delete_bucket(call: Call) -> dict[str, Any]:
    name = str(call.require("name"))
    storage.client().bucket(name).delete()
    return {"bucket": name}


_HANDLERS = {
    "Upload": _upload,
    "Download": _download,
    "Copy": _copy,
    "Delete": _delete,
    "List": _list,
    "CreateBucket": _create_bucket,
    "DeleteBucket": _delete_bucket,
}


def handle(call: Call) -> dict[str, Any]:
    return dispatch(call, "io.kestra.plugin.gcp.gcs", _HANDLERS)
