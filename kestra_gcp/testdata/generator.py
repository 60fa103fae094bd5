"""Generator of realistic synthetic NYC taxi trip months (yellow and green, 2019-2021 column sets).

The rows are produced by DuckDB from `range(rows)` and written straight to a gzipped CSV, so memory stays
bounded whatever the row count (the 7.6M rows of yellow 2019-01 included). Every field of row `i` is a pure
function of `(i, seed)` through DuckDB's `hash`, so a month is byte-for-byte reproducible.

Distributions follow the published TLC data: lognormal trip distances, fares from the metered rate
(2.50 + 2.50/mile + time), tips only on card payments, the surcharges of the period (the congestion surcharge
starts in February 2019 and is empty before), Manhattan-heavy yellow pickups and outer-borough green pickups,
and, from 2020 on, a few percent of dispatched rows whose vendor, passenger count, rate code,
store-and-forward flag and payment type are empty, as in the real files.
"""

from __future__ import annotations

import calendar
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

YELLOW_COLUMNS: tuple[str, ...] = (
    "VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "passenger_count", "trip_distance",
    "RatecodeID", "store_and_fwd_flag", "PULocationID", "DOLocationID", "payment_type", "fare_amount",
    "extra", "mta_tax", "tip_amount", "tolls_amount", "improvement_surcharge", "total_amount",
    "congestion_surcharge",
)
GREEN_COLUMNS: tuple[str, ...] = (
    "VendorID", "lpep_pickup_datetime", "lpep_dropoff_datetime", "store_and_fwd_flag", "RatecodeID",
    "PULocationID", "DOLocationID", "passenger_count", "trip_distance", "fare_amount", "extra", "mta_tax",
    "tip_amount", "tolls_amount", "ehail_fee", "improvement_surcharge", "total_amount", "payment_type",
    "trip_type", "congestion_surcharge",
)
COLUMNS: dict[str, tuple[str, ...]] = {"yellow": YELLOW_COLUMNS, "green": GREEN_COLUMNS}

# Row counts of the real release files for a few months (the rest scale from these), used when a caller
# asks for the "real" size of a month.
_REAL_ROWS: dict[tuple[str, int], int] = {
    ("yellow", 2019): 7_667_792, ("yellow", 2020): 6_405_008, ("yellow", 2021): 1_369_769,
    ("green", 2019): 630_918, ("green", 2020): 447_770, ("green", 2021): 76_518,
}

# Busiest taxi zones (LocationID) by pickups, per service.
_YELLOW_ZONES = (236, 237, 161, 162, 170, 186, 48, 142, 239, 234, 230, 68, 163, 107, 79, 132, 138, 141,
                 140, 263, 249, 100, 113, 90, 164, 43, 238, 229, 233, 246, 151, 137, 262, 87, 13, 231)
_GREEN_ZONES = (74, 75, 41, 42, 166, 7, 82, 95, 97, 244, 129, 65, 260, 25, 181, 255, 116, 152, 61, 33,
                223, 226, 17, 112, 168, 243, 256, 189, 40, 52)


@dataclass(frozen=True)
class MonthSpec:
    """One release file: taxi colour, month, number of rows and the seed of its pseudo-random fields."""

    taxi: str
    year: int
    month: int
    rows: int
    seed: int = 1

    def __post_init__(self) -> None:
        if self.taxi not in COLUMNS:
            raise ValueError(f"unknown taxi type {self.taxi!r}: expected yellow or green")
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")
        if self.rows < 0:
            raise ValueError(f"rows must be >= 0, got {self.rows}")

    @property
    def file_name(self) -> str:
        return f"{self.taxi}_tripdata_{self.year:04d}-{self.month:02d}.csv.gz"

    @property
    def url_path(self) -> str:
        return f"/{self.taxi}/{self.file_name}"


def row_count_for(taxi: str, year: int) -> int:
    """The approximate row count of a real release month of this taxi colour and year."""
    return _REAL_ROWS.get((taxi, year), _REAL_ROWS[(taxi, 2019)])


def _sql(spec: MonthSpec) -> str:
    """The SELECT producing the month's rows in the release file's column order (all values as text)."""
    start = datetime(spec.year, spec.month, 1)
    seconds = calendar.monthrange(spec.year, spec.month)[1] * 86400
    green = spec.taxi == "green"
    prefix = "lpep" if green else "tpep"
    zones = _GREEN_ZONES if green else _YELLOW_ZONES
    has_congestion = (spec.year, spec.month) >= (2019, 2)
    dispatched_share = 0.03 if spec.year >= 2020 else 0.0
    # one independent stream per (seed, taxi, month): the same row index differs between files
    seed = int(spec.seed) * 1_000_003 + spec.year * 100 + spec.month + (500_000 if green else 0)

    def u(k: int) -> str:  # a uniform double in [0, 1) for row i and field k
        return f"((hash(i, {k}, {seed}) >> 11)::DOUBLE / 9007199254740992.0)"

    zone_list = "[" + ",".join(str(z) for z in zones) + "]"
    pick_zone = (
        "CASE WHEN {a} < 0.8 THEN list_extract({zl}, 1 + floor({b} * {n})::INT) "
        "ELSE 1 + floor({b} * 263)::INT END"
    )
    money = "CAST(round({x}, 2) AS DECIMAL(10,2))"
    congestion = (
        (f"CASE WHEN {u(14)} < 0.12 THEN 0 ELSE 2.5 END" if not green
         else f"CASE WHEN {u(14)} < 0.9 THEN 0 ELSE 2.75 END")
        if has_congestion else "NULL"
    )
    base = f"""
    WITH r AS (
      SELECT i,
        {u(1)} AS u_vendor, {u(2)} AS u_pick, {u(3)} AS u_d1, {u(4)} AS u_d2, {u(5)} AS u_speed,
        {u(6)} AS u_pax, {u(7)} AS u_rate, {u(8)} AS u_flag, {u(9)} AS u_pz, {u(10)} AS u_pz2,
        {u(11)} AS u_dz, {u(12)} AS u_dz2, {u(13)} AS u_pay, {u(15)} AS u_tip, {u(16)} AS u_toll,
        {u(17)} AS u_disp, {u(18)} AS u_trip
      FROM range({spec.rows}) t(i)
    ), t AS (
      SELECT *,
        TIMESTAMP '{start:%Y-%m-%d %H:%M:%S}' + to_seconds(floor(u_pick * {seconds})::BIGINT) AS pickup,
        CASE WHEN u_d1 < 0.01 THEN 0.0
             ELSE least(60.0, exp(ln({2.4 if green else 1.7}) + 0.85 *
                  sqrt(-2 * ln(greatest(u_d1, 1e-12))) * cos(2 * pi() * u_d2))) END AS dist,
        u_disp < {dispatched_share} AS dispatched,
        CASE WHEN u_rate < 0.97 THEN 1 WHEN u_rate < 0.99 THEN 2 WHEN u_rate < 0.996 THEN 5
             WHEN u_rate < 0.998 THEN 3 ELSE 4 END AS ratecode,
        CASE WHEN u_pay < 0.70 THEN 1 WHEN u_pay < 0.98 THEN 2 WHEN u_pay < 0.99 THEN 3 ELSE 4 END AS pay
      FROM r
    ), m AS (
      SELECT *,
        (dist / (7 + 9 * u_speed)) * 60 + 1 + 3 * u_speed AS minutes,
        CASE WHEN hour(pickup) >= 20 OR hour(pickup) < 6 THEN 0.5
             WHEN hour(pickup) BETWEEN 16 AND 19 AND isodow(pickup) <= 5 THEN 1.0 ELSE 0.0 END AS extra
      FROM t
    ), f AS (
      SELECT *,
        CASE WHEN ratecode = 2 THEN 52.0
             ELSE round((2.5 + 2.5 * dist + 0.35 * minutes) * 2) / 2 END AS fare,
        CASE WHEN u_toll < 0.05 THEN 5.76 ELSE 0.0 END AS tolls,
        {congestion} AS congestion
      FROM m
    ), g AS (
      SELECT *,
        CASE WHEN pay = 1 AND NOT dispatched THEN round(fare * (0.12 + 0.18 * u_tip), 2) ELSE 0.0 END AS tip
      FROM f
    )
    """
    vendor = "CASE WHEN dispatched THEN NULL WHEN u_vendor < 0.35 THEN 1 ELSE 2 END"
    pax = (
        "CASE WHEN dispatched THEN NULL WHEN u_pax < 0.70 THEN 1 WHEN u_pax < 0.84 THEN 2 "
        "WHEN u_pax < 0.88 THEN 3 WHEN u_pax < 0.90 THEN 4 WHEN u_pax < 0.95 THEN 5 "
        "WHEN u_pax < 0.98 THEN 6 ELSE 0 END"
    )
    fields: dict[str, str] = {
        "VendorID": vendor,
        f"{prefix}_pickup_datetime": "strftime(pickup, '%Y-%m-%d %H:%M:%S')",
        f"{prefix}_dropoff_datetime":
            "strftime(pickup + to_seconds(round(minutes * 60)::BIGINT), '%Y-%m-%d %H:%M:%S')",
        "passenger_count": pax,
        "trip_distance": money.format(x="dist"),
        "RatecodeID": "CASE WHEN dispatched THEN NULL ELSE ratecode END",
        "store_and_fwd_flag": "CASE WHEN dispatched THEN NULL WHEN u_flag < 0.01 THEN 'Y' ELSE 'N' END",
        "PULocationID": pick_zone.format(a="u_pz", b="u_pz2", zl=zone_list, n=len(zones)),
        "DOLocationID": pick_zone.format(a="u_dz", b="u_dz2", zl=zone_list, n=len(zones)),
        "payment_type": "CASE WHEN dispatched THEN NULL ELSE pay END",
        "fare_amount": money.format(x="fare"),
        "extra": money.format(x="extra"),
        "mta_tax": money.format(x="0.5"),
        "tip_amount": money.format(x="tip"),
        "tolls_amount": money.format(x="tolls"),
        "ehail_fee": "NULL",
        "improvement_surcharge": money.format(x="0.3"),
        "total_amount": money.format(
            x="fare + extra + 0.5 + tip + tolls + 0.3 + coalesce(congestion, 0)"),
        "trip_type": "CASE WHEN dispatched THEN NULL WHEN u_trip < 0.97 THEN 1 ELSE 2 END",
        "congestion_surcharge": money.format(x="congestion"),
    }
    select = ",\n      ".join(f'{fields[c]} AS "{c}"' for c in COLUMNS[spec.taxi])
    return f"{base} SELECT\n      {select}\n    FROM g"


def generate(spec: MonthSpec, path: Path, threads: int = 2) -> Path:
    """Write the month as a gzipped CSV at `path` atomically (a temp file renamed when complete)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    con = duckdb.connect(config={"threads": threads, "memory_limit": "512MB",
                                 "preserve_insertion_order": True})
    try:
        con.execute(
            f"COPY ({_sql(spec)}) TO '{tmp.as_posix()}' "
            "(FORMAT csv, HEADER true, COMPRESSION gzip, DELIMITER ',', NULLSTR '')"
        )
        tmp.replace(path)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)
    return path
