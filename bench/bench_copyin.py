"""Benchmark: the postgres function's CopyIn (gs:// object -> COPY FROM STDIN) vs `psql \\copy` from a local
file, into the same embedded PostgreSQL server, with the same synthetic taxi month (default 1M rows).

Each side loads into its own empty table, `--runs` times, alternating which goes first, each load
starting from a checkpoint; the medians are compared. The function runs in a fresh process (`handle()`
of kfn.postgres) whose peak RSS (VmHWM) is reported.
Run: `.venv/bin/python bench/bench_copyin.py [--rows 1000000] [--runs 3]`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from kestra_gcp.local.services import gcs
from kestra_gcp.local.services.postgres import EmbeddedPostgres
from kestra_gcp.testdata.generator import YELLOW_COLUMNS, MonthSpec, generate

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
TYPES = {
    "VendorID": "int", "tpep_pickup_datetime": "timestamp", "tpep_dropoff_datetime": "timestamp",
    "passenger_count": "int", "trip_distance": "double precision", "RatecodeID": "int",
    "store_and_fwd_flag": "text", "PULocationID": "int", "DOLocationID": "int", "payment_type": "int",
}
RUN_FUNCTION = """
import json, resource, sys, time
from kfn.request import Call, ExecutionRef
from kfn import postgres
task, exec_ref = json.loads(sys.argv[1]), json.loads(sys.argv[2])
started = time.perf_counter()
out = postgres.handle(Call("postgres", task, ExecutionRef.model_validate(exec_ref)))
elapsed = time.perf_counter() - started
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": elapsed, "rows": out["rowCount"], "peak_rss_kb": hwm}))
"""


def ddl(table: str) -> str:
    cols = ", ".join(f"{c} {TYPES.get(c, 'numeric(10,2)')}" for c in YELLOW_COLUMNS)
    return f"CREATE TABLE {table} ({cols})"


def run_psql(csv: Path, server: EmbeddedPostgres, url: str, table: str) -> float:
    psql = shutil.which("psql") or str(Path(server.data_dir).parent / "psql")
    started = time.perf_counter()
    subprocess.run([psql, url, "-v", "ON_ERROR_STOP=1", "-q", "-c",
                    f"\\copy {table} FROM '{csv}' WITH (FORMAT csv, HEADER true, DELIMITER ',')"],
                   check=True)
    return time.perf_counter() - started


def run_function(uri: str, jdbc: str, table: str, env: dict[str, str]) -> dict[str, float]:
    task = {"id": "load_data", "type": "io.kestra.plugin.jdbc.postgresql.CopyIn", "url": jdbc,
            "username": "bench", "password": "bench", "table": table, "from": uri, "format": "CSV",
            "header": True, "delimiter": ","}
    exec_ref = {"id": uuid.uuid4().hex, "namespace": "zoomcamp", "flowId": "bench"}
    out = subprocess.run([sys.executable, "-c", RUN_FUNCTION, json.dumps(task), json.dumps(exec_ref)],
                         cwd=FUNCTIONS, env=env, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-copyin-"))
    work.chmod(0o711)
    server = EmbeddedPostgres(work / "pg")
    emulator = None
    try:
        print(f"generating {args.rows} yellow rows...", flush=True)
        gz = generate(MonthSpec("yellow", 2019, 1, args.rows), work / "yellow.csv.gz")
        csv = work / "yellow.csv"
        with gzip.open(gz, "rb") as src, open(csv, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        csv.chmod(0o644)
        size_mb = csv.stat().st_size / 1e6

        emulator = gcs.start(work / "gcs", reuse=False)
        env = dict(os.environ, STORAGE_EMULATOR_HOST=emulator.url, KESTRA_GCP_BUCKET="state",
                   PYTHONPATH=str(FUNCTIONS))
        os.environ["STORAGE_EMULATOR_HOST"] = emulator.url
        from google.cloud import storage

        client = storage.Client(project="bench")
        client.create_bucket("state")
        blob = client.bucket("state").blob("executions/zoomcamp/bench/e/extract/yellow.csv")
        blob.upload_from_filename(str(csv))
        uri = f"gs://state/{blob.name}"

        server.start()
        url = server.ensure_database("ny_taxi", "bench", "bench")
        jdbc = f"jdbc:postgresql://{server.host}:{server.port}/ny_taxi"
        psql_times: list[float] = []
        fn_times: list[float] = []
        rss: list[int] = []
        for run in range(args.runs):
            with psycopg.connect(url, autocommit=True) as conn:
                for t in ("t_psql", "t_fn"):
                    conn.execute(f"DROP TABLE IF EXISTS {t}")
                    conn.execute(ddl(t))
            # alternate who goes first, and start each load from a checkpoint, so WAL and checkpoint
            # pressure from one load does not land on the other
            for side in (("psql", "fn") if run % 2 == 0 else ("fn", "psql")):
                with psycopg.connect(server.superuser_url(), autocommit=True) as conn:
                    conn.execute("CHECKPOINT")
                if side == "psql":
                    psql_times.append(run_psql(csv, server, url, "t_psql"))
                else:
                    result = run_function(uri, jdbc, "t_fn", env)
                    fn_times.append(result["seconds"])
                    rss.append(int(result["peak_rss_kb"]))
            with psycopg.connect(url) as conn:
                counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                          for t in ("t_psql", "t_fn")]
            assert counts == [args.rows, args.rows] == [args.rows, int(result["rows"])], counts
            print(f"run {run + 1}: psql \\copy {psql_times[-1]:.2f}s, CopyIn function {fn_times[-1]:.2f}s, "
                  f"peak RSS {rss[-1] / 1024:.0f} MB", flush=True)
        psql_rate = args.rows / statistics.median(psql_times)
        fn_rate = args.rows / statistics.median(fn_times)
        print(json.dumps({
            "rows": args.rows, "csv_mb": round(size_mb, 1),
            "psql_copy_rows_per_s": round(psql_rate), "function_rows_per_s": round(fn_rate),
            "ratio": round(fn_rate / psql_rate, 3), "function_peak_rss_mb": round(max(rss) / 1024, 1),
        }, indent=2))
    finally:
        server.stop()
        if emulator is not None:
            emulator.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
