"""The synthetic taxi months: release columns, realistic values, reproducibility, and the HTTP server."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import datetime
from pathlib import Path

import pytest
import requests

from kestra_gcp.testdata import COLUMNS, MonthSpec, TaxiDataServer, generate


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with gzip.open(path, "rt", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def test_yellow_2019_01_matches_release_columns_and_is_realistic(tmp_path: Path) -> None:
    header, rows = _rows(generate(MonthSpec("yellow", 2019, 1, 5000), tmp_path / "y.csv.gz"))
    assert header == list(COLUMNS["yellow"])
    assert header[-1] == "congestion_surcharge" and len(header) == 18
    assert len(rows) == 5000
    for row in rows:
        pickup = datetime.strptime(row["tpep_pickup_datetime"], "%Y-%m-%d %H:%M:%S")
        dropoff = datetime.strptime(row["tpep_dropoff_datetime"], "%Y-%m-%d %H:%M:%S")
        assert (pickup.year, pickup.month) == (2019, 1)
        assert dropoff >= pickup
        assert row["congestion_surcharge"] == ""  # the surcharge starts in February 2019
        assert row["VendorID"] in {"1", "2"}
        assert 1 <= int(row["PULocationID"]) <= 265 and 1 <= int(row["DOLocationID"]) <= 265
        total = sum(float(row[c]) for c in ("fare_amount", "extra", "mta_tax", "tip_amount",
                                            "tolls_amount", "improvement_surcharge"))
        assert abs(total - float(row["total_amount"])) < 0.011
        if row["payment_type"] == "2":
            assert float(row["tip_amount"]) == 0  # cash tips are not recorded
    card_share = sum(r["payment_type"] == "1" for r in rows) / len(rows)
    assert 0.6 < card_share < 0.8
    single = sum(r["passenger_count"] == "1" for r in rows) / len(rows)
    assert 0.6 < single < 0.8
    distances = sorted(float(r["trip_distance"]) for r in rows)
    assert 1.0 < distances[len(distances) // 2] < 2.5  # median trip: a mile or two


def test_green_2020_has_release_columns_and_empty_dispatched_fields(tmp_path: Path) -> None:
    header, rows = _rows(generate(MonthSpec("green", 2020, 3, 5000), tmp_path / "g.csv.gz"))
    assert header == list(COLUMNS["green"])
    assert all(r["ehail_fee"] == "" for r in rows)
    assert all(r["lpep_pickup_datetime"].startswith("2020-03-") for r in rows)
    empty_vendor = [r for r in rows if r["VendorID"] == ""]
    assert 0.01 < len(empty_vendor) / len(rows) < 0.06
    assert all(r["payment_type"] == "" and r["passenger_count"] == "" for r in empty_vendor)
    assert {r["congestion_surcharge"] for r in rows} <= {"0.00", "2.75"}


def test_generation_is_reproducible_and_months_differ(tmp_path: Path) -> None:
    a = generate(MonthSpec("yellow", 2019, 2, 2000), tmp_path / "a.csv.gz")
    b = generate(MonthSpec("yellow", 2019, 2, 2000), tmp_path / "b.csv.gz")
    c = generate(MonthSpec("yellow", 2019, 3, 2000), tmp_path / "c.csv.gz")
    assert gzip.decompress(a.read_bytes()) == gzip.decompress(b.read_bytes())
    days_a = [r["tpep_pickup_datetime"][8:] for r in _rows(a)[1]]
    days_c = [r["tpep_pickup_datetime"][8:] for r in _rows(c)[1]]
    assert days_a != days_c


def test_bad_specs_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown taxi type"):
        MonthSpec("blue", 2019, 1, 10)
    with pytest.raises(ValueError, match="month"):
        MonthSpec("green", 2019, 13, 10)


def test_server_serves_release_paths_and_404s_the_rest(tmp_path: Path) -> None:
    with TaxiDataServer(tmp_path, rows=300) as server:
        url = f"{server.base_url}green/green_tripdata_2019-04.csv.gz"
        resp = requests.get(url, timeout=30)
        assert resp.status_code == 200
        assert int(resp.headers["Content-Length"]) == len(resp.content)
        reader = csv.reader(io.StringIO(gzip.decompress(resp.content).decode()))
        assert len(list(reader)) == 301
        again = requests.get(url, timeout=30)
        assert again.content == resp.content  # cached, not regenerated differently
        for missing in ("green/green_tripdata_2022-01.csv.gz", "green/yellow_tripdata_2019-01.csv.gz",
                        "blue/blue_tripdata_2019-01.csv.gz", "nothing"):
            assert requests.get(server.base_url + missing, timeout=30).status_code == 404
