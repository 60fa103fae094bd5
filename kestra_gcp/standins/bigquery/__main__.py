"""`python -m kestra_gcp.standins.bigquery --port 9050 --data-dir DIR`: run the BigQuery stand-in."""

from __future__ import annotations

import argparse

from .server import serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m kestra_gcp.standins.bigquery", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9050)
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args()
    serve(args.host, args.port, args.data_dir)


if __name__ == "__main__":
    main()
