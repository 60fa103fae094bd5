"""The trigger function against a real local HTTP server implementing Executions create/list (REST)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.functions.conftest import Invoke

PARENT = "projects/p1/locations/europe-west1/workflows/zoomcamp-green"


@dataclass
class FakeExecutions:
    """Executions API state: what was created, which states the listed executions have."""

    created: list[dict[str, Any]] = field(default_factory=list)
    list_filters: list[str] = field(default_factory=list)
    url: str = ""

    def resources(self) -> list[dict[str, Any]]:
        return [
            {
                "name": f"{PARENT}/executions/x{i}",
                "state": e.get("state", "ACTIVE"),
                "labels": e.get("labels", {}),
                "argument": e["argument"],
            }
            for i, e in enumerate(self.created)
        ]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeExecutions]:
    state = FakeExecutions()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != f"/v1/{PARENT}/executions":
                self._reply(404, {"error": {"code": 404, "message": "workflow not found"}})
                return
            state.list_filters.append(parse_qs(parts.query).get("filter", [""])[0])
            self._reply(200, {"executions": state.resources()})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path != f"/v1/{PARENT}/executions":
                self._reply(404, {"error": {"code": 404, "message": "workflow not found"}})
                return
            state.created.append(body)
            self._reply(200, state.resources()[-1])

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("KESTRA_GCP_WORKFLOWS_ENDPOINT", state.url)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p1")
    monkeypatch.setenv("KESTRA_GCP_REGION", "europe-west1")
    from kfn import executions

    executions.reset()
    yield state
    executions.reset()
    server.shutdown()
    server.server_close()
    thread.join()


def _body(**overrides: Any) -> dict[str, Any]:
    body = {
        "workflow": "zoomcamp-green",
        "namespace": "zoomcamp",
        "flowId": "green",
        "triggerId": "green_schedule",
        "cron": "0 9 1 * *",
        "timeZone": "UTC",
        "inputs": {"taxi": "green"},
        "labels": {"team": "DE"},
        "concurrency": {"limit": 1, "behavior": "QUEUE"},
    }
    body.update(overrides)
    return body


def test_creates_execution_with_kestra_trigger_dates(api: FakeExecutions, invoke: Invoke) -> None:
    status, body = invoke("trigger", body=_body(), headers={"X-CloudScheduler-ScheduleTime": "2019-02-01T09:00:00Z"})
    assert status == 200, body
    trigger = {"date": "2019-02-01T09:00:00Z", "next": "2019-03-01T09:00:00Z", "previous": "2019-01-01T09:00:00Z"}
    assert body["outputs"] == {
        "state": "CREATED",
        "execution": f"{PARENT}/executions/x0",
        "trigger": trigger,
        "duplicate": False,
    }
    (created,) = api.created
    assert json.loads(created["argument"]) == {
        "inputs": {"taxi": "green"},
        "trigger": trigger,
        "labels": {"team": "DE", "system.from": "trigger"},
    }
    assert created["labels"] == {
        "team": "de",
        "kestra-from": "trigger",
        "kestra-trigger": "green_schedule",
        "kestra-tick": "2019-02-01t09-00-00z",
    }
    assert api.list_filters == ['state="ACTIVE" OR state="QUEUED"']


def test_time_zone_and_late_delivery(api: FakeExecutions, invoke: Invoke) -> None:
    # Scheduler fired 2.4 s late: the tick is still the scheduled instant (Kestra: nextExecution(t - 1s))
    headers = {"X-CloudScheduler-ScheduleTime": "2024-03-01T05:30:00.400Z"}
    status, body = invoke(
        "trigger", body=_body(cron="30 6 * * *", timeZone="Europe/Paris", concurrency=None), headers=headers
    )
    assert status == 200, body
    assert body["outputs"]["trigger"] == {
        "date": "2024-03-01T06:30:00+01:00",
        "next": "2024-03-02T06:30:00+01:00",
        "previous": "2024-02-29T06:30:00+01:00",
    }


def test_retry_of_the_same_tick_does_not_start_twice(api: FakeExecutions, invoke: Invoke) -> None:
    headers = {"X-CloudScheduler-ScheduleTime": "2019-02-01T09:00:00Z"}
    assert invoke("trigger", body=_body(), headers=headers)[0] == 200
    status, body = invoke("trigger", body=_body(), headers=headers)
    assert status == 200 and body["outputs"]["duplicate"] is True
    assert len(api.created) == 1


def test_concurrency_behaviours(api: FakeExecutions, invoke: Invoke) -> None:
    invoke("trigger", body=_body(), headers={"X-CloudScheduler-ScheduleTime": "2019-01-01T09:00:00Z"})
    march = {"X-CloudScheduler-ScheduleTime": "2019-03-01T09:00:00Z"}
    status, body = invoke("trigger", body=_body(), headers=march)
    assert status == 429 and body["error"]["type"] == "RateLimited"
    assert body["error"]["message"] == (
        "trigger: workflow zoomcamp-green has 1 active execution(s) (concurrency "
        "limit 1): tick 2019-03-01T09:00:00Z queued, retry later"
    )
    status, body = invoke("trigger", body=_body(concurrency={"limit": 1, "behavior": "CANCEL"}), headers=march)
    assert status == 200 and body["outputs"]["state"] == "CANCELLED"
    status, body = invoke("trigger", body=_body(concurrency={"limit": 1, "behavior": "FAIL"}), headers=march)
    assert status == 409 and "concurrency limit exceeded" in body["error"]["message"]
    assert len(api.created) == 1
    api.created[0]["state"] = "SUCCEEDED"
    assert invoke("trigger", body=_body(), headers=march)[0] == 200
    assert len(api.created) == 2


def test_errors(api: FakeExecutions, invoke: Invoke) -> None:
    status, body = invoke("trigger", body=_body(cron="61 * * * *"))
    assert status == 400 and body["error"]["message"].startswith("trigger: cron '61 * * * *' is invalid")
    status, body = invoke("trigger", body=_body(timeZone="Mars/Base"))
    assert status == 400 and body["error"]["message"] == "trigger: time zone 'Mars/Base' is unknown"
    status, body = invoke("trigger", body={"cron": "* * * * *"})
    assert status == 400 and body["error"]["type"] == "BadRequest"
    status, body = invoke("trigger", body=_body(workflow="zoomcamp-other"))
    assert status == 404
    assert body["error"]["message"] == ("trigger: list executions of zoomcamp-other returned 404: workflow not found")


def test_manual_call_uses_latest_tick() -> None:
    from datetime import UTC, datetime

    from kfn.trigger import ticks

    result = ticks("0 * * * *", "UTC", None)
    now = datetime.now(UTC)
    assert result["date"] == now.strftime("%Y-%m-%dT%H:00:00Z") or now.minute == 0
    assert ticks("0 0 9 1 * *", "UTC", datetime(2019, 2, 1, 9, tzinfo=UTC), with_seconds=True)["date"] == (
        "2019-02-01T09:00:00Z"
    )


def test_webhook_starts_the_flow_with_request_data(
    api: FakeExecutions, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    monkeypatch.setenv("SECRET_HOOK_KEY", base64.b64encode(b"k3y-from-secret").decode())
    hooks = [
        {
            "namespace": "zoomcamp",
            "flowId": "green",
            "workflow": "zoomcamp-green",
            "triggerId": "on_push",
            "key": "{{secret:HOOK_KEY}}",
            "inputs": {"taxi": "green"},
        }
    ]
    monkeypatch.setenv("KESTRA_GCP_WEBHOOKS", json.dumps(hooks))
    from functions_framework import create_app

    from tests.functions.conftest import FUNCTIONS_DIR

    client = create_app("trigger", str(FUNCTIONS_DIR / "main.py")).test_client()
    response = client.post(
        "/webhook/zoomcamp/green/k3y-from-secret?month=2019-01",
        json={"rows": 3},
        headers={"Authorization": "Bearer id-token", "Cookie": "s=1", "X-Source": "ci"},
    )
    assert response.status_code == 200, response.get_json()
    (created,) = api.created
    argument = json.loads(created["argument"])
    headers = argument["trigger"]["headers"]
    assert headers["x-source"] == ["ci"] and not {"authorization", "cookie"} & set(headers), headers
    assert argument["inputs"] == {"taxi": "green"}
    assert argument["trigger"]["body"] == {"rows": 3}
    assert argument["trigger"]["parameters"] == {"month": ["2019-01"]}
    assert created["labels"] == {"kestra-from": "webhook", "kestra-trigger": "on_push"}
    response = client.get("/webhook/zoomcamp/green/wrong-key")
    assert response.status_code == 404
    assert response.get_json()["error"]["message"] == "trigger: no webhook for flow zoomcamp.green with this key"
    assert "k3y-from-secret" not in json.dumps(response.get_json())
    assert len(api.created) == 1
