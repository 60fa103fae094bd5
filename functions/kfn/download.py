"""The `download` function: Kestra core.http.Download, and the compiled `wget -qO- URL | gunzip > FILE` idiom.

Streams the HTTP response into execution storage through an atomic resumable upload (optionally
gunzipping on the way), so memory stays bounded and a failed or retried attempt leaves no partial object.
A reader thread (HTTP + gunzip) and the uploading thread overlap through a small bounded queue.

Idiom request:
`task: {id, type: io.kestra.plugin.scripts.shell.Commands, uri, gunzip: true, outputFile: NAME}`
-> outputs `{uri, code, length, headers, outputFiles: {NAME: gs://...}, exitCode: 0}`.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import queue
import re
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import requests

from kfn import netguard, storage
from kfn.durations import parse_duration
from kfn.errors import FunctionError, TaskError, TransientError
from kfn.neterrors import network_reason
from kfn.request import Call

READ_SIZE = 256 * 1024
# Fewer, larger chunks: each chunk is one round trip (and fake-gcs-server's cost per chunk grows with the
# object's size). Peak memory is this plus the queue.
UPLOAD_CHUNK = 64 * 1024 * 1024
QUEUE_DEPTH = 8
MAX_REDIRECTS = 10
_TRANSIENT_CODES = {408, 429, 500, 502, 503, 504}
_CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie"}
_END = object()


@dataclass
class Options:
    """Kestra's `options` (HttpConfiguration) subset, with defaults."""

    connect_timeout: float = 30.0
    read_timeout: float = 300.0
    follow_redirects: bool = True
    allow_failed: bool = False
    allowed_codes: set[int] = field(default_factory=set)


def _options(call: Call) -> Options:
    raw = call.prop("options", {})
    if not isinstance(raw, dict):
        raise TaskError("property 'options' must be a map")
    merged = {**{k: call.task[k] for k in ("allowFailed", "followRedirects") if k in call.task}, **raw}
    opts = Options()
    timeout = merged.get("timeout") or {}
    if not isinstance(timeout, dict):
        raise TaskError("property 'options.timeout' must be a map")
    if timeout.get("connectTimeout"):
        opts.connect_timeout = parse_duration(
            timeout["connectTimeout"], "options.timeout.connectTimeout"
        ).total_seconds()
    if timeout.get("readIdleTimeout"):
        opts.read_timeout = parse_duration(
            timeout["readIdleTimeout"], "options.timeout.readIdleTimeout"
        ).total_seconds()
    opts.follow_redirects = merged.get("followRedirects", True) is not False
    opts.allow_failed = merged.get("allowFailed", False) is True
    codes = merged.get("allowedResponseCodes") or []
    try:
        opts.allowed_codes = {int(c) for c in codes}
    except (TypeError, ValueError):
        raise TaskError(f"property 'options.allowedResponseCodes' must list status codes, got {codes!r}") from None
    return opts


def display_url(url: str) -> str:
    """The URL without user:password (for messages)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _auth_headers(options: dict[str, Any]) -> dict[str, str]:
    auth = options.get("auth") if isinstance(options, dict) else None
    if not isinstance(auth, dict):
        return {}
    kind = str(auth.get("type", "")).upper()
    if kind == "BASIC":
        token = base64.b64encode(f"{auth.get('username', '')}:{auth.get('password', '')}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    if kind == "BEARER":
        return {"Authorization": f"Bearer {auth.get('token', '')}"}
    raise TaskError(f"options.auth.type {kind!r} is not supported (BASIC, BEARER)")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def _open(call: Call, method: str, url: str, opts: Options) -> requests.Response:
    """Send the request, following redirects by hand so that every hop passes the SSRF guard."""
    headers = {str(k): str(v) for k, v in (call.prop("headers", {}) or {}).items()}
    headers.update(_auth_headers(call.prop("options", {})))
    params = call.prop("params") or None
    data: Any = None
    form = call.prop("formData")
    if form:
        data = form
    elif call.prop("body") is not None:
        data = call.prop("body")
        if not isinstance(data, str | bytes):
            data = json.dumps(data)
        headers.setdefault("Content-Type", str(call.prop("contentType", "application/json")))
    session = netguard.guarded_session()
    for _ in range(MAX_REDIRECTS + 1):
        netguard.check_url(url)
        response = session.request(
            method,
            url,
            headers=headers,
            params=params,
            data=data,
            stream=True,
            allow_redirects=False,
            timeout=(opts.connect_timeout, opts.read_timeout),
        )
        if not (opts.follow_redirects and response.is_redirect and "location" in response.headers):
            return response
        response.close()
        target = requests.compat.urljoin(url, response.headers["location"])
        if _origin(target) != _origin(url):  # credentials stay with the origin they were given for
            headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
        url, params = target, None
        if response.status_code in (301, 302, 303) and method != "HEAD":
            method, data = "GET", None
    raise TaskError(f"{method} {display_url(url)}: more than {MAX_REDIRECTS} redirects")


def _file_name(call: Call, response: requests.Response, url: str) -> str:
    for prop in ("outputFile", "saveAs"):
        if call.prop(prop):
            return storage.safe_name(str(call.prop(prop)))
    disposition = response.headers.get("content-disposition", "")
    match = re.search(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", disposition, re.IGNORECASE)
    if match:
        return storage.safe_name(unquote(match.group(1)))
    last = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return storage.safe_name(last) if last not in ("", ".", "..") else "download"


def _gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Decompress a gzip stream, including multi-member files (`cat a.gz b.gz`); truncation is an error."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    in_member = False
    for chunk in chunks:
        while chunk:
            in_member = True
            try:
                out = decoder.decompress(chunk)
            except zlib.error as exc:
                raise TaskError(f"gunzip: input is not valid gzip data ({exc})") from None
            if out:
                yield out
            if not decoder.eof:
                break
            chunk = decoder.unused_data
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            in_member = False
    if in_member:
        raise TaskError("gunzip: unexpected end of compressed data (truncated file)")


def _produce(chunks: Iterator[bytes], out: queue.Queue[Any], stop: threading.Event) -> None:
    try:
        for chunk in chunks:
            if stop.is_set():
                return
            out.put(chunk)
        out.put(_END)
    except BaseException as exc:  # handed to the consumer, which raises it
        out.put(exc)


def _drain(pipe: queue.Queue[Any]) -> Iterator[bytes]:
    while True:
        item = pipe.get()
        if item is _END:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def _transfer(chunks: Iterator[bytes], uri: str, content_type: str | None) -> int:
    """Upload `chunks` (produced on another thread) atomically to `uri`; return the byte count."""
    pipe: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_DEPTH)
    stop = threading.Event()
    reader = threading.Thread(target=_produce, args=(chunks, pipe, stop), daemon=True)
    reader.start()
    try:
        pieces = _drain(pipe)
        first = next(pieces, None)
        if first is None:
            raise _Empty()
        return storage.upload_pieces(itertools.chain([first], pieces), uri, content_type, UPLOAD_CHUNK)
    finally:
        stop.set()
        while reader.is_alive():
            with contextlib.suppress(queue.Empty):
                pipe.get(timeout=0.1)


class _Empty(Exception):
    """The response body was empty (decided before the object is finalised)."""


def handle(call: Call) -> dict[str, Any]:
    execution = call.need_execution()
    url = str(call.require("uri"))
    method = str(call.prop("method", "GET")).upper()
    shown = display_url(url)
    opts = _options(call)
    gunzip = call.flag("gunzip", False)
    fail_on_empty = call.flag("failOnEmptyResponse", True)
    try:
        response = _open(call, method, url, opts)
    except FunctionError:
        raise
    except requests.RequestException as exc:
        raise TransientError(f"{method} {shown}: {network_reason(exc)}") from None
    with response:
        code = response.status_code
        if code >= 400 and not opts.allow_failed and code not in opts.allowed_codes:
            error = TransientError if code in _TRANSIENT_CODES else TaskError
            raise error(f"{method} {shown} returned {code}")
        name = _file_name(call, response, response.url or url)
        uri = storage.execution_uri(execution, call.task_id, name)
        content_type = None if gunzip else response.headers.get("content-type")
        body: Iterator[bytes] = response.iter_content(READ_SIZE)
        if gunzip:
            body = _gunzip(body)
        try:
            length = _transfer(body, uri, content_type)
        except _Empty:
            if fail_on_empty:
                raise TaskError(f"{method} {shown} returned an empty body (failOnEmptyResponse is true)") from None
            length = 0
            with storage.open_write(uri, content_type) as writer:
                writer.write(b"")
        except requests.RequestException as exc:
            raise TransientError(f"{method} {shown} failed midway: {network_reason(exc)}") from None
        headers = {k: [v] for k, v in response.headers.items()}
    outputs: dict[str, Any] = {"uri": uri, "code": code, "length": length, "headers": headers}
    if call.prop("outputFile"):
        outputs["outputFiles"] = {name: uri}
        outputs["exitCode"] = 0
    return outputs
