"""The gcs function (Upload/Download/Copy/Delete/List/CreateBucket) against the real GCS emulator."""

from __future__ import annotations

import base64
import hashlib
import uuid

import pytest

from tests.functions.conftest import Invoke, execution

P = "io.kestra.plugin.gcp.gcs."
DATA = b"VendorID,total\n1,2.5\n2,3.75\n" * 1000


def _put(bucket: str, name: str, data: bytes = DATA) -> str:
    from kfn import storage

    storage.client().bucket(bucket).blob(name).upload_from_string(data)
    return f"gs://{bucket}/{name}"


def _new_bucket() -> str:
    from kfn import storage

    name = f"dest-{uuid.uuid4().hex[:10]}"
    storage.client().create_bucket(name)
    return name


def test_upload_is_a_server_side_copy_with_hashes(state_bucket: str, invoke: Invoke) -> None:
    from kfn import storage

    source = _put(state_bucket, "executions/zoomcamp/flow/e/extract/green.csv")
    dest = _new_bucket()
    task = {
        "id": "upload",
        "type": P + "Upload",
        "from": source,
        "to": f"gs://{dest}/raw/green.csv",
        "expectedMd5": hashlib.md5(DATA).hexdigest(),
    }
    status, body = invoke("gcs", task)
    assert status == 200, body
    assert body["outputs"]["uri"] == f"gs://{dest}/raw/green.csv"
    assert body["outputs"]["md5"] == base64.b64encode(hashlib.md5(DATA).digest()).decode()
    assert storage.blob(f"gs://{dest}/raw/green.csv").download_as_bytes() == DATA
    # retry: same result, one object
    assert invoke("gcs", task)[0] == 200
    assert [b.name for b in storage.client().list_blobs(dest)] == ["raw/green.csv"]


def test_upload_errors(state_bucket: str, invoke: Invoke) -> None:
    source = _put(state_bucket, "x/a.csv")
    status, body = invoke(
        "gcs",
        {
            "id": "u",
            "type": P + "Upload",
            "from": f"gs://{state_bucket}/nope.csv",
            "to": f"gs://{state_bucket}/y.csv",
        },
    )
    assert status == 404
    assert body["error"] == {
        "type": "NotFound",
        "message": f"gcs: from: object gs://{state_bucket}/nope.csv does not exist",
    }
    status, body = invoke(
        "gcs",
        {
            "id": "u",
            "type": P + "Upload",
            "from": source,
            "to": f"gs://{state_bucket}/y",
            "expectedMd5": "0" * 32,
        },
    )
    assert status == 400 and body["error"]["message"].startswith("gcs: expectedMd5:")
    status, body = invoke("gcs", {"id": "u", "type": P + "Upload", "from": source, "to": "/local/path"})
    assert status == 400 and "is not a gs://bucket/object URI" in body["error"]["message"]


def test_download_copy_delete(state_bucket: str, invoke: Invoke) -> None:
    from kfn import storage

    source = _put(state_bucket, "inbox/report.csv")
    status, body = invoke("gcs", {"id": "dl", "type": P + "Download", "from": source}, execution(id="e9"))
    assert status == 200, body
    assert body["outputs"]["uri"] == f"gs://{state_bucket}/executions/zoomcamp/flow/e9/dl/report.csv"
    assert storage.blob(body["outputs"]["uri"]).download_as_bytes() == DATA

    status, body = invoke(
        "gcs",
        {
            "id": "mv",
            "type": P + "Copy",
            "from": source,
            "to": f"gs://{state_bucket}/archive/",
            "delete": True,
        },
    )
    assert status == 200 and body["outputs"]["uri"] == f"gs://{state_bucket}/archive/report.csv"
    assert not storage.blob(source).exists()
    move = {"id": "mv", "type": P + "Copy", "from": source, "to": f"gs://{state_bucket}/archive/", "delete": True}
    status, body = invoke("gcs", move)  # a retried move: already done
    assert status == 200 and body["outputs"]["uri"] == f"gs://{state_bucket}/archive/report.csv"

    status, body = invoke("gcs", {"id": "rm", "type": P + "Delete", "uri": f"gs://{state_bucket}/archive/report.csv"})
    assert status == 200 and body["outputs"]["deleted"] is True
    status, body = invoke("gcs", {"id": "rm", "type": P + "Delete", "uri": f"gs://{state_bucket}/archive/report.csv"})
    assert status == 200 and body["outputs"]["deleted"] is False
    status, body = invoke(
        "gcs",
        {
            "id": "rm",
            "type": P + "Delete",
            "errorOnMissing": True,
            "uri": f"gs://{state_bucket}/archive/report.csv",
        },
    )
    assert status == 404


def test_list(state_bucket: str, invoke: Invoke) -> None:
    for name in ("data/a.csv", "data/b.parquet", "data/sub/c.csv"):
        _put(state_bucket, name, b"x")
    status, body = invoke("gcs", {"id": "ls", "type": P + "List", "from": f"gs://{state_bucket}/data/"})
    assert status == 200, body
    assert [b["name"] for b in body["outputs"]["blobs"]] == ["data/a.csv", "data/b.parquet", "data/sub/"]
    status, body = invoke(
        "gcs",
        {
            "id": "ls",
            "type": P + "List",
            "from": f"gs://{state_bucket}/data/",
            "listingType": "RECURSIVE",
            "regExp": r".*\.csv",
        },
    )
    assert [b["uri"] for b in body["outputs"]["blobs"]] == [
        f"gs://{state_bucket}/data/a.csv",
        f"gs://{state_bucket}/data/sub/c.csv",
    ]
    assert body["outputs"]["blobs"][0]["size"] == 1


def test_create_bucket_if_exists(state_bucket: str, invoke: Invoke) -> None:
    name = f"made-{uuid.uuid4().hex[:10]}"
    task = {"id": "cb", "type": P + "CreateBucket", "name": name, "location": "EU"}
    status, body = invoke("gcs", task)
    assert status == 200 and body["outputs"] == {
        "bucket": name,
        "bucketUri": f"gs://{name}",
        "created": True,
        "updated": False,
    }
    status, body = invoke("gcs", task)
    assert status == 409 and body["error"] == {
        "type": "Conflict",
        "message": f"gcs: bucket {name} already exists (ifExists: ERROR)",
    }
    status, body = invoke("gcs", {**task, "ifExists": "SKIP"})
    assert status == 200 and body["outputs"]["created"] is False


def test_list_with_a_bad_regexp_is_a_task_error(state_bucket: str, invoke: Invoke) -> None:
    task = {"id": "l", "type": P + "List", "from": f"gs://{state_bucket}/", "regExp": "(unclosed"}
    status, body = invoke("gcs", task)
    assert status == 400 and body["error"]["type"] == "TaskError", body
    assert body["error"]["message"].startswith("gcs: regExp '(unclosed' is not a valid regular expression")


def test_unknown_type(state_bucket: str, invoke: Invoke) -> None:
    status, body = invoke("gcs", {"id": "x", "type": P + "Compose"})
    assert status == 400 and "type io.kestra.plugin.gcp.gcs.Compose is not served" in body["error"]["message"]


def test_create_bucket_update_labels(state_bucket: str, invoke: Invoke) -> None:
    from kfn import storage

    name = f"upd-{uuid.uuid4().hex[:10]}"
    assert invoke("gcs", {"id": "cb", "type": P + "CreateBucket", "name": name})[0] == 200
    task = {"id": "cb", "type": P + "CreateBucket", "name": name, "ifExists": "UPDATE", "labels": {"team": "de"}}
    status, body = invoke("gcs", task)
    assert status == 200 and body["outputs"]["updated"] is True  # (fake-gcs-server ignores label patches)
    status, body = invoke("gcs", {**task, "ifExists": "SKIP"})
    assert status == 200 and body["outputs"]["updated"] is False
    assert storage.client().get_bucket(name).name == name


def test_create_bucket_skip_without_create_permission(state_bucket: str, invoke: Invoke,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Least privilege: bucket creation is refused (403), yet SKIP/UPDATE of an existing bucket succeed."""
    import os

    from kfn import storage

    from tests.functions.httpserver import refusing_proxy

    name = f"iam-{uuid.uuid4().hex[:10]}"
    storage.client().create_bucket(name)

    def refuse(method: str, path: str) -> bool:
        return method == "POST" and path.rstrip("/").endswith("/storage/v1/b")

    with refusing_proxy(os.environ["STORAGE_EMULATOR_HOST"], refuse) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy)
        storage.reset_client()
        task = {"id": "cb", "type": P + "CreateBucket", "name": name}
        status, body = invoke("gcs", {**task, "ifExists": "SKIP"})
        assert status == 200 and body["outputs"] == {
            "bucket": name, "bucketUri": f"gs://{name}", "created": False, "updated": False}, body
        status, body = invoke("gcs", {**task, "ifExists": "UPDATE", "labels": {"team": "de"}})
        assert status == 200 and body["outputs"]["updated"] is True, body
        status, body = invoke("gcs", task)
        assert status == 409 and body["error"]["message"] == f"gcs: bucket {name} already exists (ifExists: ERROR)"
    storage.reset_client()
