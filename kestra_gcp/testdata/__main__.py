"""`python -m kestra_gcp.testdata`: generate one taxi month, or serve months under the release URL paths."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from kestra_gcp.testdata.generator import MonthSpec, generate
from kestra_gcp.testdata.server import TaxiDataServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kestra_gcp.testdata")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write one month as a gzipped CSV")
    gen.add_argument("taxi", choices=["yellow", "green"])
    gen.add_argument("month", help="YYYY-MM")
    gen.add_argument("output", type=Path)
    gen.add_argument("--rows", type=int, default=10_000)
    gen.add_argument("--seed", type=int, default=1)
    serve = sub.add_parser("serve", help="serve months on 127.0.0.1, printing the base URL")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--rows", type=int, default=10_000)
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--cache", type=Path, default=Path(".kestra-gcp/testdata"))
    args = parser.parse_args(argv)
    if args.command == "generate":
        try:
            year, month = (int(part) for part in args.month.split("-"))
            spec = MonthSpec(args.taxi, year, month, args.rows, args.seed)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        generate(spec, args.output)
        print(args.output)
        return 0
    server = TaxiDataServer(args.cache, rows=args.rows, seed=args.seed, port=args.port)
    print(server.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
