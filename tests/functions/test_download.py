"""The download function against a real local HTTP server and the real GCS emulator."""

from __future__ import annotations

import gzip
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests.functions import httpserver
from tests.functions.conftest import Invoke, execution

CSV = b"".join(b"%d,2019-01-01 00:%02d:00,%d.5\n" % (i, i % 60, i) for i in range(200_000))
TYPE = "io.kestra.plugin.core.http.Download"


@pytest.fixture(autouse=True)
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KESTRA_GCP_DOWNLOAD_ALLOW", "127.0.0.0/8,::1/128")


def _read(uri: str) -> bytes:
    from kfn import storage

    return bytes(storage.blob(uri).download_as_bytes())


def _truncated(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(CSV)))
    handler.end_headers()
    handler.wfile.write(CSV[: len(CSV) // 2])
    handler.wfile.flush()
    handler.close_connection = True


def _slow(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(2)
    httpserver.body(b"late")(handler)


def _echo_post(handler: BaseHTTPRequestHandler) -> None:
    length = int(handler.headers.get("Content-Length", "0"))
    data = handler.rfile.read(length)
    payload = b"auth=" + handler.headers.get("Authorization", "").encode() + b";body=" + data
    httpserver.body(payload, "text/plain")(handler)


def _to_other_origin(handler: BaseHTTPRequestHandler) -> None:
    """Redirect to /echo on the same server under another host name (a different origin)."""
    port = handler.headers["Host"].rsplit(":", 1)[1]
    httpserver.redirect(f"http://localhost:{port}/echo")(handler)


ROUTES: dict[str, httpserver.Route] = {
    "/data/yellow.csv.gz": httpserver.body(gzip.compress(CSV), "application/gzip"),
    "/multi.gz": httpserver.body(gzip.compress(b"a,b\n") + gzip.compress(b"c,d\n")),
    "/plain.csv": httpserver.body(CSV, "text/csv"),
    "/named": httpserver.body(b"x", headers={"Content-Disposition": 'attachment; filename="report.txt"'}),
    "/empty": httpserver.body(b""),
    "/gone": httpserver.body(b"gone", status=410),
    "/busy": httpserver.body(b"busy", status=503),
    "/hop": httpserver.redirect("/plain.csv"),
    "/to-metadata": httpserver.redirect("http://169.254.169.254/computeMetadata/v1/"),
    "/truncated.csv": _truncated,
    "/truncated.gz": httpserver.body(gzip.compress(CSV)[:5000]),
    "/slow": _slow,
    "/echo": _echo_post,
    "/elsewhere": _to_other_origin,
}


@pytest.fixture(scope="module")
def site() -> Any:
    with httpserver.serve(ROUTES) as url:
        yield url


def test_download_streams_into_execution_storage(site: str, state_bucket: str, invoke: Invoke) -> None:
    exec_ref = execution(id="e1")
    status, body = invoke("download", {"id": "extract", "type": TYPE, "uri": f"{site}/plain.csv"}, exec_ref)
    assert status == 200, body
    outputs = body["outputs"]
    assert outputs["uri"] == f"gs://{state_bucket}/executions/zoomcamp/flow/e1/extract/plain.csv"
    assert outputs["code"] == 200 and outputs["length"] == len(CSV)
    assert outputs["headers"]["Content-Type"] == ["text/csv"]
    assert _read(outputs["uri"]) == CSV


def test_wget_gunzip_idiom(site: str, state_bucket: str, invoke: Invoke) -> None:
    task = {
        "id": "extract",
        "type": "io.kestra.plugin.scripts.shell.Commands",
        "uri": f"{site}/data/yellow.csv.gz",
        "gunzip": True,
        "outputFile": "yellow_tripdata_2019-01.csv",
    }
    status, body = invoke("download", task, execution(id="e2"))
    assert status == 200, body
    uri = f"gs://{state_bucket}/executions/zoomcamp/flow/e2/extract/yellow_tripdata_2019-01.csv"
    assert body["outputs"]["outputFiles"] == {"yellow_tripdata_2019-01.csv": uri}
    assert body["outputs"]["length"] == len(CSV)
    assert _read(uri) == CSV


def test_multi_member_gzip(site: str, state_bucket: str, invoke: Invoke) -> None:
    task = {"id": "t", "type": TYPE, "uri": f"{site}/multi.gz", "gunzip": True, "saveAs": "m.csv"}
    status, body = invoke("download", task)
    assert status == 200, body
    assert _read(body["outputs"]["uri"]) == b"a,b\nc,d\n"


def test_file_name_from_content_disposition_and_redirects(site: str, state_bucket: str, invoke: Invoke) -> None:
    status, body = invoke("download", {"id": "t", "type": TYPE, "uri": f"{site}/named"})
    assert status == 200 and body["outputs"]["uri"].endswith("/t/report.txt")
    status, body = invoke("download", {"id": "t", "type": TYPE, "uri": f"{site}/hop"})
    assert status == 200 and body["outputs"]["uri"].endswith("/t/plain.csv")
    assert _read(body["outputs"]["uri"]) == CSV


def test_http_errors(site: str, state_bucket: str, invoke: Invoke) -> None:
    status, body = invoke("download", {"id": "t", "type": TYPE, "uri": f"{site}/missing.csv"})
    assert status == 400
    assert body["error"] == {"type": "TaskError", "message": f"download: GET {site}/missing.csv returned 404"}
    status, body = invoke("download", {"id": "t", "type": TYPE, "uri": f"{site}/busy"})
    assert status == 503 and body["error"]["message"] == f"download: GET {site}/busy returned 503"
    task = {"id": "t", "type": TYPE, "uri": f"{site}/gone", "options": {"allowFailed": True}, "saveAs": "g"}
    status, body = invoke("download", task)
    assert status == 200 and body["outputs"]["code"] == 410


def test_bad_options_are_task_errors(state_bucket: str, invoke: Invoke) -> None:
    for options, message in (
        ({"timeout": "PT5S"}, "property 'options.timeout' must be a map"),
        ({"allowedResponseCodes": ["x"]}, "property 'options.allowedResponseCodes' must list status codes"),
        ("yes", "property 'options' must be a map"),
    ):
        task = {"id": "t", "type": TYPE, "uri": "http://127.0.0.1:9/x", "options": options}
        status, body = invoke("download", task)
        assert status == 400 and body["error"]["type"] == "TaskError", body
        assert message in body["error"]["message"]


def test_empty_response(site: str, state_bucket: str, invoke: Invoke) -> None:
    status, body = invoke("download", {"id": "t", "type": TYPE, "uri": f"{site}/empty"})
    assert status == 400 and "empty body" in body["error"]["message"]
    task = {"id": "t", "type": TYPE, "uri": f"{site}/empty", "failOnEmptyResponse": False}
    status, body = invoke("download", task)
    assert status == 200 and body["outputs"]["length"] == 0
    assert _read(body["outputs"]["uri"]) == b""


def test_connection_refused_is_transient(state_bucket: str, invoke: Invoke) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    status, body = invoke("download", {"id": "t", "type": TYPE, "uri": f"http://127.0.0.1:{port}/x"})
    assert status == 503
    assert body["error"]["message"] == f"download: GET http://127.0.0.1:{port}/x: connection refused"


def test_read_timeout_is_transient(site: str, state_bucket: str, invoke: Invoke) -> None:
    task = {
        "id": "t",
        "type": TYPE,
        "uri": f"{site}/slow",
        "options": {"timeout": {"readIdleTimeout": "PT0.5S"}},
    }
    status, body = invoke("download", task)
    assert status == 503 and "timed out" in body["error"]["message"]
    assert body["error"]["message"] == f"download: GET {site}/slow: timed out waiting for data", body


def test_truncated_transfer_leaves_no_object(site: str, state_bucket: str, invoke: Invoke) -> None:
    from kfn import storage

    exec_ref = execution(id="e3")
    status, body = invoke("download", {"id": "t", "type": TYPE, "uri": f"{site}/truncated.csv"}, exec_ref)
    assert status == 503, body
    assert "failed midway" in body["error"]["message"]
    assert body["error"]["message"] == (f"download: GET {site}/truncated.csv failed midway: "
                                        "connection closed before the response was complete")
    assert list(storage.client().list_blobs(state_bucket, prefix="executions/")) == []
    task = {"id": "t", "type": TYPE, "uri": f"{site}/truncated.gz", "gunzip": True, "saveAs": "x.csv"}
    status, body = invoke("download", task, exec_ref)
    assert status == 400 and body["error"]["message"] == (
        "download: gunzip: unexpected end of compressed data (truncated file)"
    )
    assert list(storage.client().list_blobs(state_bucket, prefix="executions/")) == []


def test_retry_overwrites_the_same_object(site: str, state_bucket: str, invoke: Invoke) -> None:
    from kfn import storage

    exec_ref = execution(id="e4")
    task = {"id": "t", "type": TYPE, "uri": f"{site}/plain.csv"}
    first = invoke("download", task, exec_ref)
    second = invoke("download", task, exec_ref)
    assert first[0] == second[0] == 200
    assert first[1]["outputs"]["uri"] == second[1]["outputs"]["uri"]
    blobs = list(storage.client().list_blobs(state_bucket, prefix="executions/"))
    assert [b.size for b in blobs] == [len(CSV)]


def test_private_addresses_are_refused(
    site: str, state_bucket: str, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, body = invoke("download", {"id": "t", "type": TYPE, "uri": f"{site}/to-metadata"})
    assert status == 403
    assert "resolves to non-public address 169.254.169.254" in body["error"]["message"]
    monkeypatch.setenv("KESTRA_GCP_DOWNLOAD_ALLOW", "")
    status, body = invoke("download", {"id": "t", "type": TYPE, "uri": f"{site}/plain.csv"})
    assert status == 403 and body["error"]["type"] == "TaskError"
    status, body = invoke("download", {"id": "t", "type": TYPE, "uri": "file:///etc/passwd"})
    assert status == 400 and "only http and https" in body["error"]["message"]


def test_post_with_body_and_secret_auth(
    site: str, state_bucket: str, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    monkeypatch.setenv("SECRET_API_TOKEN", base64.b64encode(b"tok-123").decode())
    task = {
        "id": "t",
        "type": TYPE,
        "uri": f"{site}/echo",
        "method": "POST",
        "body": {"q": 1},
        "options": {"auth": {"type": "BEARER", "token": "{{secret:API_TOKEN}}"}},
        "saveAs": "echo.txt",
    }
    status, body = invoke("download", task)
    assert status == 200, body
    assert _read(body["outputs"]["uri"]) == b'auth=Bearer tok-123;body={"q": 1}'


def test_credentials_are_not_sent_to_another_origin_on_redirect(
    site: str, state_bucket: str, invoke: Invoke
) -> None:
    auth = {"type": "BEARER", "token": "tok-456"}
    task = {"id": "t", "type": TYPE, "uri": f"{site}/elsewhere", "options": {"auth": auth}, "saveAs": "e.txt"}
    status, body = invoke("download", task)
    assert status == 200, body
    assert _read(body["outputs"]["uri"]) == b"auth=;body="
    task["uri"] = f"{site}/echo"
    status, body = invoke("download", task)
    assert status == 200 and _read(body["outputs"]["uri"]) == b"auth=Bearer tok-456;body="


def test_guarded_session_checks_the_connected_address(site: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from kfn import netguard
    from kfn.errors import Forbidden

    session = netguard.guarded_session()
    assert session.get(f"{site}/named", timeout=5).status_code == 200
    monkeypatch.setenv("KESTRA_GCP_DOWNLOAD_ALLOW", "")
    with pytest.raises(Forbidden, match=r"resolves to non-public address 127\.0\.0\.1"):
        netguard.guarded_session().get(f"{site}/named", timeout=5)


def test_killed_function_leaves_no_partial_object(state_bucket: str, gcs_emulator: Any) -> None:
    """SIGKILL the function process after it has sent a first 64 MiB chunk: no object may appear."""
    import contextlib
    import os
    import signal
    import socket
    import subprocess
    import sys
    import threading

    import requests
    from kfn import storage

    from tests.functions.conftest import FUNCTIONS_DIR

    sent = threading.Event()

    def stalling(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(200 * 1024 * 1024))
        handler.end_headers()
        block = b"x" * (1024 * 1024)
        for _ in range(80):  # more than one upload chunk, then stall
            handler.wfile.write(block)
        handler.wfile.flush()
        sent.set()
        time.sleep(20)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "KESTRA_GCP_BUCKET": state_bucket,
        "KESTRA_GCP_DOWNLOAD_ALLOW": "127.0.0.0/8",
        "STORAGE_EMULATOR_HOST": gcs_emulator.url,
        "PYTHONPATH": str(FUNCTIONS_DIR),
    }
    with httpserver.serve({"/big.bin": stalling}) as url:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "functions_framework",
                "--target",
                "download",
                "--source",
                str(FUNCTIONS_DIR / "main.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--debug",
            ],
            env=env,
            cwd=FUNCTIONS_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    requests.get(f"http://127.0.0.1:{port}/", timeout=1)
                    break
                except requests.RequestException:
                    time.sleep(0.1)
            body = {"task": {"id": "t", "type": TYPE, "uri": f"{url}/big.bin"}, "execution": execution(id="k1")}

            def call() -> None:
                with contextlib.suppress(requests.RequestException):  # the function dies mid-request
                    requests.post(f"http://127.0.0.1:{port}/", json=body, timeout=30)

            caller = threading.Thread(target=call, daemon=True)
            caller.start()
            # 80 MiB only leave the server once the function has read them, and it reads ahead of its
            # upload by a few MiB only: so its first 64 MiB chunk has been sent to the emulator.
            assert sent.wait(20)
            time.sleep(1.0)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert list(storage.client().list_blobs(state_bucket)) == []


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "10.1.2.3", "127.0.0.1", "::1", "fd00:ec2::254", "::ffff:169.254.169.254", "2002:a9fe:a9fe::1"],
)
def test_non_public_addresses_are_refused(address: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from kfn import netguard
    from kfn.errors import Forbidden

    monkeypatch.setenv("KESTRA_GCP_DOWNLOAD_ALLOW", "")
    with pytest.raises(Forbidden, match="resolves to non-public address"):
        netguard.check_address("h", address)
    netguard.check_address("h", "8.8.8.8")
    netguard.check_address("h", "2001:4860:4860::8888")
