"""Runs every benchmark with its baseline, in one process tree and one sitting, and writes the raw results
(bench/.data/results.json) that bench/report.py turns into RESULTS.md and results.png.

The other benchmark scripts of bench/ are run as subprocesses and their printed results parsed; the load
path is measured in-process by bench_load_baselines (one PostgreSQL and one GCS emulator for every size).
A benchmark that fails is recorded with its one-line error and the suite goes on. `bench/run` drives this.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / ".data"
LOGS = DATA / "logs"
PY = sys.executable
ALL = ("copyin", "psql_copy", "pandas", "dlt")
FAST = ("copyin", "psql_copy")
SLOW = ("pandas", "dlt")
RETRIES: list[str] = []


@dataclass(frozen=True)
class LoadStep:
    rows: int
    runs: int
    methods: tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    """The sizes of one run of the suite."""

    name: str
    load: tuple[LoadStep, ...]
    download_rows: int
    compiler_count: int
    e2e_rows: int
    runs: int = 3


FULL = Profile(
    name="full",
    load=(LoadStep(100_000, 3, ALL), LoadStep(1_000_000, 3, FAST), LoadStep(1_000_000, 1, SLOW),
          LoadStep(7_667_792, 3, FAST)),
    download_rows=1_000_000, compiler_count=1000, e2e_rows=1_000_000,
)
QUICK = Profile(
    name="quick",
    load=(LoadStep(10_000, 3, FAST), LoadStep(10_000, 1, SLOW), LoadStep(50_000, 3, FAST)),
    download_rows=50_000, compiler_count=100, e2e_rows=10_000,
)


def stats(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 4), "median": round(statistics.median(values), 4),
            "max": round(max(values), 4), "n": len(values)}


def run_logged(name: str, argv: list[str], timeout: float, attempts: int = 1) -> str:
    """Runs a benchmark script; its stderr goes to bench/.data/logs/<name>.log; returns its stdout.

    With attempts > 1 a failed run is retried (its log kept as <name>.failed.log) - for the end-to-end
    script, whose service start-up can fail on a machine shared with other jobs.
    """
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{name}.log"
    for attempt in range(1, attempts + 1):
        with open(log_path, "w") as log:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=log, text=True, timeout=timeout, cwd=ROOT,
                                  env=dict(os.environ, PYTHONPATH=str(ROOT)))
        if proc.returncode == 0:
            return proc.stdout
        tail = log_path.read_text().strip().splitlines()[-1:] or ["(no output)"]
        error = f"{Path(argv[1]).name} exited {proc.returncode}: {tail[0][:300]}"
        if attempt < attempts:
            log_path.replace(LOGS / f"{name}.failed.log")
            print(f"   {name}: attempt {attempt} failed ({error}); retrying", file=sys.stderr, flush=True)
            RETRIES.append(f"{name}: attempt {attempt} failed ({error}) and was retried")
    raise RuntimeError(error)


def last_json(stdout: str) -> Any:
    """The last JSON document a script printed (they print indented JSON after progress lines)."""
    start = stdout.rfind("\n{")
    return json.loads(stdout[start + 1 if start >= 0 else stdout.index("{"):])


def git_commit() -> str:
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True)
    return sha.stdout.strip() + (" (+ uncommitted changes)" if dirty.stdout.strip() else "")


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    psql = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "os": f"{platform.system()} {platform.release()}",
            "psql_client": psql, "git_commit": git_commit(), "load_avg_start": round(os.getloadavg()[0], 2)}


# --- the benchmarks ------------------------------------------------------------------------------------------


def bench_load(profile: Profile) -> dict[str, Any]:
    sys.path.insert(0, str(BENCH))
    import bench_load_baselines as load

    methods_ok = [m for m in ALL if m not in SLOW or load.BASELINES_PY.exists()]
    work = Path(tempfile.mkdtemp(prefix="bench-suite-load-"))
    work.chmod(0o711)
    sizes: dict[int, dict[str, Any]] = {}
    try:
        with load.LoadBench(work) as bench:
            for step in profile.load:
                methods = [m for m in step.methods if m in methods_ok]
                skipped = [m for m in step.methods if m not in methods_ok]
                print(f"load: {step.rows:,} rows x {step.runs} runs: {', '.join(step.methods)}", file=sys.stderr,
                      flush=True)
                result = load.measure(bench, step.rows, step.runs, methods) if methods else {"methods": {}}
                entry = sizes.setdefault(step.rows, {"rows": step.rows, "methods": {}})
                entry["csv_mb"] = result.get("csv_mb", entry.get("csv_mb"))
                entry["methods"].update(result["methods"])
                for m in skipped:
                    entry["methods"][m] = {"error": "baselines virtualenv missing (run bench/run --setup once)"}
            with load.psycopg.connect(bench.url) as conn:
                row = conn.execute("SHOW server_version").fetchone()
        return {"sizes": list(sizes.values()), "postgres_server": f"PostgreSQL {row[0] if row else '?'} (embedded)"}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_download(profile: Profile) -> dict[str, Any]:
    out = run_logged("download", [PY, str(BENCH / "bench_download.py"), "--rows", str(profile.download_rows),
                                  "--runs", str(profile.runs), "--cache", str(DATA / "download")], timeout=900,
                     attempts=2)
    return dict(last_json(out))


ENGINE_CODE = """
import json, bench_engine
print(json.dumps({"steps_per_s": [bench_engine.bench_assign() for _ in range(RUNS)],
                  "loop_10k_s": [bench_engine.bench_loop() for _ in range(RUNS)],
                  "build_2k_s": [bench_engine.bench_build() for _ in range(RUNS)]}))
"""


def bench_engine(profile: Profile) -> dict[str, Any]:
    code = ENGINE_CODE.replace("RUNS", str(profile.runs))
    LOGS.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([PY, "-c", code], cwd=BENCH, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=f"{BENCH}:{ROOT}"))
    (LOGS / "engine.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"bench_engine exited {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


COMPILER_LINE = re.compile(r"^(validate|compile)\s+(\d+) flows.*?: ([\d.]+) s wall, ([\d.]+) s CPU", re.M)


def bench_compiler(profile: Profile) -> dict[str, Any]:
    walls: dict[str, list[float]] = {"validate": [], "compile": []}
    cpus: dict[str, list[float]] = {"validate": [], "compile": []}
    for run in range(profile.runs):
        out = run_logged(f"compiler-{run}", [PY, str(BENCH / "bench_compiler.py"), "--count",
                                             str(profile.compiler_count)], timeout=300)
        found = COMPILER_LINE.findall(out)
        if len(found) != 2:
            raise RuntimeError(f"bench_compiler printed no timings: {out.strip()[:200]}")
        for kind, _count, wall, cpu in found:
            walls[kind].append(float(wall))
            cpus[kind].append(float(cpu))
    return {"count": profile.compiler_count, "wall_s": walls, "cpu_s": cpus}


def _leaf_tasks() -> set[str]:
    """Ids of postgres_taxi's tasks that call a function (flowable tasks only wrap others)."""
    from ruamel.yaml import YAML

    flow = YAML(typ="safe").load((ROOT / "flows" / "postgres_taxi.yaml").read_text())
    leaves: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "id" in node and "type" in node and ".flow." not in str(node["type"]):
                leaves.add(str(node["id"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(flow.get("tasks", []))
    return leaves


def bench_e2e(profile: Profile) -> dict[str, Any]:
    out = run_logged("e2e", [PY, str(BENCH / "bench_e2e.py"), "--rows", str(profile.e2e_rows), "--rounds",
                             str(profile.runs)], timeout=1200, attempts=2)
    result = dict(last_json(out))
    leaves = _leaf_tasks()
    result["overhead_s"] = [
        round(r["wall_s_ours"] - sum(v for k, v in r["phases_s_ours"].items() if k in leaves), 3)
        for r in result["rounds"]
    ]
    return result


def bench_gcp_e2e(profile: Profile) -> dict[str, Any]:
    out = run_logged("gcp_e2e", [PY, str(BENCH / "bench_gcp_e2e.py"), "--rows", str(profile.e2e_rows), "--rounds",
                                 str(profile.runs)], timeout=1200, attempts=2)
    return dict(last_json(out))


BENCHES = {"load": bench_load, "download": bench_download, "engine": bench_engine, "compiler": bench_compiler,
           "e2e": bench_e2e, "gcp_e2e": bench_gcp_e2e}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, under 2 minutes, no network")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(BENCHES)}")
    parser.add_argument("--out", type=Path, help="default: bench/.data/results-<profile>.json")
    args = parser.parse_args()
    profile = QUICK if args.quick else FULL
    args.out = args.out or DATA / f"results-{profile.name}.json"
    only = [b for b in args.only.split(",") if b] or list(BENCHES)
    unknown = sorted(set(only) - set(BENCHES))
    if unknown:
        print(f"bench: unknown benchmark(s) {', '.join(unknown)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    results: dict[str, Any] = {"profile": profile.name, "runs": profile.runs, "machine": machine(),
                               "started_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "benchmarks": {}}
    for name in only:
        print(f"== {name}", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        try:
            value = BENCHES[name](profile)
        except Exception as exc:  # one failed benchmark must not lose the others' figures
            value = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:400]}
            print(f"   {name} FAILED: {value['error']}", file=sys.stderr, flush=True)
        value["elapsed_s"] = round(time.monotonic() - t0, 1)
        results["benchmarks"][name] = value
    results["retries"] = RETRIES
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["machine"]["load_avg_end"] = round(os.getloadavg()[0], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_suffix(".part")
    partial.write_text(json.dumps(results, indent=2))
    partial.replace(args.out)
    print(f"results: {args.out} ({results['duration_s']:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
