"""Benchmark: validate and compile 1,000 flows (the course flows in flows/, repeated under new ids).

Targets (issue 2 and 3): validate 1,000 flows < 2 s; compile 1,000 flows < 10 s. Run:
    .venv/bin/python bench/bench_compiler.py [--count 1000]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compiler.api import compile_paths, validate_paths  # noqa: E402


def make_copies(src: list[Path], count: int, out: Path) -> list[Path]:
    files = []
    for i in range(count):
        flow = src[i % len(src)]
        text = re.sub(r"^id: (\S+)", rf"id: \g<1>_{i}", flow.read_text(), count=1, flags=re.M)
        path = out / f"{flow.stem}_{i}.yaml"
        path.write_text(text)
        files.append(path)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    all_flows = sorted((ROOT / "flows").glob("*.yaml"))
    supported = [p for p in all_flows if not validate_paths([p])]
    with tempfile.TemporaryDirectory() as tmp:
        vdir, cdir, out = Path(tmp, "validate"), Path(tmp, "compile"), Path(tmp, "build")
        vdir.mkdir()
        cdir.mkdir()
        make_copies(all_flows, args.count, vdir)
        make_copies(supported, args.count, cdir)

        start, cpu = time.perf_counter(), time.process_time()
        diags = validate_paths([vdir])
        validate_s, validate_cpu = time.perf_counter() - start, time.process_time() - cpu
        start, cpu = time.perf_counter(), time.process_time()
        result = compile_paths([cdir])
        result.write(out)
        compile_s, compile_cpu = time.perf_counter() - start, time.process_time() - cpu
    assert result.ok, [d.format() for d in result.diagnostics[:5]]
    size = sum(len(t) for t in result.workflows.values())
    print(f"validate {args.count} flows (all of flows/, {len(diags)} unsupported-task diagnostics): "
          f"{validate_s:.2f} s wall, {validate_cpu:.2f} s CPU (target < 2 s)")
    print(f"compile  {args.count} flows (supported ones, {size / 1e6:.1f} MB of Workflows YAML written): "
          f"{compile_s:.2f} s wall, {compile_cpu:.2f} s CPU (target < 10 s)")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
