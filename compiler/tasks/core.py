"""Core runnable tasks: log, debug/output, sleep, fail/assert, labels, KV, purge, HTTP download/request."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from compiler.model.common import Duration, duration_seconds
from compiler.tasks.base import TaskBase, TaskSpec

if TYPE_CHECKING:
    from compiler.backend.builder import StepBuilder
    from compiler.ir import TaskNode

P = "io.kestra.plugin.core."
_SEVERITY = {"TRACE": "DEBUG", "DEBUG": "DEBUG", "INFO": "INFO", "WARN": "WARNING", "ERROR": "ERROR"}


class Log(TaskBase):
    message: str | list[str]
    level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] = "INFO"


class Return(TaskBase):
    format: Any = None


class OutputValues(TaskBase):
    values: dict[str, Any]


class Sleep(TaskBase):
    duration: Duration


class Fail(TaskBase):
    condition: Any = None
    errorMessage: str = "Task failure"


class Assert(TaskBase):
    conditions: list[Any]
    errorMessage: str | None = None


class Labels(TaskBase):
    labels: dict[str, Any] | list[dict[str, Any]] | str


class KvSet(TaskBase):
    key: str
    value: Any
    namespace: str | None = None
    overwrite: bool | str = True
    ttl: Duration | None = None
    kvType: Literal["STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON"] | None = None
    kvDescription: str | None = None


class KvGet(TaskBase):
    key: str
    namespace: str | None = None
    errorOnMissing: bool | str = False


class KvDelete(TaskBase):
    key: str
    namespace: str | None = None
    errorOnMissing: bool | str = False


class Purge(TaskBase):
    pass


class _Http(TaskBase):
    uri: str
    method: str = "GET"
    body: Any = None
    formData: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    contentType: str | None = None
    headers: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    sslOptions: dict[str, Any] | None = None


class Download(_Http):
    failOnEmptyResponse: bool = True
    saveAs: str | None = None


class Request(_Http):
    encryptBody: bool = False


def _log(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    model = node.model
    assert isinstance(model, Log)
    severity = _SEVERITY[model.level]
    messages = model.message if isinstance(model.message, list) else [model.message]
    steps = []
    for i, _ in enumerate(messages):
        path = ("message", i) if isinstance(model.message, list) else ("message",)
        text = b.expr.string(messages[i], (*node.path, *path), b.scope())
        key = "text" if text.type == "string" else "data"
        steps.append({f"{b.name(node)}_log{i + 1 if len(messages) > 1 else ''}":
                      {"call": "sys.log", "args": {key: text.value, "severity": severity}}})
    return steps


def _assign_outputs(node: TaskNode, b: StepBuilder, value: Any) -> list[dict[str, Any]]:
    from compiler.backend.builder import target

    return [{f"{b.name(node)}_outputs": {"assign": [{target("outputs", node.id): value}]}}]


def _return(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    return _assign_outputs(node, b, {"value": b.value(node, "format")})


def _output_values(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    return _assign_outputs(node, b, {"values": b.value(node, "values")})


def _sleep(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    raw = node.raw["duration"]
    seconds: Any = duration_seconds(raw) if isinstance(raw, str) and "{{" not in raw else None
    if seconds is None:
        b.error((*node.path, "duration"), "Sleep duration must be a constant ISO-8601 duration")
        seconds = 0
    return [{f"{b.name(node)}_sleep": {"call": "sys.sleep", "args": {"seconds": seconds}}}]


def _fail(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    n = b.name(node)
    message = b.value(node, "errorMessage", "Task failure")
    raise_step = {"raise": {"tags": ["KestraTaskError"], "message": message}}
    if "condition" not in node.raw:
        return [{f"{n}_fail": raise_step}]
    cond = b.condition(node, "condition")
    return [{f"{n}_fail": {"switch": [{"condition": cond, "steps": [{f"{n}_raise": raise_step}]}]}}]


def _assert(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    n = b.name(node)
    steps: list[dict[str, Any]] = []
    for i, cond in enumerate(node.raw["conditions"]):
        holds = b.condition(node, "conditions", i)
        message = b.value(node, "errorMessage") or f"assertion {i + 1} failed: {cond}"
        failed = not holds if isinstance(holds, bool) else f"${{not({holds[2:-1]})}}"
        steps.append({f"{n}_assert{i + 1}": {"switch": [{"condition": failed, "raise": {
            "tags": ["KestraTaskError"], "message": message}}]}})
    return steps


def _labels(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    from compiler.backend.builder import target

    n = b.name(node)
    raw = node.raw["labels"]
    if isinstance(raw, list):
        pairs: list[tuple[str, Any, tuple[str | int, ...]]] = [
            (str(item.get("key")), item.get("value"), ("labels", i, "value")) for i, item in enumerate(raw)]
    elif isinstance(raw, dict):
        pairs = [(str(k), v, ("labels", k)) for k, v in raw.items()]
    else:
        b.error((*node.path, "labels"), "Labels 'labels' must be a map (a single expression is not compiled)")
        pairs = []
    assigns = [{target("labels", k): b.expr.value(v, (*node.path, *p), b.scope())} for k, v, p in pairs]
    if not assigns:
        return []
    chunks = [assigns[i : i + 50] for i in range(0, len(assigns), 50)]  # 50 assignments per assign step
    return [*({f"{n}_labels{i + 1 if i else ''}": {"assign": chunk}} for i, chunk in enumerate(chunks)),
            {f"{n}_log": {"call": "sys.log", "args": {"data": "${labels}", "severity": "INFO"}}}]


def _kv(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    extra = {} if "namespace" in node.raw else {"namespace": b.flow.namespace}
    return b.call_function(node, "kv", b.task_body(node, extra=extra))


def _purge(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    return b.call_function(node, "purge", b.task_body(node))


def _download(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    return b.call_function(node, "download", b.task_body(node))


def _request(node: TaskNode, b: StepBuilder) -> list[dict[str, Any]]:
    from compiler.backend.builder import target

    n = b.name(node)
    args: dict[str, Any] = {"url": b.value(node, "uri"), "method": b.value(node, "method", "GET"),
                            "timeout": b.timeout(node)}
    headers = b.value(node, "headers")
    if node.raw.get("contentType"):
        headers = {**(headers or {}), "Content-Type": b.value(node, "contentType")}
    if headers:
        args["headers"] = headers
    if "params" in node.raw:
        args["query"] = b.value(node, "params")
    if "body" in node.raw:
        args["body"] = b.value(node, "body")
    elif "formData" in node.raw:
        args["body"] = b.value(node, "formData")
    for unsupported in ("options", "sslOptions", "encryptBody"):
        if unsupported in node.raw:
            b.error((*node.path, unsupported), f"'{unsupported}' is not compiled for http.Request")
    if "{{secret:" in repr(args) or re.search(r"secret\s*\(", repr(node.raw)):
        b.error(node.path, "secret() cannot be used in http.Request: Workflows makes this call itself and never "
                           "sees secret values (use a function-backed task, e.g. http.Download)")
    return [
        {f"{n}_request": {"call": "http.request", "args": args, "result": f"{n}_http"}},
        {f"{n}_body": {"switch": [
            {"condition": f'${{type({n}_http.body) == "string" or {n}_http.body == null}}',
             "assign": [{f"{n}_text": f"${{{n}_http.body}}"}]},
            {"condition": True, "assign": [{f"{n}_text": f"${{json.encode_to_string({n}_http.body)}}"}]},
        ]}},
        {f"{n}_outputs": {"assign": [{target("outputs", node.id): {
            "uri": args["url"], "code": f"${{{n}_http.code}}", "headers": f"${{{n}_http.headers}}",
            "body": f"${{{n}_text}}"}}]}},
    ]


SPECS = [
    TaskSpec(P + "log.Log", Log, _log, aliases=("io.kestra.core.tasks.log.Log",)),
    TaskSpec(P + "debug.Return", Return, _return, frozenset({"value"}),
             aliases=("io.kestra.core.tasks.debugs.Return",)),
    TaskSpec(P + "output.OutputValues", OutputValues, _output_values, frozenset({"values"})),
    TaskSpec(P + "flow.Sleep", Sleep, _sleep),
    TaskSpec(P + "execution.Fail", Fail, _fail, aliases=(P + "flow.Fail",)),
    TaskSpec(P + "execution.Assert", Assert, _assert),
    TaskSpec(P + "execution.Labels", Labels, _labels),
    TaskSpec(P + "kv.Set", KvSet, _kv, function="kv"),
    TaskSpec(P + "kv.Get", KvGet, _kv, frozenset({"value"}), function="kv"),
    TaskSpec(P + "kv.Delete", KvDelete, _kv, frozenset({"deleted"}), function="kv"),
    TaskSpec(P + "storage.PurgeCurrentExecutionFiles", Purge, _purge, frozenset({"uris"}), function="purge"),
    TaskSpec(P + "http.Download", Download, _download, frozenset({"uri", "code", "length", "headers"}),
             function="download"),
    TaskSpec(P + "http.Request", Request, _request, frozenset({"uri", "code", "headers", "body", "formData"})),
]

__all__ = ["SPECS", "Field"]
