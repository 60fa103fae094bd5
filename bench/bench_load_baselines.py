"""Benchmark: the Postgres load path a user could pick, on the same generated taxi CSV and the same server.

Methods (each loads into its own freshly created table with the same column types, in its own process, so
that process's peak RSS - `ru_maxrss` from wait4, PostgreSQL's memory excluded - belongs to it alone):

- `copyin`: ours, the `postgres` function's CopyIn reading the object from the GCS emulator (COPY FROM STDIN);
- `psql_copy`: `psql \\copy` from the local file;
- `pandas`: the course's earlier module - `pandas.read_csv(iterator=True, chunksize=100000)`, datetime parsing
  and `DataFrame.to_sql(if_exists="append")` per chunk over SQLAlchemy + psycopg2;
- `dlt`: dlt's postgres destination with its defaults, fed the same CSV in 100,000-row chunks.

pandas and dlt run from a separate virtualenv (bench/.work/baselines, made by `bench/run --setup`); without
it they are reported as unavailable. Rounds alternate the order of the methods. Run:
    .venv/bin/python bench/bench_load_baselines.py --rows 1000000 --runs 3 [--methods copyin,psql_copy]
Prints one JSON document on stdout (progress on stderr).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from kestra_gcp.local.services import gcs  # noqa: E402
from kestra_gcp.local.services.postgres import EmbeddedPostgres  # noqa: E402
from kestra_gcp.testdata.generator import YELLOW_COLUMNS, MonthSpec, generate  # noqa: E402

FUNCTIONS = ROOT / "functions"
DATA = ROOT / "bench" / ".data" / "load"
BASELINES_PY = ROOT / "bench" / ".work" / "baselines" / "bin" / "python"
TIME = "/usr/bin/time"
METHODS = ("copyin", "psql_copy", "pandas", "dlt")
TYPES = {
    "VendorID": "int", "tpep_pickup_datetime": "timestamp", "tpep_dropoff_datetime": "timestamp",
    "passenger_count": "int", "trip_distance": "double precision", "RatecodeID": "int",
    "store_and_fwd_flag": "text", "PULocationID": "int", "DOLocationID": "int", "payment_type": "int",
}

RUN_COPYIN = """
import json, sys, time
from kfn.request import Call, ExecutionRef
from kfn import postgres
task, exec_ref = json.loads(sys.argv[1]), json.loads(sys.argv[2])
started = time.perf_counter()
out = postgres.handle(Call("postgres", task, ExecutionRef.model_validate(exec_ref)))
print(json.dumps({"rows": out["rowCount"], "handle_s": time.perf_counter() - started}))
"""

# The course's module-1 ingestion script, reduced to its loading loop.
RUN_PANDAS = """
import sys
import pandas as pd
from sqlalchemy import create_engine
url, csv, table = sys.argv[1:4]
engine = create_engine(url)
rows = 0
for chunk in pd.read_csv(csv, iterator=True, chunksize=100000):
    chunk.tpep_pickup_datetime = pd.to_datetime(chunk.tpep_pickup_datetime)
    chunk.tpep_dropoff_datetime = pd.to_datetime(chunk.tpep_dropoff_datetime)
    chunk.to_sql(name=table, con=engine, if_exists="append", index=False)
    rows += len(chunk)
print(rows)
"""

RUN_DLT = """
import sys, os
import dlt
import pandas as pd
url, csv, table, pipelines_dir = sys.argv[1:5]

@dlt.resource(name=table, write_disposition="append")
def trips():
    for chunk in pd.read_csv(csv, iterator=True, chunksize=100000):
        yield chunk.to_dict(orient="records")

pipeline = dlt.pipeline(pipeline_name="bench_" + table, destination=dlt.destinations.postgres(url),
                        dataset_name="dlt_bench", pipelines_dir=pipelines_dir, progress=None)
info = pipeline.run(trips())
info.raise_on_failed_jobs()
print("ok")
"""


@dataclass
class Method:
    """Timings and peak RSS of one method at one size."""

    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)
    handle_seconds: list[float] = field(default_factory=list)
    error: str | None = None


def ddl(table: str) -> str:
    cols = ", ".join(f'"{c.lower()}" {TYPES.get(c, "numeric(10,2)")}' for c in YELLOW_COLUMNS)
    return f"CREATE TABLE {table} ({cols})"


def dataset(rows: int) -> Path:
    """The uncompressed CSV with `rows` yellow rows, generated once under bench/.data/load."""
    DATA.mkdir(parents=True, exist_ok=True)
    csv = DATA / f"yellow_{rows}.csv"
    if not csv.exists():
        print(f"generating {rows:,} rows ...", file=sys.stderr, flush=True)
        gz = generate(MonthSpec("yellow", 2019, 1, rows), DATA / f"yellow_{rows}.csv.gz")
        partial = csv.with_suffix(".part")
        with gzip.open(gz, "rb") as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        partial.rename(csv)
        gz.unlink()
    return csv


def timed_child(argv: list[str], **kwargs: Any) -> tuple[float, float, str]:
    """Runs argv under GNU time; returns wall seconds, the child's peak RSS in MB and its stdout.

    GNU time's own fork is small, so the peak it reports is the command's (a fork from this Python process
    would carry this process's resident set into the child's high-water mark).
    """
    with tempfile.NamedTemporaryFile(prefix="bench-rss-") as rss_file:
        started = time.perf_counter()
        proc = subprocess.run([TIME, "-f", "%M", "-o", rss_file.name, *argv], capture_output=True, **kwargs)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            last = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["(no stderr)"]
            raise RuntimeError(f"{Path(argv[0]).name} exited {proc.returncode}: {last[0][:300]}")
        peak_kb = int(Path(rss_file.name).read_text().split()[-1])
    return elapsed, peak_kb / 1024, proc.stdout.decode()


class LoadBench:
    """One embedded PostgreSQL and one GCS emulator shared by every method and size."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.pg = EmbeddedPostgres(work / "pg")
        self.emulator: gcs.GcsEmulator | None = None
        self.url = ""

    def __enter__(self) -> LoadBench:
        self.pg.start()
        self.url = self.pg.ensure_database("ny_taxi", "bench", "bench")
        self.emulator = gcs.start(self.work / "gcs", reuse=False)
        os.environ["STORAGE_EMULATOR_HOST"] = self.emulator.url
        from google.cloud import storage  # type: ignore[attr-defined, unused-ignore]

        storage.Client(project="bench").create_bucket("state")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.pg.stop()
        if self.emulator is not None:
            self.emulator.stop()

    def upload(self, csv: Path) -> str:
        from google.cloud import storage  # type: ignore[attr-defined, unused-ignore]

        blob = storage.Client(project="bench").bucket("state").blob(f"executions/bench/load/{csv.name}")
        blob.upload_from_filename(str(csv))
        return f"gs://state/{blob.name}"

    def fresh_table(self, table: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute("DROP SCHEMA IF EXISTS dlt_bench CASCADE")
            conn.execute(ddl(table))
        with psycopg.connect(self.pg.superuser_url(), autocommit=True) as conn:
            conn.execute("CHECKPOINT")  # no side pays for the previous side's dirty pages

    def count(self, table: str) -> int:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else -1

    def run(self, method: str, csv: Path, uri: str) -> tuple[float, float, float | None]:
        """Loads csv with one method; returns process wall seconds, its peak RSS in MB and, for the
        function, the seconds spent inside handle() (without interpreter start and imports)."""
        table = f"t_{method}"
        self.fresh_table(table)
        sa_url = self.url.replace("postgresql://", "postgresql+psycopg2://", 1)
        if method == "copyin":
            assert self.emulator is not None
            task = {"id": "load", "type": "io.kestra.plugin.jdbc.postgresql.CopyIn",
                    "url": f"jdbc:postgresql://{self.pg.host}:{self.pg.port}/ny_taxi", "username": "bench",
                    "password": "bench", "table": table, "from": uri, "format": "CSV", "header": True,
                    "delimiter": ","}
            ref = {"id": uuid.uuid4().hex, "namespace": "bench", "flowId": "load"}
            env = dict(os.environ, STORAGE_EMULATOR_HOST=self.emulator.url, KESTRA_GCP_BUCKET="state",
                       PYTHONPATH=str(FUNCTIONS))
            seconds, rss, out = timed_child([sys.executable, "-c", RUN_COPYIN, json.dumps(task),
                                             json.dumps(ref)], cwd=FUNCTIONS, env=env)
            return seconds, rss, float(json.loads(out.strip().splitlines()[-1])["handle_s"])
        elif method == "psql_copy":
            seconds, rss, _ = timed_child([shutil.which("psql") or "psql", self.url, "-X", "-q", "-v",
                                           "ON_ERROR_STOP=1", "-c",
                                           f"\\copy {table} FROM '{csv}' WITH (FORMAT csv, HEADER true)"])
        elif method == "pandas":
            # to_sql appends by the DataFrame's (mixed-case) column names
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(f"DROP TABLE {table}")
                cols = ", ".join(f'"{c}" {TYPES.get(c, "numeric(10,2)")}' for c in YELLOW_COLUMNS)
                conn.execute(f"CREATE TABLE {table} ({cols})")
            seconds, rss, _ = timed_child([str(BASELINES_PY), "-c", RUN_PANDAS, sa_url, str(csv), table])
        elif method == "dlt":
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(f"DROP TABLE {table}")
            pipelines = self.work / "dlt"
            shutil.rmtree(pipelines, ignore_errors=True)
            env = dict(os.environ, RUNTIME__LOG_LEVEL="WARNING", DLT_DATA_DIR=str(self.work / "dlt-data"))
            seconds, rss, _ = timed_child([str(BASELINES_PY), "-c", RUN_DLT, self.url, str(csv), table,
                                           str(pipelines)], env=env)
        else:
            raise ValueError(method)
        return seconds, rss, None

    def drop(self, method: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS t_{method}")
            conn.execute("DROP SCHEMA IF EXISTS dlt_bench CASCADE")


def stats(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3),
            "max": round(max(values), 3)}


def measure(bench: LoadBench, rows: int, runs: int, methods: list[str]) -> dict[str, Any]:
    csv = dataset(rows)
    uri = bench.upload(csv) if "copyin" in methods else ""
    results = {m: Method() for m in methods}
    for run in range(runs):
        order = methods if run % 2 == 0 else list(reversed(methods))
        for method in order:
            res = results[method]
            if res.error:
                continue
            try:
                seconds, rss, handle = bench.run(method, csv, uri)
                table = f"dlt_bench.t_{method}" if method == "dlt" else f"t_{method}"
                loaded = bench.count(table)
                if loaded != rows:
                    raise RuntimeError(f"loaded {loaded} rows, expected {rows}")
            except Exception as exc:  # a baseline that fails is reported, not fatal
                res.error = str(exc).splitlines()[0][:300]
                print(f"  {method}: FAILED {res.error}", file=sys.stderr, flush=True)
                continue
            finally:
                bench.drop(method)
            res.seconds.append(seconds)
            res.peak_rss_mb.append(rss)
            if handle is not None:
                res.handle_seconds.append(handle)
            print(f"  {rows:,} rows, run {run + 1}: {method} {seconds:.2f}s, peak RSS {rss:.0f} MB",
                  file=sys.stderr, flush=True)
    out: dict[str, Any] = {"rows": rows, "csv_mb": round(csv.stat().st_size / 1e6, 1), "methods": {}}
    for method, res in results.items():
        if res.error or not res.seconds:
            out["methods"][method] = {"error": res.error or "not run"}
            continue
        out["methods"][method] = {
            "seconds": [round(s, 3) for s in res.seconds], "stats_s": stats(res.seconds),
            "rows_per_s": round(rows / statistics.median(res.seconds)),
            "peak_rss_mb": round(max(res.peak_rss_mb), 1),
        }
        if res.handle_seconds:
            out["methods"][method]["handle_seconds"] = [round(s, 3) for s in res.handle_seconds]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1000000", help="comma-separated sizes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        print(f"bench_load_baselines: unknown method(s) {', '.join(unknown)}", file=sys.stderr)
        return 2
    unavailable = {}
    if not BASELINES_PY.exists():
        for m in ("pandas", "dlt"):
            if m in methods:
                methods.remove(m)
                unavailable[m] = "baselines virtualenv missing (bench/run --setup needs network once)"
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    work.chmod(0o711)  # the embedded PostgreSQL may run as an unprivileged user
    try:
        with LoadBench(work) as bench:
            sizes = [measure(bench, int(r), args.runs, methods) for r in args.rows.split(",")]
            version = psycopg.connect(bench.url).execute("SHOW server_version").fetchone()
        for size in sizes:
            for m, why in unavailable.items():
                size["methods"][m] = {"error": why}
        print(json.dumps({"sizes": sizes, "runs": args.runs,
                          "postgres_version": version[0] if version else "?"}, indent=2))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
