"""Cloud Run functions entry points (functions-framework HTTP functions), one per kestra-gcp function.

Each is a thin shim over `kfn.wrapper.serve`; the implementation module is imported on first call.
"""

from __future__ import annotations

from typing import Any

import functions_framework
from kfn.wrapper import serve

Response = tuple[dict[str, Any], int]


@functions_framework.http
def download(request: Any) -> Response:
    return serve("download", request)


@functions_framework.http
def gcs(request: Any) -> Response:
    return serve("gcs", request)


@functions_framework.http
def postgres(request: Any) -> Response:
    return serve("postgres", request)


@functions_framework.http
def bigquery(request: Any) -> Response:
    return serve("bigquery", request)


@functions_framework.http
def duckdb(request: Any) -> Response:
    return serve("duckdb", request)


@functions_framework.http
def kv(request: Any) -> Response:
    return serve("kv", request)


@functions_framework.http
def purge(request: Any) -> Response:
    return serve("purge", request)


@functions_framework.http
def trigger(request: Any) -> Response:
    return serve("trigger", request, task_body=False)
