"""The bigquery function through the unchanged google-cloud-bigquery client against the BigQuery stand-in."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from kestra_gcp.standins.bigquery import BigQueryStandin
from tests.functions.conftest import Invoke, execution
from tests.functions.httpserver import refusing_proxy
from tests.functions.sql.conftest import BQ_PROJECT

P = "io.kestra.plugin.gcp.bigquery."


def _put(bucket: str, name: str, data: bytes) -> str:
    from kfn import storage

    storage.client().bucket(bucket).blob(name).upload_from_string(data)
    return f"gs://{bucket}/{name}"


def _task(kind: str, **props: Any) -> dict[str, Any]:
    return {"id": kind.lower(), "type": P + kind, **props}


def _dataset(invoke: Invoke) -> str:
    name = f"ds_{uuid.uuid4().hex[:10]}"
    status, body = invoke("bigquery", _task("CreateDataset", name=name, location="EU"))
    assert status == 200, body
    return name


def _query(invoke: Invoke, sql: str, exec_ref: dict[str, Any] | None = None, **props: Any) -> dict[str, Any]:
    status, body = invoke("bigquery", _task("Query", sql=sql, **props), exec_ref)
    assert status == 200, body
    return dict(body["outputs"])


def test_create_dataset_if_exists(invoke: Invoke, bq_env: BigQueryStandin, state_bucket: str) -> None:
    name = f"ds_{uuid.uuid4().hex[:10]}"
    task = _task("CreateDataset", name=name, location="EU", description="first")
    assert invoke("bigquery", task) == (200, {"outputs": {
        "dataset": name, "project": BQ_PROJECT, "friendlyName": None, "description": "first", "location": "EU"}})
    status, body = invoke("bigquery", task)
    assert status == 409
    assert body["error"]["message"] == (f"bigquery: dataset {BQ_PROJECT}.{name} already exists "
                                        "(set ifExists: SKIP or UPDATE)")
    status, body = invoke("bigquery", {**task, "description": "second", "ifExists": "SKIP"})
    assert status == 200 and body["outputs"]["description"] == "first"
    status, body = invoke("bigquery", {**task, "description": "second", "ifExists": "UPDATE"})
    assert status == 200 and body["outputs"]["description"] == "second"


def test_course_elt_external_table_staging_and_merge(invoke: Invoke, bq_env: BigQueryStandin,
                                                     state_bucket: str) -> None:
    ds = _dataset(invoke)
    csv = (b"VendorID,lpep_pickup_datetime,fare_amount\n"
           b"2,2019-01-01 00:10:16,5.5\n1,2019-01-01 00:27:11,12\n")
    uri = _put(state_bucket, "lake/green_tripdata_2019-01.csv", csv)
    t = f"{BQ_PROJECT}.{ds}"
    _query(invoke, f"CREATE TABLE IF NOT EXISTS `{t}.green` (unique_row_id BYTES, filename STRING, "
                   "VendorID STRING, lpep_pickup_datetime TIMESTAMP, fare_amount NUMERIC) "
                   "PARTITION BY DATE(lpep_pickup_datetime)")
    _query(invoke, f"CREATE OR REPLACE EXTERNAL TABLE `{t}.green_ext` (VendorID STRING, "
                   "lpep_pickup_datetime TIMESTAMP, fare_amount NUMERIC) "
                   f"OPTIONS (format = 'CSV', uris = ['{uri}'], skip_leading_rows = 1, ignore_unknown_values = TRUE)")
    _query(invoke, f"CREATE OR REPLACE TABLE `{t}.green_tmp` AS SELECT MD5(CONCAT("
                   "COALESCE(CAST(VendorID AS STRING), \"\"), COALESCE(CAST(lpep_pickup_datetime AS STRING), \"\")"
                   ")) AS unique_row_id, \"green_tripdata_2019-01.csv\" AS filename, * "
                   f"FROM `{t}.green_ext`")
    merge = (f"MERGE INTO `{t}.green` T USING `{t}.green_tmp` S ON T.unique_row_id = S.unique_row_id "
             "WHEN NOT MATCHED THEN INSERT (unique_row_id, filename, VendorID, lpep_pickup_datetime, fare_amount) "
             "VALUES (S.unique_row_id, S.filename, S.VendorID, S.lpep_pickup_datetime, S.fare_amount)")
    _query(invoke, merge)
    _query(invoke, merge)  # a second run of the month adds nothing
    out = _query(invoke, f"SELECT VendorID, fare_amount, filename FROM `{t}.green` ORDER BY VendorID",
                 fetchType="FETCH")
    assert out["rows"] == [{"VendorID": "1", "fare_amount": 12, "filename": "green_tripdata_2019-01.csv"},
                           {"VendorID": "2", "fare_amount": 5.5, "filename": "green_tripdata_2019-01.csv"}]
    assert out["size"] == 2 and out["jobId"].startswith("kestra_query_")


def test_fetch_one_store_and_destination_table(invoke: Invoke, bq_env: BigQueryStandin, state_bucket: str) -> None:
    ds = _dataset(invoke)
    one = _query(invoke, "SELECT 1 AS a, 'x' AS b", fetchType="FETCH_ONE")
    assert (one["row"], one["size"]) == ({"a": 1, "b": "x"}, 1)
    exec_ref = execution()
    store = _query(invoke, "SELECT n FROM UNNEST([3, 1, 2]) AS n ORDER BY n", exec_ref, fetchType="STORE")
    from kfn import storage

    assert store["uri"] == f"gs://{state_bucket}/executions/zoomcamp/flow/{exec_ref['id']}/query/query.ion"
    assert storage.blob(store["uri"]).download_as_bytes() == b'{"n":1}\n{"n":2}\n{"n":3}\n'
    dest = _query(invoke, "SELECT 7 AS seven", destinationTable=f"{ds}.sevens", writeDisposition="WRITE_TRUNCATE")
    assert dest["destinationTable"] == {"project": BQ_PROJECT, "dataset": ds, "table": "sevens"}
    assert _query(invoke, f"SELECT seven FROM {ds}.sevens", fetchType="FETCH")["rows"] == [{"seven": 7}]


def test_retried_task_run_reuses_its_job(invoke: Invoke, bq_env: BigQueryStandin, state_bucket: str) -> None:
    ds = _dataset(invoke)
    _query(invoke, f"CREATE TABLE {ds}.t (a INT64)")
    run = execution(taskRunId="tr-7")
    first = _query(invoke, f"INSERT INTO {ds}.t (a) VALUES (1)", run)
    second = _query(invoke, f"INSERT INTO {ds}.t (a) VALUES (1)", run)
    assert first["jobId"] == second["jobId"]
    assert _query(invoke, f"SELECT COUNT(*) AS n FROM {ds}.t", fetchType="FETCH_ONE")["row"] == {"n": 1}
    # a failed job is not reused: the retry runs again under a new id
    run = execution(taskRunId="tr-8")
    status, body = invoke("bigquery", _task("Query", sql=f"INSERT INTO {ds}.later (a) VALUES (2)"), run)
    assert status == 404 and "later" in body["error"]["message"]
    _query(invoke, f"CREATE TABLE {ds}.later (a INT64)")
    retried = _query(invoke, f"INSERT INTO {ds}.later (a) VALUES (2)", run)
    assert retried["jobId"].endswith("_2")
    assert _query(invoke, f"SELECT COUNT(*) AS n FROM {ds}.later", fetchType="FETCH_ONE")["row"] == {"n": 1}


def test_load_from_gcs(invoke: Invoke, bq_env: BigQueryStandin, state_bucket: str) -> None:
    ds = _dataset(invoke)
    uri = _put(state_bucket, "lake/yellow.csv", b"id;name\n1;a\n2;b\n3;c\n")
    task = _task("LoadFromGcs", destinationTable=f"{ds}.yellow", format="CSV", writeDisposition="WRITE_TRUNCATE",
                 csvOptions={"skipLeadingRows": 1, "fieldDelimiter": ";"},
                 schema={"fields": [{"name": "id", "type": "INT64"}, {"name": "name", "type": "STRING"}]},
                 **{"from": [uri]})
    for _ in range(2):  # WRITE_TRUNCATE: loading again replaces
        status, body = invoke("bigquery", task)
        assert status == 200, body
        assert body["outputs"]["rows"] == 3
        assert body["outputs"]["destinationTable"] == f"{BQ_PROJECT}.{ds}.yellow"
    assert _query(invoke, f"SELECT SUM(id) AS s FROM {ds}.yellow", fetchType="FETCH_ONE")["row"] == {"s": 6}


def test_dry_run_and_errors(invoke: Invoke, bq_env: BigQueryStandin, state_bucket: str) -> None:
    ds = _dataset(invoke)
    _query(invoke, f"CREATE TABLE {ds}.d (a INT64)")
    dry = _query(invoke, f"INSERT INTO {ds}.d (a) VALUES (1)", dryRun=True)
    assert set(dry) == {"jobId"}
    assert _query(invoke, f"SELECT COUNT(*) AS n FROM {ds}.d", fetchType="FETCH_ONE")["row"] == {"n": 0}
    status, body = invoke("bigquery", _task("Query", sql="SELEC 1"))
    assert status == 400 and body["error"]["message"].startswith("bigquery: Syntax error")
    status, body = invoke("bigquery", _task("Query", sql=f"SELECT * FROM {ds}.nope"))
    assert status == 404 and body["error"]["type"] == "NotFound"
    status, body = invoke("bigquery", _task("Query", sql="SELECT 1", destinationTable="just_a_table"))
    assert status == 400 and "invalid table name 'just_a_table'" in body["error"]["message"]
    status, body = invoke("bigquery", _task("LoadFromGcs", destinationTable=f"{ds}.x", **{"from": "http://x/y"}))
    assert status == 400 and "is not a gs://bucket/object URI" in body["error"]["message"]


def test_loop_iterations_are_distinct_jobs(invoke: Invoke, bq_env: BigQueryStandin, state_bucket: str) -> None:
    ds = _dataset(invoke)
    _query(invoke, f"CREATE TABLE {ds}.months (m INT64)")
    run = execution(taskRunId="same-task-run")
    ids = {_query(invoke, f"INSERT INTO {ds}.months (m) VALUES ({m})", run)["jobId"] for m in (1, 2, 3)}
    assert len(ids) == 3
    assert _query(invoke, f"SELECT SUM(m) AS s FROM {ds}.months", fetchType="FETCH_ONE")["row"] == {"s": 6}


def test_create_dataset_skip_without_create_permission(invoke: Invoke, bq_env: BigQueryStandin, state_bucket: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Least privilege: dataset creation is refused (403), yet SKIP/UPDATE of an existing dataset succeed."""
    name = _dataset(invoke)

    def refuse(method: str, path: str) -> bool:
        return method == "POST" and path.rstrip("/").endswith(f"/projects/{BQ_PROJECT}/datasets")

    with refusing_proxy(bq_env.url, refuse) as proxy:
        monkeypatch.setenv("KESTRA_GCP_BIGQUERY_ENDPOINT", proxy)
        task = _task("CreateDataset", name=name, location="EU", description="second")
        status, body = invoke("bigquery", {**task, "ifExists": "SKIP"})
        assert status == 200 and body["outputs"]["dataset"] == name, body
        status, body = invoke("bigquery", {**task, "ifExists": "UPDATE"})
        assert status == 200 and body["outputs"]["description"] == "second", body
        status, body = invoke("bigquery", task)
        assert status == 409 and body["error"]["message"].endswith("already exists (set ifExists: SKIP or UPDATE)")
