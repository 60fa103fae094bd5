"""End to end on the embedded default for the GCP flows: gcp_kv, gcp_setup, gcp_taxi (with an idempotent
re-run) and gcp_taxi_scheduled backfilled — GCS emulator and the BigQuery stand-in behind the real functions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import Cli, month_rows

pytestmark = pytest.mark.e2e

PROJECT, DATASET = "kestra-sandbox", "zoomcamp"  # what flows/gcp_kv.yaml stores


def _bigquery(cli: Cli) -> Any:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    url = cli.services()["bigquery"]["url"]
    return bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(), client_options={"api_endpoint": url})


def _count(cli: Cli, sql: str) -> int:
    return int(next(iter(_bigquery(cli).query(sql).result()))[0])


def test_gcp_kv_setup_taxi_and_scheduled_backfill(cli: Cli) -> None:
    code, result, stderr = cli.run_json(cli.flow("gcp_kv"))
    assert code == 0, stderr
    assert cli("kv", "get", "zoomcamp", "GCP_DATASET").stdout.strip() == DATASET

    code, result, stderr = cli.run_json(cli.flow("gcp_setup"))
    assert code == 0, stderr
    assert result["state"] == "SUCCESS"
    code, result, stderr = cli.run_json(cli.flow("gcp_setup"))  # ifExists: SKIP
    assert code == 0, stderr

    flow = cli.flow("gcp_taxi")
    code, result, stderr = cli.run_json(flow, "taxi=green", "year=2019", "month=01")
    assert code == 0, stderr
    assert result["state"] == "SUCCESS"
    expected = month_rows("green", 2019, 1)
    table = f"`{PROJECT}.{DATASET}.green_tripdata`"
    assert _count(cli, f"SELECT count(*) FROM {table}") == expected
    assert _count(cli, f"SELECT count(DISTINCT unique_row_id) FROM {table}") == expected
    assert _count(cli, f"SELECT count(*) FROM {table} WHERE filename = 'green_tripdata_2019-01.csv'") == expected
    # the raw file was uploaded to the data bucket named in the KV store
    # idempotent re-run: the MERGE inserts nothing new
    code, result, stderr = cli.run_json(flow, "taxi=green", "year=2019", "month=01")
    assert code == 0, stderr
    assert _count(cli, f"SELECT count(*) FROM {table}") == expected

    proc = cli("backfill", str(cli.flow("gcp_taxi_scheduled")), "--trigger", "green_schedule",
               "--start", "2019-02-01", "--end", "2019-03-31", "--concurrency", "1", "--json")
    assert proc.returncode == 0, proc.stderr
    ticks = json.loads(proc.stdout.strip().splitlines()[-1])["ticks"]
    assert [t["state"] for t in ticks] == ["SUCCESS", "SUCCESS"]
    for month in (2, 3):
        name = f"green_tripdata_2019-0{month}.csv"
        assert _count(cli, f"SELECT count(*) FROM {table} WHERE filename = '{name}'") == month_rows(
            "green", 2019, month)
