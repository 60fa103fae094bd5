"""The course's BigQuery sequence (final table, external table over GCS, MD5 staging table, MERGE) through the
real google-cloud-bigquery client against the stand-in, with the object in the GCS emulator."""

from __future__ import annotations

import csv
import hashlib
import io
import time

from google.cloud import bigquery, storage

from .conftest import PROJECT
from .taxi import GREEN_COLUMNS, course_statements, green_csv, gzipped

ROWS = 20_000


def _run(bq: bigquery.Client, statements: list[str]) -> list[bigquery.QueryJob]:
    jobs = []
    for sql in statements:
        job = bq.query(sql)
        job.result()
        jobs.append(job)
    return jobs


def _count(bq: bigquery.Client, table: str) -> int:
    return next(iter(bq.query(f"SELECT COUNT(*) AS n FROM `{table}`").result()))["n"]


def test_course_sequence_types_hashes_and_idempotent_rerun(bq: bigquery.Client, bucket: storage.Bucket,
                                                           dataset: str) -> None:
    data = green_csv(ROWS, 2019, 1)
    bucket.blob("green_tripdata_2019-01.csv").upload_from_string(data, content_type="text/csv")
    uri = f"gs://{bucket.name}/green_tripdata_2019-01.csv"
    statements = course_statements(PROJECT, dataset, uri, "green_tripdata_2019-01.csv")

    started = time.monotonic()
    jobs = _run(bq, statements)
    elapsed = time.monotonic() - started
    assert elapsed < 20, f"course sequence took {elapsed:.1f}s for {ROWS} rows"
    assert [j.statement_type for j in jobs] == ["CREATE_TABLE", "CREATE_EXTERNAL_TABLE", "CREATE_TABLE_AS_SELECT",
                                                "MERGE"]
    assert jobs[3].num_dml_affected_rows == ROWS
    final = f"{PROJECT}.{dataset}.green_tripdata"
    assert _count(bq, final) == ROWS

    table = bq.get_table(final)
    types = {f.name: f.field_type for f in table.schema}
    assert types["unique_row_id"] == "BYTES"
    assert types["lpep_pickup_datetime"] == "TIMESTAMP"
    assert types["trip_distance"] == "NUMERIC"
    assert types["passenger_count"] == "INTEGER"
    assert types["VendorID"] == "STRING"
    assert table.time_partitioning.field == "lpep_pickup_datetime"
    described = {f.name: f.description for f in table.schema}
    assert described["filename"] == "The source filename from which the trip data was loaded."

    staging = bq.get_table(f"{PROJECT}.{dataset}.green_tripdata_2019_01")
    assert [f.name for f in staging.schema] == ["unique_row_id", "filename", *GREEN_COLUMNS]
    external = bq.get_table(f"{PROJECT}.{dataset}.green_tripdata_2019_01_ext")
    assert external.table_type == "EXTERNAL"
    assert external.external_data_configuration.source_uris == [uri]

    # The MD5 is BigQuery's: CAST(TIMESTAMP AS STRING) renders '2019-01-01 00:00:03+00'.
    first = next(csv.DictReader(io.StringIO(data.decode())))
    key = "".join([first["VendorID"], first["lpep_pickup_datetime"] + "+00", first["lpep_dropoff_datetime"] + "+00",
                   first["PULocationID"], first["DOLocationID"]])
    row = next(iter(bq.query(
        f"SELECT unique_row_id, filename, trip_distance, passenger_count FROM `{final}` "
        f"WHERE lpep_pickup_datetime = TIMESTAMP '{first['lpep_pickup_datetime']}' "
        f"AND PULocationID = '{first['PULocationID']}' AND DOLocationID = '{first['DOLocationID']}'").result()))
    assert row["unique_row_id"] == hashlib.md5(key.encode()).digest()
    assert row["filename"] == "green_tripdata_2019-01.csv"
    assert str(row["trip_distance"]) == first["trip_distance"].rstrip("0").rstrip(".")
    assert row["passenger_count"] == (int(first["passenger_count"]) if first["passenger_count"] else None)

    # Re-running the whole month (a retry, a backfill) inserts nothing new.
    rerun = _run(bq, statements)
    assert rerun[0].ddl_operation_performed == "SKIP"
    assert rerun[3].num_dml_affected_rows == 0
    assert _count(bq, final) == ROWS

    # The next month, uploaded gzipped, adds its rows.
    bucket.blob("green_tripdata_2019-02.csv.gz").upload_from_string(gzipped(green_csv(500, 2019, 2, seed=2)))
    _run(bq, course_statements(PROJECT, dataset, f"gs://{bucket.name}/green_tripdata_2019-02.csv.gz",
                               "green_tripdata_2019-02.csv"))
    assert _count(bq, final) == ROWS + 500


def test_external_table_reads_the_object_at_query_time(bq: bigquery.Client, bucket: storage.Bucket,
                                                       dataset: str) -> None:
    blob = bucket.blob("data/part.csv")
    blob.upload_from_string("name,n\na,1\nb,2\n")
    _run(bq, [f"CREATE EXTERNAL TABLE {dataset}.ext OPTIONS (format = 'CSV', uris = ['gs://{bucket.name}/data/*.csv'],"
              " skip_leading_rows = 1)"])
    schema = {f.name: f.field_type for f in bq.get_table(f"{dataset}.ext").schema}
    assert schema == {"name": "STRING", "n": "INTEGER"}
    assert _count(bq, f"{PROJECT}.{dataset}.ext") == 2
    blob.upload_from_string("name,n\na,1\nb,2\nc,3\n")
    bucket.blob("data/other.csv").upload_from_string("name,n\nd,4\n")
    assert _count(bq, f"{PROJECT}.{dataset}.ext") == 4
