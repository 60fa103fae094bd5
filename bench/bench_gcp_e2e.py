"""Benchmark: gcp_taxi end to end vs the same work done by hand with the Google client libraries.

Ours:      `kestra-gcp run gcp_taxi.yaml -i taxi=yellow -i year=2019 -i month=01` (download function,
           GCS upload, external table, CTAS with MD5 ids, MERGE, purge) on the local stack: the GCS emulator
           and the DuckDB-backed BigQuery stand-in, services already running (gcp_kv and gcp_setup ran first).
Baseline:  `curl | gunzip > file.csv`, a google-cloud-storage upload of the file, then the flow's four
           BigQuery statements sent with google-cloud-bigquery to the same stand-in, into another dataset.

Both read the same generated month from the same local HTTP server. Rounds alternate the order; reported:
wall seconds of each side per round, peak RSS of our processes (CLI + function host, services excluded)
and the final row count of both tables (must equal the generated rows). Prints one JSON document.

    .venv/bin/python bench/bench_gcp_e2e.py --rows 1000000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_e2e import RssSampler  # same directory: bench scripts run as `python bench/<name>.py`
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[1]
RELEASE_BASE = "https://github.com/DataTalksClub/nyc-tlc-data/releases/download/"
CLI = [sys.executable, "-m", "kestra_gcp"]
PROJECT, DATASET, BASE_DATASET = "kestra-sandbox", "zoomcamp", "zoomcamp_baseline"
FILE = "yellow_tripdata_2019-01.csv"
SQL_TASKS = ("bq_yellow_tripdata", "bq_yellow_table_ext", "bq_yellow_table_tmp", "bq_yellow_merge")


def flow_sql(flow: dict[str, Any], dataset: str, gcs_file: str) -> list[str]:
    """The flow's yellow BigQuery statements, its templates rendered for yellow 2019-01 into `dataset`."""
    tasks = {t["id"]: t for t in next(t for t in flow["tasks"] if t["id"] == "if_yellow_taxi")["then"]}
    values = {
        "kv('GCP_PROJECT_ID')": PROJECT, "kv('GCP_DATASET')": dataset,
        "render(vars.table)": f"{dataset}.yellow_tripdata_2019_01", "render(vars.gcs_file)": gcs_file,
        "render(vars.file)": FILE,
    }
    out = []
    for task_id in SQL_TASKS:
        sql = re.sub(r"\{\{\s*(.*?)\s*\}\}", lambda m: values[m.group(1)], str(tasks[task_id]["sql"]))
        out.append(sql)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for tool in ("curl", "gunzip"):
        if shutil.which(tool) is None:
            print(f"bench_gcp_e2e: {tool} not found on PATH", file=sys.stderr)
            return 2
    cache = REPO / "bench" / ".data" / "taxi"
    work = Path(tempfile.mkdtemp(prefix="bench-gcp-e2e-"))
    work.chmod(0o755)
    server = None
    try:
        server = subprocess.Popen([sys.executable, "-m", "kestra_gcp.testdata", "serve", "--rows", str(args.rows),
                                   "--cache", str(cache)], stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        url = f"{base}yellow/{FILE}.gz"
        subprocess.run(["curl", "-sf", "-o", os.devnull, url], check=True)  # generates the month if needed

        for name in ("gcp_kv", "gcp_setup"):  # settings, bucket and dataset: set-up, not measured
            subprocess.run([*CLI, "run", str(REPO / "flows" / f"{name}.yaml")], cwd=work, check=True,
                           capture_output=True)
        flow_text = (REPO / "flows" / "gcp_taxi.yaml").read_text().replace(RELEASE_BASE, base)
        flow_path = work / "gcp_taxi.yaml"
        flow_path.write_text(flow_text)
        flow = YAML(typ="safe").load(flow_text)
        status = subprocess.run([*CLI, "services", "status", "--json"], cwd=work, check=True, capture_output=True,
                                text=True)
        services = {s["name"]: s for s in json.loads(status.stdout)}
        os.environ["STORAGE_EMULATOR_HOST"] = services["gcs"]["url"]
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery, storage  # type: ignore[attr-defined, unused-ignore]

        bq = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(),
                             client_options={"api_endpoint": services["bigquery"]["url"]})
        bq.create_dataset(f"{PROJECT}.{BASE_DATASET}", exists_ok=True)
        bucket_name = next(str(t["value"]) for t in YAML(typ="safe").load(
            (REPO / "flows" / "gcp_kv.yaml").read_text())["tasks"] if t.get("key") == "GCP_BUCKET_NAME")
        bucket = storage.Client(project=PROJECT).bucket(bucket_name)
        csv_path = work / FILE
        statements = flow_sql(flow, BASE_DATASET, f"gs://{bucket_name}/baseline/{FILE}")

        def reset() -> None:
            for dataset in (DATASET, BASE_DATASET):
                for table in ("yellow_tripdata", "yellow_tripdata_2019_01", "yellow_tripdata_2019_01_ext"):
                    bq.delete_table(f"{PROJECT}.{dataset}.{table}", not_found_ok=True)

        def count(dataset: str) -> int:
            return int(next(iter(bq.query(f"SELECT count(*) FROM `{PROJECT}.{dataset}.yellow_tripdata`")
                                 .result()))[0])

        def baseline() -> float:
            started = time.monotonic()
            subprocess.run(f"curl -sf '{url}' | gunzip > '{csv_path}'", shell=True, check=True)
            bucket.blob(f"baseline/{FILE}").upload_from_filename(str(csv_path))
            for sql in statements:
                bq.query(sql).result()
            elapsed = time.monotonic() - started
            csv_path.unlink(missing_ok=True)
            return elapsed

        def ours() -> tuple[float, int]:
            started = time.monotonic()
            proc = subprocess.Popen([*CLI, "run", str(flow_path), "-i", "taxi=yellow", "-i", "year=2019", "-i",
                                     "month=01", "--json"], cwd=work, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            with RssSampler(proc.pid) as sampler:
                _, stderr = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"bench_gcp_e2e: kestra-gcp run failed: {stderr.strip().splitlines()[-1:]}")
            return time.monotonic() - started, sampler.peak

        rounds: list[dict[str, Any]] = []
        peak = 0
        for index in range(args.rounds):
            reset()
            row: dict[str, Any] = {}
            for side in (("baseline", "ours") if index % 2 == 0 else ("ours", "baseline")):
                print(f"round {index + 1}: {side} ...", file=sys.stderr, flush=True)
                if side == "baseline":
                    row["wall_s_baseline"] = round(baseline(), 2)
                else:
                    wall, rss = ours()
                    row["wall_s_ours"] = round(wall, 2)
                    peak = max(peak, rss)
            row["rows_ours"], row["rows_baseline"] = count(DATASET), count(BASE_DATASET)
            if not row["rows_ours"] == row["rows_baseline"] == args.rows:
                raise SystemExit(f"bench_gcp_e2e: row counts differ: {row}")
            rounds.append(row)
        total_ours = sum(r["wall_s_ours"] for r in rounds)
        total_base = sum(r["wall_s_baseline"] for r in rounds)
        print(json.dumps({"rows_generated": args.rows, "rounds": rounds,
                          "ratio": round(total_ours / total_base, 3), "peak_rss_mb_ours": round(peak / 1e6, 1)},
                         indent=2))
        return 0
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        subprocess.run([*CLI, "services", "stop"], cwd=work, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
