"""Drive the Executions API facade with the official google-cloud-workflows ExecutionsClient.

google-cloud-workflows (1.24) ships executions_v1 with gRPC transports only, so the client talks to the
facade's gRPC server; the REST routes are exercised with plain HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import grpc
import pytest
import requests
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud.workflows import executions_v1
from google.cloud.workflows.executions_v1.services.executions.transports import ExecutionsGrpcTransport

from kestra_gcp.engine import Engine
from kestra_gcp.engine.api import ExecutionsApi
from kestra_gcp.engine.api_grpc import serve_grpc

DOUBLE = """
main:
  params: [args]
  steps:
    - log:
        call: sys.log
        args: {text: "${'doubling ' + string(args.x)}"}
    - r:
        return: ${args.x * 2}
"""
FAIL = """
- r:
    raise: {tags: [KestraExecutionFailed], message: boom}
"""
SLOW = """
- s:
    call: sys.sleep
    args: {seconds: 30}
"""


@pytest.fixture
def api() -> ExecutionsApi:
    engine = Engine({"double": DOUBLE, "fail": FAIL, "slow": SLOW}, project="p1", location="europe-west1")
    return ExecutionsApi(engine)


@pytest.fixture
def client(api: ExecutionsApi) -> Iterator[executions_v1.ExecutionsClient]:
    server, port = serve_grpc(api, 0)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield executions_v1.ExecutionsClient(
            transport=ExecutionsGrpcTransport(channel=channel, credentials=AnonymousCredentials())
        )
    finally:
        channel.close()
        server.stop(None)


@pytest.fixture
def rest_url(api: ExecutionsApi) -> Iterator[str]:
    server = api.serve(0)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _wait(client: executions_v1.ExecutionsClient, name: str) -> executions_v1.Execution:
    for _ in range(200):
        ex = client.get_execution(name=name)
        if ex.state != executions_v1.Execution.State.ACTIVE:
            return ex
        time.sleep(0.02)
    raise AssertionError("execution did not finish")


def test_create_get_succeeded(client: executions_v1.ExecutionsClient) -> None:
    parent = "projects/p1/locations/europe-west1/workflows/double"
    created = client.create_execution(
        parent=parent, execution=executions_v1.Execution(argument=json.dumps({"x": 21}), labels={"k": "v"})
    )
    assert created.name.startswith(parent + "/executions/")
    ex = _wait(client, created.name)
    assert ex.state == executions_v1.Execution.State.SUCCEEDED
    assert json.loads(ex.result) == 42
    assert json.loads(ex.argument) == {"x": 21}
    assert ex.labels["k"] == "v"
    assert ex.end_time >= ex.start_time


def test_failed_execution_error_payload(client: executions_v1.ExecutionsClient) -> None:
    created = client.create_execution(
        parent="projects/p1/locations/europe-west1/workflows/fail", execution=executions_v1.Execution()
    )
    ex = _wait(client, created.name)
    assert ex.state == executions_v1.Execution.State.FAILED
    assert json.loads(ex.error.payload) == {"tags": ["KestraExecutionFailed"], "message": "boom"}


def test_list_with_state_filter_and_cancel(client: executions_v1.ExecutionsClient) -> None:
    parent = "projects/p1/locations/europe-west1/workflows/slow"
    created = client.create_execution(parent=parent, execution=executions_v1.Execution())
    active = list(client.list_executions(request={"parent": parent, "filter": 'state="ACTIVE"'}))
    assert [e.name for e in active] == [created.name]
    cancelled = client.cancel_execution(name=created.name)
    assert cancelled.state == executions_v1.Execution.State.CANCELLED
    assert list(client.list_executions(request={"parent": parent, "filter": 'state="ACTIVE"'})) == []
    assert len(list(client.list_executions(request={"parent": parent, "filter": 'state="CANCELLED"'}))) == 1


def test_unknown_workflow_is_not_found(client: executions_v1.ExecutionsClient) -> None:
    with pytest.raises(exceptions.NotFound):
        client.create_execution(
            parent="projects/p1/locations/europe-west1/workflows/nope", execution=executions_v1.Execution()
        )


def test_rest_routes(rest_url: str) -> None:
    parent = f"{rest_url}/projects/p1/locations/europe-west1/workflows/double/executions"
    created = requests.post(parent, json={"argument": json.dumps({"x": 2})}, timeout=10).json()
    assert created["state"] in ("ACTIVE", "SUCCEEDED")
    name = created["name"]
    for _ in range(200):
        got = requests.get(f"{rest_url}/{name}", timeout=10).json()
        if got["state"] != "ACTIVE":
            break
        time.sleep(0.02)
    assert got["state"] == "SUCCEEDED" and json.loads(got["result"]) == 4
    listed = requests.get(parent, params={"filter": 'state="SUCCEEDED"'}, timeout=10).json()
    assert [e["name"] for e in listed["executions"]] == [name]
    either = requests.get(parent, params={"filter": 'state="ACTIVE" OR state="SUCCEEDED"'}, timeout=10).json()
    assert [e["name"] for e in either["executions"]] == [name]
    assert requests.get(parent, params={"filter": "startTime>1"}, timeout=10).status_code == 400
    bad = requests.get(f"{rest_url}/projects/p1/locations/x/workflows/nope/executions", timeout=10)
    assert bad.status_code == 404 and bad.json()["error"]["status"] == "NOT_FOUND"
    bad_arg = requests.post(parent, json={"argument": "{not json"}, timeout=10)
    assert bad_arg.status_code == 400
