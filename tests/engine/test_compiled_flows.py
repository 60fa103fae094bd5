"""The compiled output of every supported flow in flows/ runs in the engine, its data tasks served by the
function-contract test double of conftest.py (a real HTTP server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compiler.api import compile_paths
from kestra_gcp.engine import Engine, VirtualClock

FLOWS = Path(__file__).resolve().parents[2] / "flows"
SCRIPT_JOBS = "googleapis.run.v2.projects.locations.jobs.run"
FUNCTIONS = ("DOWNLOAD", "GCS", "POSTGRES", "BIGQUERY", "DUCKDB", "KV", "PURGE", "TRIGGER")


def _compiled() -> dict[str, str]:
    workflows: dict[str, str] = {}
    for path in sorted(FLOWS.glob("*.yaml")):
        result = compile_paths([path])
        if result.ok:
            # Script tasks run as Cloud Run jobs, whose local connector is not part of the bare engine
            # (tests/compiler runs them end to end with kestra_gcp.local.scripts).
            workflows.update({w: src for w, src in result.workflows.items() if SCRIPT_JOBS not in src})
        else:  # task types the compiler refuses (with a diagnostic) are out of this test's scope
            assert any("unsupported task type" in d.message for d in result.diagnostics), result.diagnostics
    return workflows


@pytest.fixture(scope="module")
def compiled() -> dict[str, str]:
    workflows = _compiled()
    assert {"zoomcamp-hello_world", "zoomcamp-postgres_taxi", "zoomcamp-gcp_taxi"} <= set(workflows)
    return workflows


@pytest.fixture(scope="module")
def engine(compiled: dict[str, str], http_server: tuple[str, Any]) -> Engine:
    url, _ = http_server
    env = {f"KESTRA_GCP_FN_{n}": f"{url}/fn/{n.lower()}" for n in FUNCTIONS}
    env["KESTRA_GCP_BUCKET"] = "state-bucket"
    return Engine(compiled, env=env, clock=VirtualClock())


def _argument(wid: str) -> dict[str, Any]:
    arg: dict[str, Any] = {"inputs": {}}
    if "scheduled" in wid:
        arg["trigger"] = {"date": "2019-02-01T09:00:00Z"}
    return arg


def test_every_supported_flow_runs(engine: Engine, compiled: dict[str, str], http_server: tuple[str, Any]) -> None:
    _, state = http_server
    # gcp_kv sets the KV keys the other gcp_* flows read.
    order = sorted(compiled, key=lambda w: (w != "zoomcamp-gcp_kv", w))
    for wid in order:
        before = len(state.requests)
        ex = engine.run(wid, _argument(wid))
        assert ex.state == "SUCCEEDED", (wid, ex.error)
        assert ex.result["state"] in ("SUCCESS", "WARNING"), (wid, ex.result)
        assert all(r["state"] in ("SUCCESS", "WARNING", "SKIPPED") for r in ex.result["taskRuns"]), ex.result
        for req in state.requests[before:]:
            if not req["path"].startswith("/fn/"):
                continue
            assert req["headers"]["authorization"].startswith("Bearer ")
            body = json.loads(req["body"])
            assert body["task"]["id"] and body["task"]["type"].startswith("io.kestra.")
            assert body["execution"]["id"] == ex.id


def test_function_task_error_fails_execution(engine: Engine, http_server: tuple[str, Any]) -> None:
    _, state = http_server
    state.fail_tasks.add("yellow_create_table")
    try:
        ex = engine.run("zoomcamp-postgres_taxi", {"inputs": {"taxi": "yellow"}})
    finally:
        state.fail_tasks.discard("yellow_create_table")
    assert ex.state == "FAILED"
    assert "KestraExecutionFailed" in ex.error["tags"]
    assert ex.error["taskId"] == "yellow_create_table"
    assert "failed on purpose" in ex.error["message"]


def test_bad_input_rejected_before_side_effects(engine: Engine, http_server: tuple[str, Any]) -> None:
    _, state = http_server
    before = len(state.requests)
    ex = engine.run("zoomcamp-postgres_taxi", {"inputs": {"taxi": "blue"}})
    assert ex.state == "FAILED"
    assert "KestraInputError" in ex.error["tags"], ex.error
    assert len(state.requests) == before
