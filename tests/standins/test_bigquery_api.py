"""The stand-in's REST surface as google-cloud-bigquery uses it: datasets, tables, jobs, paging, load jobs,
destination tables, dry runs, parameters, and BigQuery's errors."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import uuid
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.cloud import bigquery, storage

from .conftest import PROJECT


def test_datasets_create_get_list_delete(bq: bigquery.Client) -> None:
    name = f"ds_{uuid.uuid4().hex[:8]}"
    ds = bigquery.Dataset(f"{PROJECT}.{name}")
    ds.location = "EU"
    ds.description = "course data"
    bq.create_dataset(ds)
    with pytest.raises(exceptions.Conflict):
        bq.create_dataset(name)
    bq.create_dataset(name, exists_ok=True)
    got = bq.get_dataset(name)
    assert (got.location, got.description) == ("EU", "course data")
    assert name in [d.dataset_id for d in bq.list_datasets()]
    bq.query(f"CREATE TABLE {name}.t (a INT64)").result()
    with pytest.raises(exceptions.BadRequest, match="still in use"):
        bq.delete_dataset(name)
    bq.delete_dataset(name, delete_contents=True)
    with pytest.raises(exceptions.NotFound):
        bq.get_dataset(name)
    bq.delete_dataset(name, not_found_ok=True)


def test_projects_are_created_on_demand_and_cross_project_queries(bq: bigquery.Client) -> None:
    other = f"proj-{uuid.uuid4().hex[:6]}"
    bq.create_dataset(f"{other}.raw")
    bq.query(f"CREATE TABLE `{other}.raw.t` AS SELECT 1 AS a UNION ALL SELECT 2").result()
    rows = bq.query(f"SELECT SUM(a) AS s FROM `{other}.raw.t`").result()
    assert [r.s for r in rows] == [3]
    assert [d.dataset_id for d in bq.list_datasets(project=other)] == ["raw"]


def test_result_types_and_paging(bq: bigquery.Client, dataset: str) -> None:
    bq.query(f"""CREATE TABLE {dataset}.many AS
                 SELECT n, CAST(n AS STRING) AS s, n / 4 AS f, CAST(n / 8 AS NUMERIC) AS num,
                        TIMESTAMP_ADD(TIMESTAMP '2024-01-01 00:00:00', INTERVAL n SECOND) AS ts,
                        DATE '2024-01-01' AS d, DATETIME '2024-01-01 10:00:00' AS dtm, n > 5 AS flag
                 FROM UNNEST(GENERATE_ARRAY(1, 2500)) AS n""").result()
    job = bq.query(f"SELECT * FROM {dataset}.many ORDER BY n")
    rows = list(job.result(page_size=1000))
    assert len(rows) == 2500
    assert [r.n for r in rows[:3]] == [1, 2, 3]
    last = rows[-1]
    assert last.s == "2500"
    assert last.f == 625.0
    assert last.num == decimal.Decimal("312.5")
    assert last.ts == dt.datetime(2024, 1, 1, 0, 41, 40, tzinfo=dt.UTC)
    assert last.d == dt.date(2024, 1, 1)
    assert last.dtm == dt.datetime(2024, 1, 1, 10, 0)
    assert last.flag is True
    assert [f.field_type for f in job.result().schema] == ["INTEGER", "STRING", "FLOAT", "NUMERIC", "TIMESTAMP",
                                                            "DATE", "DATETIME", "BOOLEAN"]
    listed = list(bq.list_rows(f"{dataset}.many", max_results=10, start_index=5))
    assert [r.n for r in listed] == list(range(6, 16))
    assert len(list(bq.query_and_wait(f"SELECT n FROM {dataset}.many", page_size=700))) == 2500


def test_ddl_and_dml_semantics(bq: bigquery.Client, dataset: str) -> None:
    bq.query(f"CREATE TABLE {dataset}.t (id INT64 NOT NULL, v STRING)").result()
    with pytest.raises(exceptions.Conflict, match="Already Exists: Table"):
        bq.query(f"CREATE TABLE {dataset}.t (id INT64)").result()
    job = bq.query(f"INSERT INTO {dataset}.t (id, v) VALUES (1, 'a'), (2, 'b'), (3, NULL)")
    job.result()
    assert job.num_dml_affected_rows == 3
    job = bq.query(f"UPDATE {dataset}.t SET v = 'z' WHERE v IS NULL")
    job.result()
    assert job.num_dml_affected_rows == 1
    job = bq.query(f"DELETE FROM {dataset}.t WHERE id = 1")
    job.result()
    assert job.num_dml_affected_rows == 1
    field = next(f for f in bq.get_table(f"{dataset}.t").schema if f.name == "id")
    assert field.mode == "REQUIRED"
    bq.query(f"CREATE OR REPLACE VIEW {dataset}.v AS SELECT id FROM {dataset}.t").result()
    assert bq.get_table(f"{dataset}.v").table_type == "VIEW"
    assert sorted(t.table_id for t in bq.list_tables(dataset)) == ["t", "v"]
    bq.query(f"DROP VIEW {dataset}.v").result()
    bq.query(f"DROP TABLE IF EXISTS {dataset}.v").result()
    with pytest.raises(exceptions.NotFound):
        bq.query(f"DROP TABLE {dataset}.v").result()
    bq.delete_table(f"{dataset}.t")
    with pytest.raises(exceptions.NotFound):
        bq.get_table(f"{dataset}.t")


def test_failed_statement_leaves_no_partial_rows(bq: bigquery.Client, dataset: str) -> None:
    bq.query(f"CREATE TABLE {dataset}.t (n INT64)").result()
    with pytest.raises(exceptions.BadRequest):
        bq.query(f"INSERT INTO {dataset}.t SELECT CAST(x AS INT64) FROM UNNEST(['1', '2', 'x']) AS x").result()
    assert next(iter(bq.query(f"SELECT COUNT(*) AS c FROM {dataset}.t").result())).c == 0


def test_destination_table_dispositions(bq: bigquery.Client, dataset: str) -> None:
    dest = f"{PROJECT}.{dataset}.dest"
    config = bigquery.QueryJobConfig(destination=dest)
    bq.query("SELECT 1 AS a", job_config=config).result()
    with pytest.raises(exceptions.Conflict):
        bq.query("SELECT 2 AS a", job_config=config).result()
    append = bigquery.QueryJobConfig(destination=dest, write_disposition="WRITE_APPEND")
    bq.query("SELECT 2 AS a", job_config=append).result()
    assert bq.get_table(dest).num_rows == 2
    truncate = bigquery.QueryJobConfig(destination=dest, write_disposition="WRITE_TRUNCATE")
    rows = list(bq.query("SELECT 5 AS a", job_config=truncate).result())
    assert [r.a for r in rows] == [5]
    partitioned = bigquery.QueryJobConfig(destination=f"{PROJECT}.{dataset}.by_day", clustering_fields=["a"],
                                          time_partitioning=bigquery.TimePartitioning(field="d"))
    bq.query("SELECT 1 AS a, DATE '2024-01-01' AS d", job_config=partitioned).result()
    table = bq.get_table(f"{dataset}.by_day")
    assert (table.time_partitioning.field, table.clustering_fields) == ("d", ["a"])
    never = bigquery.QueryJobConfig(destination=f"{PROJECT}.{dataset}.missing", create_disposition="CREATE_NEVER")
    with pytest.raises(exceptions.NotFound):
        bq.query("SELECT 1 AS a", job_config=never).result()


def test_dry_run_has_schema_and_no_side_effect(bq: bigquery.Client, dataset: str) -> None:
    job = bq.query("SELECT 1 AS a, 'x' AS b", job_config=bigquery.QueryJobConfig(dry_run=True))
    assert job.state == "DONE"
    assert [f.name for f in job.schema] == ["a", "b"]
    bq.query(f"CREATE TABLE {dataset}.t (a INT64)", job_config=bigquery.QueryJobConfig(dry_run=True))
    with pytest.raises(exceptions.NotFound):
        bq.get_table(f"{dataset}.t")
    with pytest.raises(exceptions.NotFound):
        bq.query(f"SELECT * FROM {dataset}.nope", job_config=bigquery.QueryJobConfig(dry_run=True))


def test_query_parameters_and_default_dataset(bq: bigquery.Client, dataset: str) -> None:
    bq.query(f"CREATE TABLE {dataset}.t AS SELECT 'a' AS k, 1 AS v UNION ALL SELECT 'b', 2").result()
    config = bigquery.QueryJobConfig(
        default_dataset=f"{PROJECT}.{dataset}",
        query_parameters=[bigquery.ScalarQueryParameter("k", "STRING", "b"),
                          bigquery.ScalarQueryParameter("m", "INT64", 10)])
    rows = list(bq.query("SELECT v * @m AS x FROM t WHERE k = @k", job_config=config).result())
    assert [r.x for r in rows] == [20]
    positional = bigquery.QueryJobConfig(query_parameters=[
        bigquery.ScalarQueryParameter(None, "STRING", "a"), bigquery.ScalarQueryParameter(None, "NUMERIC", "2.5"),
        bigquery.ArrayQueryParameter(None, "INT64", [1, 2])])
    rows = list(bq.query(f"SELECT v FROM {dataset}.t WHERE k = ? AND v * ? > 0 AND v IN UNNEST(?)",
                         job_config=positional).result())
    assert [r.v for r in rows] == [1]


def test_job_ids_get_and_duplicates(bq: bigquery.Client) -> None:
    job_id = f"kestra_{uuid.uuid4().hex}"
    job = bq.query("SELECT 42 AS answer", job_id=job_id, job_retry=None)
    assert next(iter(job.result())).answer == 42
    fetched = bq.get_job(job_id)
    assert fetched.state == "DONE" and fetched.statement_type == "SELECT"
    with pytest.raises(exceptions.Conflict, match="Already Exists: Job"):
        bq.query("SELECT 42 AS answer", job_id=job_id, job_retry=None)
    with pytest.raises(exceptions.NotFound):
        bq.get_job("no_such_job")


def test_errors_are_bigquery_errors(bq: bigquery.Client, dataset: str) -> None:
    with pytest.raises(exceptions.BadRequest, match=r"Syntax error: .* at \[2:"):
        bq.query("SELECT 1\nFROM WHERE").result()
    with pytest.raises(exceptions.NotFound, match=f"Table {PROJECT}:{dataset}.missing"):
        bq.query(f"SELECT * FROM {dataset}.missing").result()
    with pytest.raises(exceptions.NotFound, match=f"Dataset {PROJECT}:no_such_dataset"):
        bq.query("SELECT * FROM no_such_dataset.t").result()
    with pytest.raises(exceptions.BadRequest, match="must be qualified with a dataset"):
        bq.query("SELECT * FROM t").result()
    with pytest.raises(exceptions.BadRequest, match="nope"):
        bq.query("SELECT nope FROM UNNEST([1]) AS x").result()


def test_load_job_from_gcs(bq: bigquery.Client, bucket: storage.Bucket, dataset: str) -> None:
    bucket.blob("in/a.csv").upload_from_string("id,name,amount,at\n1,a,1.25,2024-01-01 10:00:00\n2,b,,\n")
    schema = [bigquery.SchemaField("id", "INT64"), bigquery.SchemaField("name", "STRING"),
              bigquery.SchemaField("amount", "NUMERIC"), bigquery.SchemaField("at", "TIMESTAMP")]
    config = bigquery.LoadJobConfig(schema=schema, skip_leading_rows=1, source_format="CSV")
    job = bq.load_table_from_uri(f"gs://{bucket.name}/in/a.csv", f"{dataset}.loaded", job_config=config)
    job.result()
    assert job.output_rows == 2
    job = bq.load_table_from_uri(f"gs://{bucket.name}/in/a.csv", f"{dataset}.loaded",
                                 job_config=bigquery.LoadJobConfig(skip_leading_rows=1))
    job.result()
    rows = sorted(bq.list_rows(f"{dataset}.loaded"), key=lambda r: r.id)
    assert len(rows) == 4
    assert rows[0].amount == decimal.Decimal("1.25") and rows[-1].amount is None
    auto = bigquery.LoadJobConfig(autodetect=True, skip_leading_rows=1, write_disposition="WRITE_TRUNCATE")
    bq.load_table_from_uri(f"gs://{bucket.name}/in/a.csv", f"{dataset}.auto", job_config=auto).result()
    types = {f.name: f.field_type for f in bq.get_table(f"{dataset}.auto").schema}
    assert types == {"id": "INTEGER", "name": "STRING", "amount": "FLOAT", "at": "TIMESTAMP"}
    with pytest.raises(exceptions.NotFound, match=r"missing\.csv"):
        bq.load_table_from_uri(f"gs://{bucket.name}/missing.csv", f"{dataset}.x", job_config=config).result()
    bucket.blob("in/bad.csv").upload_from_string("id,name,amount,at\nnot-a-number,a,1,\n")
    with pytest.raises(exceptions.BadRequest):
        bq.load_table_from_uri(f"gs://{bucket.name}/in/bad.csv", f"{dataset}.loaded", job_config=config).result()
    assert bq.get_table(f"{dataset}.loaded").num_rows == 4


def test_external_table_errors_and_schema_ddl(bq: bigquery.Client, bucket: storage.Bucket) -> None:
    name = f"ds_{uuid.uuid4().hex[:8]}"
    bq.query(f"CREATE SCHEMA IF NOT EXISTS `{PROJECT}.{name}` OPTIONS (location = 'EU')").result()
    assert bq.get_dataset(name).location == "EU"
    with pytest.raises(exceptions.NotFound, match=r"gs://.*/nope\.csv"):
        bq.query(f"CREATE EXTERNAL TABLE {name}.e (a INT64) OPTIONS (format = 'CSV', "
                 f"uris = ['gs://{bucket.name}/nope.csv'])").result()
    bucket.blob("bad.csv").upload_from_string("a\nnot-an-int\n")
    bq.query(f"CREATE EXTERNAL TABLE {name}.e (a INT64) OPTIONS (format = 'CSV', "
             f"uris = ['gs://{bucket.name}/bad.csv'], skip_leading_rows = 1)").result()
    with pytest.raises(exceptions.BadRequest, match="Error while reading data"):
        bq.query(f"SELECT * FROM {name}.e").result()
    with pytest.raises(exceptions.BadRequest, match="still in use"):
        bq.query(f"DROP SCHEMA {name}").result()
    bq.query(f"DROP SCHEMA {name} CASCADE").result()
    with pytest.raises(exceptions.NotFound):
        bq.get_dataset(name)


def test_anonymous_columns_are_named_like_bigquery(bq: bigquery.Client) -> None:
    row = next(iter(bq.query("SELECT COUNT(*), 'x' AS named, 1 + 1 FROM UNNEST([1, 2, 3])").result()))
    assert dict(row.items()) == {"f0_": 3, "named": "x", "f1_": 2}


def test_copy_and_extract_jobs(bq: bigquery.Client, bucket: storage.Bucket, dataset: str) -> None:
    bq.query(f"CREATE TABLE {dataset}.src (a INT64 OPTIONS (description = 'the a'), b STRING)").result()
    bq.query(f"INSERT INTO {dataset}.src VALUES (1, 'x'), (2, 'y')").result()
    bq.copy_table(f"{PROJECT}.{dataset}.src", f"{PROJECT}.{dataset}.copy").result()
    copied = bq.get_table(f"{dataset}.copy")
    assert copied.num_rows == 2 and copied.schema[0].description == "the a"
    with pytest.raises(exceptions.Conflict):
        bq.copy_table(f"{PROJECT}.{dataset}.src", f"{PROJECT}.{dataset}.copy").result()
    bq.extract_table(f"{PROJECT}.{dataset}.src", f"gs://{bucket.name}/out/src-*.csv").result()
    text = bucket.blob("out/src-000000000000.csv").download_as_text()
    assert text.splitlines() == ["a,b", "1,x", "2,y"]
    bq.query(f"EXPORT DATA OPTIONS (uri = 'gs://{bucket.name}/export/part-*.csv', format = 'CSV', header = TRUE, "
             f"field_delimiter = ';') AS SELECT a, UPPER(b) FROM {dataset}.src ORDER BY a").result()
    text = bucket.blob("export/part-000000000000.csv").download_as_text()
    assert text.splitlines() == ["a;f0_", "1;X", "2;Y"]


def test_load_from_file_multipart_and_resumable(bq: bigquery.Client, dataset: str, tmp_path: Path) -> None:
    small = tmp_path / "small.csv"
    small.write_text("id,name\n1,a\n2,b\n")
    schema = [bigquery.SchemaField("id", "INT64"), bigquery.SchemaField("name", "STRING")]
    config = bigquery.LoadJobConfig(schema=schema, skip_leading_rows=1)
    with small.open("rb") as f:
        job = bq.load_table_from_file(f, f"{dataset}.uploaded", job_config=config)
    job.result()
    assert job.output_rows == 2
    big = tmp_path / "big.csv"
    with big.open("w") as out:
        out.write("id,name\n")
        for i in range(600_000):
            out.write(f"{i},name-{i}\n")
    assert big.stat().st_size > 5 * 1024 * 1024  # the client switches to a resumable upload
    with big.open("rb") as f:
        job = bq.load_table_from_file(f, f"{dataset}.uploaded", job_config=config, rewind=True)
    job.result()
    assert job.output_rows == 600_000
    assert bq.get_table(f"{dataset}.uploaded").num_rows == 600_002


def test_alter_truncate_merge_update_and_division(bq: bigquery.Client, dataset: str) -> None:
    bq.query(f"CREATE TABLE {dataset}.t (id INT64, v STRING)").result()
    bq.query(f"ALTER TABLE {dataset}.t ADD COLUMN n NUMERIC").result()
    bq.query(f"ALTER TABLE {dataset}.t SET OPTIONS (description = 'trips')").result()
    table = bq.get_table(f"{dataset}.t")
    assert [f.name for f in table.schema] == ["id", "v", "n"] and table.description == "trips"
    bq.query(f"INSERT INTO {dataset}.t VALUES (1, 'a', 1), (2, 'b', 2)").result()
    job = bq.query(f"""MERGE {dataset}.t T USING (SELECT 2 AS id, 'B' AS v UNION ALL SELECT 3, 'c') S
                       ON T.id = S.id
                       WHEN MATCHED THEN UPDATE SET v = S.v
                       WHEN NOT MATCHED THEN INSERT (id, v) VALUES (S.id, S.v)""")
    job.result()
    assert job.num_dml_affected_rows == 2
    rows = [(r.id, r.v) for r in bq.query(f"SELECT id, v FROM {dataset}.t ORDER BY id").result()]
    assert rows == [(1, "a"), (2, "B"), (3, "c")]
    bq.query(f"ALTER TABLE {dataset}.t RENAME TO renamed").result()
    assert bq.get_table(f"{dataset}.renamed").description == "trips"
    bq.query(f"TRUNCATE TABLE {dataset}.renamed").result()
    assert bq.get_table(f"{dataset}.renamed").num_rows == 0
    with pytest.raises(exceptions.BadRequest, match="division by zero"):
        bq.query("SELECT 1 / 0 AS x").result()
    assert next(iter(bq.query("SELECT SAFE_DIVIDE(1, 0) AS x, 7 / 2 AS y").result())).values() == (None, 3.5)


def test_data_survives_a_restart_and_reads_create_no_project(gcs_emulator: object, bucket: storage.Bucket,
                                                            tmp_path: Path) -> None:
    from google.auth.credentials import AnonymousCredentials

    from kestra_gcp.standins.bigquery import BigQueryStandin

    bucket.blob("r.csv").upload_from_string("a\n1\n2\n")
    for run in range(2):
        with BigQueryStandin(tmp_path) as standin:
            client = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),
                                     client_options={"api_endpoint": standin.url})
            if run == 0:
                client.create_dataset("kept")
                client.query("CREATE TABLE kept.t AS SELECT 1 AS a").result()
                client.query(f"CREATE EXTERNAL TABLE kept.e (a INT64) OPTIONS (format = 'CSV', "
                             f"uris = ['gs://{bucket.name}/r.csv'], skip_leading_rows = 1)").result()
            assert [r.a for r in client.query("SELECT a FROM kept.t").result()] == [1]
            assert sorted(r.a for r in client.query("SELECT a FROM kept.e").result()) == [1, 2]
            assert list(client.list_datasets(project="never-written")) == []
            with pytest.raises(exceptions.NotFound):
                client.get_dataset("never-written.x")
    assert not (tmp_path / "never-written.duckdb").exists()


def test_information_schema_tables_and_columns(bq: bigquery.Client, bucket: storage.Bucket, dataset: str) -> None:
    bq.query(f"CREATE TABLE {dataset}.t (id INT64 NOT NULL, amount NUMERIC, at TIMESTAMP)").result()
    bq.query(f"CREATE VIEW {dataset}.v AS SELECT id FROM {dataset}.t").result()
    bucket.blob("i.csv").upload_from_string("a\n1\n")
    bq.query(f"CREATE EXTERNAL TABLE {dataset}.e (a INT64) OPTIONS (format = 'CSV', "
             f"uris = ['gs://{bucket.name}/i.csv'], skip_leading_rows = 1)").result()
    tables = {r.table_name: r.table_type for r in bq.query(
        f"SELECT table_name, table_type FROM `{PROJECT}.{dataset}`.INFORMATION_SCHEMA.TABLES").result()}
    assert tables == {"t": "BASE TABLE", "v": "VIEW", "e": "EXTERNAL"}
    columns = [(r.column_name, r.data_type, r.is_nullable) for r in bq.query(
        f"SELECT * FROM {dataset}.INFORMATION_SCHEMA.COLUMNS WHERE table_name = 't' ORDER BY ordinal_position")
        .result()]
    assert columns == [("id", "INT64", "NO"), ("amount", "NUMERIC", "YES"), ("at", "TIMESTAMP", "YES")]


def test_streaming_insert_all(bq: bigquery.Client, dataset: str) -> None:
    bq.query(f"CREATE TABLE {dataset}.s (id INT64, name STRING, at TIMESTAMP)").result()
    table = bq.get_table(f"{dataset}.s")
    assert bq.insert_rows_json(table, [{"id": 1, "name": "a", "at": "2024-01-01 10:00:00"}, {"id": 2}]) == []
    errors = bq.insert_rows_json(table, [{"id": 3}, {"id": 4, "bogus": 1}])
    assert errors[0]["index"] == 1 and errors[0]["errors"][0]["location"] == "bogus"
    rows = sorted((r.id, r.name) for r in bq.list_rows(table))
    assert rows == [(1, "a"), (2, None)]


def test_nested_results(bq: bigquery.Client) -> None:
    row = next(iter(bq.query(
        "SELECT [1, 2] AS ints, STRUCT(TIMESTAMP '2024-01-01 00:00:01' AS at, [NUMERIC '1.50'] AS nums) AS rec, "
        "ARRAY<STRING>[] AS empty").result()))
    assert row.ints == [1, 2]
    assert row.rec == {"at": dt.datetime(2024, 1, 1, 0, 0, 1, tzinfo=dt.UTC), "nums": [decimal.Decimal("1.5")]}
    assert row.empty == []


def test_create_and_update_table_through_the_api(bq: bigquery.Client, dataset: str) -> None:
    table = bigquery.Table(f"{PROJECT}.{dataset}.api_made", schema=[
        bigquery.SchemaField("id", "INT64", mode="REQUIRED", description="key"),
        bigquery.SchemaField("tags", "STRING", mode="REPEATED"),
        bigquery.SchemaField("at", "TIMESTAMP")])
    table.time_partitioning = bigquery.TimePartitioning(field="at")
    created = bq.create_table(table)
    assert [(f.name, f.field_type, f.mode) for f in created.schema] == [
        ("id", "INTEGER", "REQUIRED"), ("tags", "STRING", "REPEATED"), ("at", "TIMESTAMP", "NULLABLE")]
    assert created.schema[0].description == "key" and created.time_partitioning.field == "at"
    with pytest.raises(exceptions.Conflict):
        bq.create_table(table)
    created.description = "made through tables.insert"
    updated = bq.update_table(created, ["description"])
    assert updated.description == "made through tables.insert"
    bq.query(f"INSERT INTO {dataset}.api_made (id, tags) VALUES (1, ['a', 'b'])").result()
    assert [r.tags for r in bq.list_rows(updated)] == [["a", "b"]]


def test_timestamps_render_in_utc_whatever_the_host_zone(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    from google.auth.credentials import AnonymousCredentials

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "TZ": "America/New_York"}
    server = subprocess.Popen([sys.executable, "-m", "kestra_gcp.standins.bigquery", "--port", str(port),
                               "--data-dir", str(tmp_path)], env=env, stdout=subprocess.DEVNULL)
    try:
        client = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),
                                 client_options={"api_endpoint": f"http://127.0.0.1:{port}"})
        deadline = time.monotonic() + 20
        while True:
            try:
                list(client.list_datasets())
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        row = next(iter(client.query("SELECT CAST(TIMESTAMP '2019-01-01 00:46:40' AS STRING) AS s, "
                                     "TO_HEX(MD5(CAST(TIMESTAMP '2019-01-01 00:46:40' AS STRING))) AS h").result()))
        assert row.s == "2019-01-01 00:46:40+00"
        assert row.h == hashlib.md5(b"2019-01-01 00:46:40+00").hexdigest()
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_list_jobs_and_update_dataset(bq: bigquery.Client, dataset: str) -> None:
    job = bq.query("SELECT 1 AS one")
    job.result()
    assert job.job_id in [j.job_id for j in bq.list_jobs(max_results=50)]
    ds = bq.get_dataset(dataset)
    ds.description = "patched"
    ds.labels = {"team": "data"}
    updated = bq.update_dataset(ds, ["description", "labels"])
    assert (updated.description, updated.labels) == ("patched", {"team": "data"})
    assert bq.get_dataset(dataset).description == "patched"


def test_parquet_external_table_with_wildcard(bq: bigquery.Client, bucket: storage.Bucket, dataset: str,
                                              tmp_path: Path) -> None:
    import duckdb

    for month in (1, 2):
        path = tmp_path / f"yellow_tripdata_2024-0{month}.parquet"
        duckdb.sql(f"COPY (SELECT {month} AS VendorID, CAST(i AS DOUBLE) / 10 AS fare_amount "
                   f"FROM range(100) t(i)) TO '{path}' (FORMAT parquet)")
        bucket.blob(f"parquet/{path.name}").upload_from_filename(str(path))
    bq.query(f"CREATE OR REPLACE EXTERNAL TABLE {dataset}.yellow_ext OPTIONS (format = 'PARQUET', "
             f"uris = ['gs://{bucket.name}/parquet/yellow_tripdata_2024-*.parquet'])").result()
    bq.query(f"CREATE OR REPLACE TABLE {dataset}.yellow PARTITION BY RANGE_BUCKET(VendorID, GENERATE_ARRAY(0, 10, 1))"
             f" CLUSTER BY VendorID AS SELECT * FROM {dataset}.yellow_ext").result()
    row = next(iter(bq.query(f"SELECT COUNT(*) AS n, COUNT(DISTINCT VendorID) AS vendors, SUM(fare_amount) AS s "
                             f"FROM {dataset}.yellow").result()))
    assert (row.n, row.vendors, round(row.s, 6)) == (200, 2, 990.0)
    types = {f.name: f.field_type for f in bq.get_table(f"{dataset}.yellow_ext").schema}
    assert types == {"VendorID": "INTEGER", "fare_amount": "FLOAT"}


def test_view_over_external_table_sees_new_object_versions(bq: bigquery.Client, bucket: storage.Bucket,
                                                           dataset: str) -> None:
    blob = bucket.blob("v.csv")
    blob.upload_from_string("a\n1\n")
    bq.query(f"CREATE EXTERNAL TABLE {dataset}.e (a INT64) OPTIONS (format = 'CSV', "
             f"uris = ['gs://{bucket.name}/v.csv'], skip_leading_rows = 1)").result()
    bq.query(f"CREATE VIEW {dataset}.v AS SELECT a FROM {dataset}.e").result()
    assert [r.a for r in bq.query(f"SELECT a FROM {dataset}.v").result()] == [1]
    blob.upload_from_string("a\n1\n2\n")
    assert sorted(r.a for r in bq.query(f"SELECT a FROM {dataset}.e").result()) == [1, 2]
    blob.upload_from_string("a\n1\n2\n3\n")
    assert sorted(r.a for r in bq.query(f"SELECT a FROM {dataset}.v").result()) == [1, 2, 3]


@pytest.mark.parametrize(("sql", "expected"), [
    ("SELECT FORMAT_DATE('%Y-%m', DATE '2024-03-05')", "2024-03"),
    ("SELECT DATE_DIFF(DATE '2024-03-05', DATE '2024-01-01', DAY)", 64),
    ("SELECT DATE_ADD(DATE '2024-01-31', INTERVAL 1 MONTH)", dt.date(2024, 2, 29)),
    ("SELECT PARSE_TIMESTAMP('%Y-%m-%d %H:%M:%S', '2024-03-05 10:00:00')",
     dt.datetime(2024, 3, 5, 10, tzinfo=dt.UTC)),
    ("SELECT DATE(TIMESTAMP '2024-03-05 23:11:12')", dt.date(2024, 3, 5)),
    ("SELECT CAST(NUMERIC '10.50' AS STRING)", "10.5"),
    ("SELECT CAST(3.0 AS STRING)", "3"),
    ("SELECT CAST(TIMESTAMP '2024-03-05 10:00:00' AS STRING)", "2024-03-05 10:00:00+00"),
    ("SELECT SAFE_CAST('x' AS INT64)", None),
    ("SELECT TO_HEX(MD5('abc'))", "900150983cd24fb0d6963f7d28e17f72"),
    ("SELECT COUNTIF(x > 1) FROM UNNEST([1, 2, 3]) AS x", 2),
    ("SELECT 7 / 2", 3.5),
])
def test_googlesql_semantics(bq: bigquery.Client, sql: str, expected: object) -> None:
    assert next(iter(bq.query(sql).result()))[0] == expected


def test_script_with_temp_table(bq: bigquery.Client, dataset: str) -> None:
    bq.query(f"CREATE TABLE {dataset}.t AS SELECT x AS a FROM UNNEST([1, 2, 3]) AS x").result()
    job = bq.query(f"""CREATE TEMP TABLE big AS SELECT a FROM {dataset}.t WHERE a > 1;
                       INSERT INTO {dataset}.t SELECT a * 10 FROM big;
                       SELECT COUNT(*) AS n, SUM(a) AS s FROM big""")
    row = next(iter(job.result()))
    assert (row.n, row.s) == (2, 5)
    assert job.statement_type == "SCRIPT"
    assert bq.get_table(f"{dataset}.t").num_rows == 5
    with pytest.raises(exceptions.BadRequest, match="qualified with a dataset"):
        bq.query("SELECT * FROM big").result()


def test_object_cache_is_bounded_and_refetches(gcs_emulator: object, bucket: storage.Bucket,
                                               tmp_path: Path) -> None:
    from kestra_gcp.standins.bigquery.gcs_objects import ObjectCache

    cache = ObjectCache(tmp_path / "objects", max_bytes=1500)
    for name in ("a", "b", "c"):
        bucket.blob(name).upload_from_string(name * 1000)
    first = cache.fetch([f"gs://{bucket.name}/a"])[0]
    cache.fetch([f"gs://{bucket.name}/b"])
    cache.trim()
    assert not first.exists()
    assert cache.fetch([f"gs://{bucket.name}/a"])[0].read_text() == "a" * 1000
    assert sum(p.stat().st_size for p in (tmp_path / "objects").iterdir()) <= 2000
