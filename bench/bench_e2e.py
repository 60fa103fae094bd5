"""Benchmark (issue 6 "Done when"): postgres_taxi end to end on a 7.6M-row yellow month vs the same work by hand.

Ours:      `kestra-gcp run postgres_taxi.yaml -i taxi=yellow -i year=2019 -i month=01` (compile, function
           host, engine, download -> GCS emulator, CopyIn, UPDATE, MERGE, purge), services already running.
Baseline:  `curl -s URL | gunzip > file.csv`, then psql: the flow's CREATE TABLEs, TRUNCATE, `\\copy` into the
           staging table, and the flow's UPDATE and MERGE statements, into a fresh database of the same server.

Both read the same generated file from the same local HTTP server and write to the same PostgreSQL.
Reported: wall time of each and their ratio (target <= 1.3), peak RSS summed over our own processes (the CLI
and its function host; PostgreSQL, the GCS emulator and the data server excluded; target <= 500 MB), and the
row counts of both final tables (must be equal).

    .venv/bin/python bench/bench_e2e.py                # 7,667,792 rows (yellow 2019-01)
    .venv/bin/python bench/bench_e2e.py --rows 200000  # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[1]
RELEASE_BASE = "https://github.com/DataTalksClub/nyc-tlc-data/releases/download/"
CLI = [sys.executable, "-m", "kestra_gcp"]
# Starts the services and creates postgres_taxi's role and database without touching any data.
WARMUP_FLOW = """
id: warmup
namespace: zoomcamp
tasks:
  - id: ping
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: jdbc:postgresql://pgdatabase:5432/ny_taxi
    username: root
    password: root
    sql: SELECT 1
"""


class RssSampler:
    """Samples the summed RSS of a process and its descendants every `interval` seconds; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            for proc in procs:
                try:
                    name = proc.name()
                    if "postgres" in name or "fake-gcs" in name:
                        continue  # services started by this run would not count either
                    total += proc.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def flow_sql(flow: dict[str, Any], task_id: str) -> str:
    """The SQL of a postgres task of the flow, with the flow's templates rendered for yellow 2019-01."""

    def find(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("id") == task_id:
                return node
            for value in node.values():
                found = find(value)
                if found is not None:
                    return found
        elif isinstance(node, list):
            for value in node:
                found = find(value)
                if found is not None:
                    return found
        return None

    sql = str(find(flow)["sql"])
    return (sql.replace("{{render(vars.table)}}", "public.yellow_tripdata")
            .replace("{{render(vars.staging_table)}}", "public.yellow_tripdata_staging")
            .replace("{{render(vars.file)}}", "yellow_tripdata_2019-01.csv"))


def timed(fn: Any) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=7_667_792)
    parser.add_argument("--rounds", type=int, default=2, help="measurement rounds, alternating the order")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and its services")
    args = parser.parse_args()
    for tool in ("curl", "gunzip", "psql"):
        if shutil.which(tool) is None:
            print(f"bench_e2e: {tool} not found on PATH", file=sys.stderr)
            return 2
    cache = REPO / "bench" / ".data" / "taxi"
    work = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    work.chmod(0o755)  # the embedded PostgreSQL runs as an unprivileged user
    server = None
    try:
        # 1. data: generated once (cached), served by a separate process under the release paths
        print(f"generating/serving yellow 2019-01 with {args.rows:,} rows ...", file=sys.stderr)
        server = subprocess.Popen([sys.executable, "-m", "kestra_gcp.testdata", "serve", "--rows", str(args.rows),
                                   "--cache", str(cache)], stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        url = f"{base}yellow/yellow_tripdata_2019-01.csv.gz"
        gen = timed(lambda: subprocess.run(["curl", "-sf", "-o", os.devnull, url], check=True))
        print(f"  data ready ({gen:.1f}s incl. generation if not cached)", file=sys.stderr)

        flow_text = (REPO / "flows" / "postgres_taxi.yaml").read_text().replace(RELEASE_BASE, base)
        flow_path = work / "postgres_taxi.yaml"
        flow_path.write_text(flow_text)
        flow = YAML(typ="safe").load(flow_text)
        run_args = [*CLI, "run", str(flow_path), "-i", "taxi=yellow", "-i", "year=2019", "-i", "month=01"]

        # 2. warm-up: start the services and create ny_taxi's role/database (not measured)
        warm = work / "warmup.yaml"
        warm.write_text(WARMUP_FLOW)
        subprocess.run([*CLI, "run", str(warm)], cwd=work, check=True, capture_output=True)
        from kestra_gcp.local.services.postgres import EmbeddedPostgres

        pg = EmbeddedPostgres(work / ".kestra-gcp" / "services" / "postgres" / "data").start()
        import psycopg

        csv_path = work / "yellow_tripdata_2019-01.csv"
        columns = ", ".join(next(t for t in _tasks(flow) if t["id"] == "yellow_copy_in_to_staging_table")["columns"])
        env = {**os.environ, "PGPASSWORD": "root"}
        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "root",
                "-d", "ny_taxi_baseline"]

        def reset() -> None:  # both sides start from empty tables
            with psycopg.connect(pg.superuser_url(), autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS ny_taxi_baseline")
                conn.execute("CREATE DATABASE ny_taxi_baseline OWNER root")
            with psycopg.connect(pg.url("ny_taxi", "root", "root"), autocommit=True) as conn:
                conn.execute("DROP TABLE IF EXISTS public.yellow_tripdata, public.yellow_tripdata_staging")

        def baseline() -> tuple[float, dict[str, float]]:
            """curl | gunzip, psql \\copy and the same SQL."""
            phases: dict[str, float] = {}
            started = time.monotonic()
            phases["download"] = timed(lambda: subprocess.run(
                f"curl -sf '{url}' | gunzip > '{csv_path}'", shell=True, check=True))
            for task in ("yellow_create_table", "yellow_create_staging_table", "yellow_truncate_staging_table"):
                subprocess.run([*psql, "-c", flow_sql(flow, task)], check=True, env=env)
            copy = (f"\\copy public.yellow_tripdata_staging ({columns}) FROM '{csv_path}' "
                    "WITH (FORMAT csv, HEADER true, DELIMITER ',')")
            phases["copy"] = timed(lambda: subprocess.run([*psql, "-c", copy], check=True, env=env))
            for task in ("yellow_add_unique_id_and_filename", "yellow_merge_data"):
                phases[task] = timed(lambda t=task: subprocess.run([*psql, "-c", flow_sql(flow, t)], check=True,
                                                                   env=env))
            wall = time.monotonic() - started
            csv_path.unlink(missing_ok=True)
            return wall, {k: round(v, 2) for k, v in phases.items()}

        def ours() -> tuple[float, dict[str, float], int]:
            started = time.monotonic()
            proc = subprocess.Popen([*run_args, "--json"], cwd=work, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            with RssSampler(proc.pid) as sampler:
                stdout, stderr = proc.communicate()
            wall = time.monotonic() - started
            if proc.returncode != 0:
                raise SystemExit(f"bench_e2e: kestra-gcp run failed:\n{stderr}")
            return wall, _task_durations(json.loads(stdout.strip().splitlines()[-1])), sampler.peak

        # Rounds alternate the order (baseline first, then ours first, ...) so neither side always gets the
        # cold or the warm server; the ratio is total ours / total baseline.
        rounds: list[dict[str, Any]] = []
        peak = 0
        for index in range(args.rounds):
            reset()
            order = ("baseline", "ours") if index % 2 == 0 else ("ours", "baseline")
            row: dict[str, Any] = {"order": list(order)}
            for side in order:
                print(f"round {index + 1}: {side} ...", file=sys.stderr)
                if side == "baseline":
                    row["wall_s_baseline"], row["phases_s_baseline"] = baseline()
                else:
                    row["wall_s_ours"], row["phases_s_ours"], rss = ours()
                    peak = max(peak, rss)
            with psycopg.connect(pg.url("ny_taxi", "root", "root")) as conn:
                row["rows_ours"] = conn.execute("SELECT count(*) FROM public.yellow_tripdata").fetchone()[0]  # type: ignore[index]
            with psycopg.connect(pg.url("ny_taxi_baseline", "root", "root")) as conn:
                row["rows_baseline"] = conn.execute("SELECT count(*) FROM public.yellow_tripdata").fetchone()[0]  # type: ignore[index]
            row["wall_s_ours"] = round(row["wall_s_ours"], 2)
            row["wall_s_baseline"] = round(row["wall_s_baseline"], 2)
            row["ratio"] = round(row["wall_s_ours"] / row["wall_s_baseline"], 3)
            rounds.append(row)
        total_ours = sum(r["wall_s_ours"] for r in rounds)
        total_base = sum(r["wall_s_baseline"] for r in rounds)
        result = {
            "rows_generated": args.rows, "rounds": rounds,
            "ratio": round(total_ours / total_base, 3), "target_ratio": 1.3,
            "peak_rss_mb_ours": round(peak / 1e6, 1), "target_rss_mb": 500,
        }
        print(json.dumps(result, indent=2))
        ok = (all(r["rows_ours"] == r["rows_baseline"] == args.rows for r in rounds)
              and result["ratio"] <= 1.3 and result["peak_rss_mb_ours"] <= 500)
        print("PASS" if ok else "MISS (see figures above)", file=sys.stderr)
        return 0
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        if not args.keep:
            subprocess.run([*CLI, "services", "stop"], cwd=work, capture_output=True)
            shutil.rmtree(work, ignore_errors=True)


def _task_durations(execution: dict[str, Any]) -> dict[str, float]:
    from datetime import datetime

    out: dict[str, float] = {}
    for run in execution.get("taskRuns", []):
        start = datetime.fromisoformat(str(run["startDate"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(run["endDate"]).replace("Z", "+00:00"))
        out[str(run["id"])] = round((end - start).total_seconds(), 2)
    return out


def _tasks(flow: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "id" in node and "type" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(flow.get("tasks", []))
    return found


if __name__ == "__main__":
    sys.exit(main())
