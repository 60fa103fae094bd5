"""BigQuery API errors: the HTTP status, the `reason` and the one-line message BigQuery would return."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

_STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ALREADY_EXISTS",
                 500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE"}


@dataclass
class BigQueryError(Exception):
    """An error reported the way BigQuery reports it (also stored as a job's `errorResult`)."""

    code: int
    reason: str
    message: str
    location: str | None = None

    def __str__(self) -> str:
        return self.message

    def error_proto(self) -> dict[str, str]:
        """The `ErrorProto` object used in job statuses and in `errors` lists."""
        proto = {"reason": self.reason, "message": self.message}
        if self.location:
            proto["location"] = self.location
        return proto

    def http_body(self) -> dict[str, object]:
        """The JSON body of an error HTTP response."""
        proto = dict(self.error_proto(), domain="global")
        return {"error": {"code": self.code, "message": self.message, "errors": [proto],
                          "status": _STATUS_NAMES.get(self.code, "UNKNOWN")}}


def invalid_query(message: str, location: str | None = None) -> BigQueryError:
    return BigQueryError(400, "invalidQuery", message, location)


def invalid(message: str) -> BigQueryError:
    return BigQueryError(400, "invalid", message)


def not_found(message: str) -> BigQueryError:
    return BigQueryError(404, "notFound", message)


def duplicate(message: str) -> BigQueryError:
    return BigQueryError(409, "duplicate", message)


def unsupported(message: str) -> BigQueryError:
    return BigQueryError(400, "invalidQuery", f"{message} (not supported by the local BigQuery stand-in)")


def duck_error(err: duckdb.Error, statement: int, count: int) -> BigQueryError:
    """A DuckDB error as BigQuery would report it: one line, with the statement number in a script."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    for prefix in ("Binder Error: ", "Parser Error: ", "Catalog Error: ", "Conversion Error: ",
                   "Invalid Input Error: ", "Constraint Error: "):
        text = text.removeprefix(prefix)
    where = f" (statement {statement})" if count > 1 else ""
    if isinstance(err, duckdb.TransactionException):
        return BigQueryError(503, "backendError", f"Transaction conflict, please retry: {text}{where}")
    if isinstance(err, duckdb.CatalogException) and "does not exist" in text and "Function" not in text:
        return not_found(f"Not found: {text}{where}")
    if isinstance(err, duckdb.ConversionException | duckdb.InvalidInputException | duckdb.ConstraintException):
        return invalid(f"Error while reading data: {text}{where}")
    if isinstance(err, duckdb.InterruptException):
        return BigQueryError(400, "stopped", "Job execution was cancelled: User requested cancellation")
    if isinstance(err, duckdb.InternalException | duckdb.OutOfMemoryException | duckdb.IOException):
        # Not 5xx: clients retry those for minutes, and re-running will not help.
        return BigQueryError(400, "invalid", f"Local BigQuery stand-in failed: {text}{where}")
    return invalid_query(f"{text}{where}")
