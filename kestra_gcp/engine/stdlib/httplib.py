"""http module: get/post/put/patch/delete/request with Workflows' request encoding, response decoding and
error tagging (HttpError, ConnectionError, ConnectionFailedError, TimeoutError).

`auth: {type: OIDC|OAuth2}` sends `Authorization: Bearer <local token>` (the runtime's `http_token`)."""

from __future__ import annotations

import inspect
import threading
import urllib.parse
from typing import Any

import requests

from kestra_gcp.engine.errors import WorkflowError, error, resource_limit, type_error, value_error
from kestra_gcp.engine.stdlib.registry import builtin
from kestra_gcp.engine.values import from_json, is_number, to_json, to_string, type_name

MAX_RESPONSE = 2 * 1024 * 1024
DEFAULT_TIMEOUT = 300.0
MAX_TIMEOUT = 1800.0
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_local = threading.local()


def _session() -> requests.Session:
    s = getattr(_local, "session", None)
    if s is None:
        s = requests.Session()
        s.trust_env = False
        _local.session = s
    return s


def _encode_body(body: Any, headers: dict[str, str]) -> bytes | None:
    if body is None:
        return None
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if isinstance(body, bytes):
        if ctype is None:
            headers["Content-Type"] = "application/octet-stream"
        return body
    if ctype is None:
        headers["Content-Type"] = "application/json"
        return to_json(body).encode("utf-8")
    base = ctype.split(";")[0].strip().lower()
    if base == "application/json" or base.endswith("+json"):
        return to_json(body).encode("utf-8")
    if base == "application/x-www-form-urlencoded":
        if isinstance(body, dict):
            return urllib.parse.urlencode({k: to_string(v) for k, v in body.items()}).encode("utf-8")
        if isinstance(body, str):
            return body.encode("utf-8")
        raise type_error("http: a form body must be a map or a string")
    if isinstance(body, str):
        return body.encode("utf-8")
    raise type_error(f"http: cannot send a {type_name(body)} body as {ctype}")


def _decode_body(raw: bytes, ctype: str) -> Any:
    base = ctype.split(";")[0].strip().lower()
    if base == "application/json" or base.endswith("+json"):
        if not raw:
            return None
        try:
            return from_json(raw.decode("utf-8"))
        except (WorkflowError, UnicodeDecodeError):
            return raw.decode("utf-8", errors="replace")
    if base.startswith("text/") or base in ("application/xml", "application/javascript"):
        return raw.decode("utf-8", errors="replace")
    if not raw:
        return None
    return raw


def request(
    rt: Any,
    method: Any,
    url: Any,
    timeout: Any = None,
    body: Any = None,
    headers: Any = None,
    query: Any = None,
    auth: Any = None,
    private_service_name: Any = None,
    ca_certificate: Any = None,
) -> dict[str, Any]:
    if not isinstance(url, str) or not url:
        raise type_error(f"http: url must be a non-empty string, got {type_name(url)}")
    if not isinstance(method, str) or method.upper() not in _METHODS:
        raise value_error(f"http: unsupported method {method!r}")
    send_headers = _headers(headers, auth, rt)
    params = _query(query)
    limit = _timeout(timeout)
    data = _encode_body(body, send_headers)
    rt.check_cancelled()
    try:
        resp = _session().request(
            method.upper(),
            url,
            params=params or None,
            data=data,
            headers=send_headers,
            timeout=(min(limit, 30.0), limit),
            stream=True,
            allow_redirects=True,
        )
        raw = _read_bounded(resp, url)
    except requests.exceptions.ConnectTimeout:
        raise error("ConnectionFailedError", f"connection to {url} timed out") from None
    except requests.exceptions.Timeout:
        raise error("TimeoutError", f"HTTP request to {url} timed out after {limit:g} s") from None
    except requests.exceptions.ConnectionError as exc:
        if _never_connected(exc):
            raise error("ConnectionFailedError", f"cannot connect to {url}: {_reason(exc)}") from None
        raise error("ConnectionError", f"connection to {url} broken: {_reason(exc)}") from None
    except requests.exceptions.InvalidURL as exc:
        raise value_error(f"http: invalid url {url!r}: {exc}") from None
    except requests.exceptions.RequestException as exc:
        raise error("ConnectionError", f"HTTP request to {url} failed: {_reason(exc)}") from None
    resp_headers = {k.lower(): v for k, v in resp.headers.items()}
    decoded = _decode_body(raw, resp_headers.get("content-type", ""))
    if resp.status_code >= 400:
        raise error(
            "HttpError",
            f"HTTP server responded with error code {resp.status_code}",
            code=resp.status_code,
            headers=resp_headers,
            body=decoded,
        )
    return {"code": resp.status_code, "headers": resp_headers, "body": decoded}


def _headers(headers: Any, auth: Any, rt: Any) -> dict[str, str]:
    """The request headers as strings, with the runtime's bearer token when `auth` asks for one."""
    if headers is not None and not isinstance(headers, dict):
        raise type_error("http: headers must be a map")
    send = {k: to_string(v) for k, v in (headers or {}).items()}
    if auth is not None:
        kind = auth.get("type") if isinstance(auth, dict) else None
        if kind not in ("OIDC", "OAuth2"):
            raise value_error("http: auth.type must be OIDC or OAuth2")
        send["Authorization"] = f"Bearer {rt.http_token}"
    return send


def _query(query: Any) -> list[tuple[str, str]]:
    """Query parameters; a list value repeats its key."""
    if query is None:
        return []
    if not isinstance(query, dict):
        raise type_error("http: query must be a map")
    return [(k, to_string(item)) for k, v in query.items() for item in (v if isinstance(v, list) else [v])]


def _timeout(timeout: Any) -> float:
    if timeout is None:
        return DEFAULT_TIMEOUT
    if not is_number(timeout) or timeout <= 0:
        raise value_error("http: timeout must be a positive number of seconds")
    return min(float(timeout), MAX_TIMEOUT)


def _read_bounded(resp: requests.Response, url: str) -> bytes:
    """The whole body, refused once it passes MAX_RESPONSE; the response is closed either way."""
    try:
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_content(65536):
            size += len(chunk)
            if size > MAX_RESPONSE:
                raise resource_limit(f"HTTP response from {url} exceeds the 2 MB limit")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        resp.close()


def _never_connected(exc: BaseException) -> bool:
    text = repr(exc)
    return any(s in text for s in ("NewConnectionError", "Connection refused", "Name or service", "NameResolution"))


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "..."


builtin("http.request", blocking=True)(request)


def _method(name: str) -> None:
    """Register `http.<name>`: `http.request` with the method fixed (and not an argument)."""

    def call(rt: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return request(rt, name, *args, **kwargs)

    full = inspect.signature(request)
    call.__signature__ = full.replace(  # type: ignore[attr-defined]
        parameters=[p for p in full.parameters.values() if p.name != "method"]
    )
    builtin(f"http.{name.lower()}", blocking=True)(call)


for _m in ("GET", "POST", "PUT", "PATCH", "DELETE"):
    _method(_m)
