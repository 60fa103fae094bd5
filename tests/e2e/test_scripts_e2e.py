"""Script tasks end to end (issue 8): the course's getting-started pipeline and Python example, run unchanged but
for the address of their data, through the compiler, the engine, the local job connector and the runner."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Cli
from tests.functions.httpserver import serving

FIXTURES = Path(__file__).parent / "fixtures"
PRODUCTS = json.loads((FIXTURES / "products.json").read_text())["products"]


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {
        "/products": (FIXTURES / "products.json").read_bytes(),
        "/v2/repositories/kestra/kestra": json.dumps({"name": "kestra", "pull_count": 123456}).encode(),
    }

    def do_GET(self) -> None:
        body = self.routes.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with serving(_Handler) as url:
        yield url


def copy_flow(cli: Cli, name: str, old_base: str, new_base: str) -> Path:
    text = (REPO / "flows" / f"{name}.yaml").read_text()
    assert old_base in text
    target = cli.cwd / "flows" / f"{name}.yaml"
    target.parent.mkdir(exist_ok=True)
    target.write_text(text.replace(old_base, new_base))
    return target


@pytest.mark.e2e
def test_getting_started_pipeline_python_then_duckdb(cli: Cli, api: str) -> None:
    flow = copy_flow(cli, "getting_started_pipeline", "https://dummyjson.com", api)
    code, result, stderr = cli.run_json(flow)
    assert code == 0, stderr
    assert result["state"] == "SUCCESS"
    transform = result["outputs"]["transform"]
    assert transform["exitCode"] == 0
    # As in Kestra, the glob matches every file of the working directory, inputs included.
    assert set(transform["outputFiles"]) == {"data.json", "products.json"}
    assert transform["outputFiles"]["products.json"].startswith("gs://")
    # The DuckDB query stored its result; recompute the expected averages from the fixture.
    prices: dict[str, list[float]] = {}
    for product in PRODUCTS:
        prices.setdefault(product.get("brand", "N/A"), []).append(product["price"])
    query = result["outputs"]["query"]
    assert query["size"] == len(prices)
    assert query["uri"].startswith("gs://")


@pytest.mark.e2e
def test_python_example_outputs_its_value(cli: Cli, api: str) -> None:
    flow = copy_flow(cli, "python_example", "https://hub.docker.com", api)
    code, result, stderr = cli.run_json(flow)
    assert code == 0, stderr
    assert result["outputs"]["fetch_dockerhub_pulls"]["vars"] == {"pulls": 123456}
    assert "Docker pulls: 123456" in stderr


@pytest.mark.e2e
def test_failing_script_reports_exit_code_and_stderr(cli: Cli) -> None:
    flow = cli.cwd / "flows" / "failing_script.yaml"
    flow.parent.mkdir(exist_ok=True)
    flow.write_text(
        "id: failing_script\nnamespace: tests\ntasks:\n"
        "  - id: boom\n    type: io.kestra.plugin.scripts.python.Script\n"
        "    script: |\n      import sys\n      print('bad row 17', file=sys.stderr)\n      sys.exit(4)\n"
        "  - id: never\n    type: io.kestra.plugin.core.log.Log\n    message: not reached\n"
    )
    code, result, stderr = cli.run_json(flow)
    assert code == 1
    assert result["state"] == "FAILED"
    assert "exited with code 4" in json.dumps(result) + stderr
    assert "bad row 17" in json.dumps(result) + stderr
    assert "never" not in {run["id"] for run in result.get("taskRuns", [])}
