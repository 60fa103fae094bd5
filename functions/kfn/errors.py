"""Error classes of the function contract and the mapping of library exceptions onto them."""

from __future__ import annotations

from typing import Any


class FunctionError(Exception):
    """A failure with a contract status and type; `message` is user-facing (one line)."""

    status: int = 500
    kind: str = "InternalError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TaskError(FunctionError):
    """The task's own failure (bad property, 404 download, bad SQL): never retried."""

    status = 400
    kind = "TaskError"


class BadRequest(FunctionError):
    """The request itself is malformed (not a compiler-produced body)."""

    status = 400
    kind = "BadRequest"


class Forbidden(TaskError):
    """Access denied by a backend or by the function's policy (e.g. a private address)."""

    status = 403


class NotFound(FunctionError):
    """A referenced object, bucket, key or resource does not exist."""

    status = 404
    kind = "NotFound"


class Conflict(FunctionError):
    """The resource exists already / a precondition failed."""

    status = 409
    kind = "Conflict"


class TransientError(FunctionError):
    """A fault that may go away on retry (connection reset, 5xx from a backend)."""

    status = 503
    kind = "TransientError"


class RateLimited(TransientError):
    """Back off and retry later (backend 429, concurrency limit with QUEUE)."""

    status = 429
    kind = "RateLimited"


def from_status(status: int, message: str) -> FunctionError:
    if status == 429:
        return RateLimited(message)
    if status >= 500 or status == 408:
        return TransientError(message)
    if status == 404:
        return NotFound(message)
    if status in (409, 412):
        return Conflict(message)
    if status in (401, 403):
        return Forbidden(message)
    return TaskError(message)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:500]


def to_function_error(exc: BaseException) -> FunctionError:
    """Map any exception to a FunctionError (unknown ones become a 500 internal error)."""
    if isinstance(exc, FunctionError):
        return exc
    module = type(exc).__module__
    if module.startswith("google.api_core"):
        from google.api_core import exceptions as gexc

        if isinstance(exc, gexc.GoogleAPICallError):
            code: Any = exc.code
            status = int(code) if isinstance(code, int) else 500
            return from_status(status, _first_line(str(exc.message or exc)))
        if isinstance(exc, gexc.RetryError):
            return TransientError(_first_line(f"gave up retrying: {exc.cause or exc}"))
    if module.startswith(("google.resumable_media", "google.cloud.storage")):
        response: Any = getattr(exc, "response", None)
        http_status = getattr(response, "status_code", None)
        if isinstance(http_status, int):
            return from_status(http_status, _first_line(f"storage returned {http_status}: {exc}"))
        if type(exc).__name__ == "DataCorruption":
            return TransientError(_first_line(f"storage checksum mismatch: {exc}"))
    if module.startswith(("requests", "urllib3")):
        import requests

        if isinstance(exc, requests.Timeout):
            return TransientError(_first_line(f"timed out: {exc}"))
        if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            return TransientError(_first_line(f"connection failed: {exc}"))
    if isinstance(exc, ConnectionError | TimeoutError):
        return TransientError(_first_line(f"connection failed: {exc}"))
    return FunctionError(_first_line(f"internal error: {type(exc).__name__}: {exc}"))
