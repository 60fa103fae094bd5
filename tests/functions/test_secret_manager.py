"""Secret Manager lookups through the real client (REST transport) against a local HTTP stand-in."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from tests.functions import httpserver

ACCESSED: list[str] = []


def _secret_route(status: int, payload: dict[str, object]) -> httpserver.Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        ACCESSED.append(handler.path.split("?", 1)[0])
        httpserver.body(json.dumps(payload).encode(), "application/json", status=status)(handler)

    return route


ROUTES = {
    "/v1/projects/p1/secrets/DB_PASSWORD/versions/latest:access": _secret_route(
        200,
        {
            "name": "projects/1/secrets/DB_PASSWORD/versions/3",
            "payload": {"data": base64.b64encode(b"pg-s3cret").decode()},
        },
    ),
    "/v1/projects/p1/secrets/LOCKED/versions/latest:access": _secret_route(
        403, {"error": {"code": 403, "message": "Permission denied", "status": "PERMISSION_DENIED"}}
    ),
    "/v1/projects/p1/secrets/FLAKY/versions/latest:access": _secret_route(
        503, {"error": {"code": 503, "message": "unavailable", "status": "UNAVAILABLE"}}
    ),
}


@pytest.fixture
def secret_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from kfn import secrets

    with httpserver.serve(ROUTES) as url:
        monkeypatch.setenv("KESTRA_GCP_SECRETMANAGER_ENDPOINT", url)
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p1")
        monkeypatch.delenv("KESTRA_GCP_SECRETS_FILE", raising=False)
        secrets.clear_cache()
        ACCESSED.clear()
        yield
        secrets.clear_cache()


def test_value_is_read_once_and_cached(secret_manager: None) -> None:
    from kfn import secrets

    assert secrets.resolve({"password": "{{secret:DB_PASSWORD}}"}) == {"password": "pg-s3cret"}
    assert secrets.lookup("DB_PASSWORD") == "pg-s3cret"
    assert ACCESSED == ["/v1/projects/p1/secrets/DB_PASSWORD/versions/latest:access"]
    assert secrets.redact_text("password=pg-s3cret") == "password=******"


def test_missing_denied_and_unavailable(secret_manager: None) -> None:
    from kfn import secrets
    from kfn.errors import TaskError, TransientError

    with pytest.raises(TaskError, match="secret 'NOPE' not found"):
        secrets.lookup("NOPE")
    with pytest.raises(TaskError, match="secret 'LOCKED': permission denied on projects/p1/secrets/LOCKED"):
        secrets.lookup("LOCKED")
    with pytest.raises(TransientError, match="secret 'FLAKY': Secret Manager unavailable"):
        secrets.lookup("FLAKY")
