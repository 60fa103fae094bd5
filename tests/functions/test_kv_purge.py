"""The kv and purge functions against the real GCS emulator."""

from __future__ import annotations

import json

import pytest

from tests.functions.conftest import Invoke, execution

KV = "io.kestra.plugin.core.kv."


def test_set_get_typed_values(state_bucket: str, invoke: Invoke) -> None:
    from kfn import storage

    cases = [
        ("S", "hello", None, "hello"),
        ("N", "42", "NUMBER", 42),
        ("F", "2.5", "NUMBER", 2.5),
        ("B", "true", "BOOLEAN", True),
        ("J", '{"a": [1]}', "JSON", {"a": [1]}),
        ("D", "2024-01-31", "DATE", "2024-01-31"),
        ("I", 7, None, 7),
        ("SB", True, "STRING", "true"),
        ("SL", [1, "a"], "STRING", '[1, "a"]'),
        ("SN", 2.5, "STRING", "2.5"),
    ]
    for key, value, kv_type, expected in cases:
        task = {"id": "set", "type": KV + "Set", "key": key, "value": value}
        if kv_type:
            task["kvType"] = kv_type
        status, body = invoke("kv", task)
        assert status == 200 and body == {"outputs": {}}, body
        status, body = invoke("kv", {"id": "get", "type": KV + "Get", "key": key})
        assert status == 200 and body["outputs"] == {"value": expected}
    record = json.loads(storage.blob(f"gs://{state_bucket}/kv/zoomcamp/N").download_as_bytes())
    assert record == {"value": 42, "type": "NUMBER", "expiresAt": None}


def test_bad_typed_value(state_bucket: str, invoke: Invoke) -> None:
    status, body = invoke("kv", {"id": "s", "type": KV + "Set", "key": "k", "value": "abc", "kvType": "NUMBER"})
    assert status == 400 and body["error"]["message"] == "kv: key 'k': 'abc' is not a valid NUMBER"


def test_type_not_served(state_bucket: str, invoke: Invoke) -> None:
    for kestra_type in (KV + "Rename", "io.kestra.plugin.gcp.gcs.Get"):
        status, body = invoke("kv", {"id": "x", "type": kestra_type, "key": "k"})
        assert status == 400 and body["error"]["type"] == "TaskError", body
        assert body["error"]["message"] == (
            f"kv: task 'x': type {kestra_type} is not served by this function "
            "(io.kestra.plugin.core.kv.Set/Get/Delete/GetKeys)"
        )


def test_overwrite_false_and_ttl(state_bucket: str, invoke: Invoke) -> None:
    task = {"id": "s", "type": KV + "Set", "key": "once", "value": "a", "overwrite": False}
    assert invoke("kv", task)[0] == 200
    assert invoke("kv", task)[0] == 200  # a retry storing the same value is not a conflict
    status, body = invoke("kv", {**task, "value": "b"})
    assert status == 409
    assert body["error"]["message"] == "kv: key 'once' already exists in namespace 'zoomcamp' and overwrite is false"
    expired = {"id": "s", "type": KV + "Set", "key": "short", "value": "a", "ttl": "PT0S"}
    assert invoke("kv", expired)[0] == 200
    status, body = invoke("kv", {"id": "g", "type": KV + "Get", "key": "short"})
    assert body["outputs"] == {"value": None}
    # an expired key may be set again with overwrite: false
    assert invoke("kv", {**expired, "ttl": "P1D", "overwrite": False})[0] == 200


def test_batch_get_for_workflow_start(state_bucket: str, invoke: Invoke) -> None:
    invoke("kv", {"id": "s", "type": KV + "Set", "key": "GCP_PROJECT_ID", "value": "my-proj"})
    invoke("kv", {"id": "s", "type": KV + "Set", "key": "X", "value": 1, "namespace": "other"})
    keys: list[dict[str, object]] = [
        {"namespace": "zoomcamp", "key": "GCP_PROJECT_ID"},
        {"namespace": "other", "key": "X"},
        {"key": "MAYBE", "errorOnMissing": False},
    ]
    task = {"id": "__kv", "type": KV + "Get", "keys": keys}
    status, body = invoke("kv", task)
    assert status == 200, body
    assert body["outputs"] == {"values": {"zoomcamp": {"GCP_PROJECT_ID": "my-proj", "MAYBE": None}, "other": {"X": 1}}}
    keys.append({"namespace": "zoomcamp", "key": "GCP_BUCKET_NAME"})
    status, body = invoke("kv", task)
    assert status == 404
    assert body["error"]["message"] == "kv: key 'GCP_BUCKET_NAME' not found in namespace 'zoomcamp'"


def test_delete_and_get_keys(state_bucket: str, invoke: Invoke) -> None:
    for key in ("GCP_A", "GCP_B", "OTHER"):
        invoke("kv", {"id": "s", "type": KV + "Set", "key": key, "value": key})
    status, body = invoke("kv", {"id": "k", "type": KV + "GetKeys", "prefix": "GCP_"})
    assert status == 200 and body["outputs"] == {"keys": ["GCP_A", "GCP_B"]}
    status, body = invoke("kv", {"id": "d", "type": KV + "Delete", "key": "GCP_A"})
    assert body["outputs"] == {"deleted": True}
    status, body = invoke("kv", {"id": "d", "type": KV + "Delete", "key": "GCP_A"})
    assert body["outputs"] == {"deleted": False}
    status, body = invoke("kv", {"id": "d", "type": KV + "Delete", "key": "GCP_A", "errorOnMissing": True})
    assert status == 404


@pytest.mark.parametrize("key", ["../x", "a/b", ""])
def test_invalid_keys(state_bucket: str, invoke: Invoke, key: str) -> None:
    status, body = invoke("kv", {"id": "g", "type": KV + "Get", "key": key})
    assert status == 400 and body["error"]["type"] == "TaskError"


def test_purge_deletes_only_this_execution(state_bucket: str, invoke: Invoke) -> None:
    from kfn import storage

    bucket = storage.client().bucket(state_bucket)
    mine = ["executions/zoomcamp/flow/e1/extract/a.csv", "executions/zoomcamp/flow/e1/load/b.csv"]
    others = ["executions/zoomcamp/flow/e10/extract/a.csv", "kv/zoomcamp/K"]
    for name in mine + others:
        bucket.blob(name).upload_from_string(b"x")
    task = {"id": "purge", "type": "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles"}
    status, body = invoke("purge", task, execution(id="e1"))
    assert status == 200, body
    assert body["outputs"] == {"uris": [f"gs://{state_bucket}/{n}" for n in mine], "count": 2}
    assert sorted(b.name for b in storage.client().list_blobs(state_bucket)) == sorted(others)
    status, body = invoke("purge", task, execution(id="e1"))
    assert status == 200 and body["outputs"]["count"] == 0


def test_purge_reports_a_bounded_list(state_bucket: str, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    from kfn import purge, storage

    monkeypatch.setattr(purge, "MAX_REPORTED", 2)
    bucket = storage.client().bucket(state_bucket)
    names = [f"executions/zoomcamp/flow/e2/t/{n}.csv" for n in ("c", "a", "b")]
    for name in names:
        bucket.blob(name).upload_from_string(b"x")
    task = {"id": "purge", "type": "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles"}
    status, body = invoke("purge", task, execution(id="e2"))
    assert status == 200, body
    assert body["outputs"] == {"uris": [f"gs://{state_bucket}/{n}" for n in sorted(names)[:2]], "count": 3}
    assert list(storage.client().list_blobs(state_bucket)) == []
