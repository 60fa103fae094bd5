"""Short, one-line reasons for network failures (`connection refused`, `timed out connecting`...).

requests/urllib3 wrap the operating system's error several times over (pool and connection reprs, retry
counts); the reason a user acts on is the innermost cause, found by walking the exception's causes.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import requests

_MAX_WALK = 32
_CAUSES: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset by the server"),
    (ConnectionAbortedError, "connection aborted"),
    (socket.gaierror, "host name not resolved"),
    (ssl.SSLCertVerificationError, "TLS certificate not trusted"),
    (ssl.SSLError, "TLS handshake failed"),
)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and everything it wraps (cause, context, urllib3's `reason`, exceptions among its args)."""
    seen: set[int] = set()
    pending = [exc]
    while pending and len(seen) < _MAX_WALK:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        pending.extend(e for e in inner if isinstance(e, BaseException))


def network_reason(exc: BaseException) -> str:
    """One short line saying why a request failed on the network."""
    if isinstance(exc, requests.ConnectTimeout):
        return "timed out connecting"
    if isinstance(exc, requests.ReadTimeout):
        return "timed out waiting for data"
    for cause in _causes(exc):
        for kind, reason in _CAUSES:
            if isinstance(cause, kind):
                return reason
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection closed before the response was complete"
    return "connection failed"
