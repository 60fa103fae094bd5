"""The shared HTTP wrapper: body parsing, secret resolution, dispatch, error mapping and redaction."""

from __future__ import annotations

import importlib
import os
import time
import traceback
from typing import Any, Protocol

from pydantic import ValidationError

from kfn import secrets
from kfn.errors import BadRequest, FunctionError, to_function_error
from kfn.logs import log
from kfn.request import Call, TaskRequest, validation_message


class HttpRequest(Protocol):
    """What the wrapper needs of a flask.Request."""

    @property
    def headers(self) -> Any: ...

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def args(self) -> Any: ...

    def get_json(self, force: bool = ..., silent: bool = ..., cache: bool = ...) -> Any: ...

    def get_data(self, cache: bool = ..., as_text: bool = ..., parse_form_data: bool = ...) -> Any: ...


MAX_RAW_BODY = 64 * 1024


def build_call(name: str, request: HttpRequest, *, task_body: bool) -> Call:
    """Parse and validate the body; resolve secret markers in the task's properties."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    if not task_body:  # trigger: schedules POST JSON, webhooks may send anything
        raw = request.get_data(cache=True)
        if len(raw) > MAX_RAW_BODY:
            raise BadRequest(f"request body is larger than {MAX_RAW_BODY} bytes")
        parsed_json = request.get_json(force=True, silent=True)
        query = {k: request.args.getlist(k) for k in request.args}
        return Call(
            function=name,
            task={},
            execution=None,
            headers=headers,
            body=parsed_json if isinstance(parsed_json, dict) else {},
            method=request.method,
            path=request.path,
            query=query,
            raw_body=raw.decode("utf-8", errors="replace"),
            json_body=parsed_json,
        )
    if request.method != "POST":
        raise BadRequest(f"method {request.method} not allowed: POST a JSON body")
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    try:
        parsed = TaskRequest.model_validate(body)
    except ValidationError as exc:
        raise BadRequest(validation_message(exc, "invalid request")) from exc
    task = secrets.resolve(dict(body["task"]))
    return Call(function=name, task=task, execution=parsed.execution, headers=headers, body=body)


def _prefixed(name: str, message: str) -> str:
    return message if message.startswith(f"{name}:") else f"{name}: {message}"


def serve(name: str, request: HttpRequest, *, task_body: bool = True) -> tuple[dict[str, Any], int]:
    """Run function `name` (module `kfn.<name>`) for one HTTP request; return (JSON body, status)."""
    started = time.monotonic()
    task_id = ""
    try:
        call = build_call(name, request, task_body=task_body)
        task_id = call.task_id
        module = importlib.import_module(f"kfn.{name}")
        outputs = module.handle(call)
        result: dict[str, Any] = {"outputs": secrets.redact(outputs)}
        log(
            "INFO",
            f"{name}: task '{task_id}' done",
            function=name,
            taskId=task_id,
            seconds=round(time.monotonic() - started, 3),
        )
        return result, 200
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        error = to_function_error(exc)
        message = secrets.redact_text(_prefixed(name, error.message))
        severity = "ERROR" if error.status >= 500 else "WARNING"
        fields: dict[str, Any] = {"function": name, "taskId": task_id, "status": error.status}
        if os.environ.get("KESTRA_GCP_DEBUG") and not isinstance(exc, FunctionError):
            fields["traceback"] = "".join(traceback.format_exception(exc))
        log(severity, message, **fields)
        return {"error": {"type": error.kind, "message": message}}, error.status
