"""The request model of the function contract: `{"task": {...}, "execution": {...}}` -> `Call`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kfn.errors import TaskError


class ExecutionRef(BaseModel):
    """The execution a task runs in (names the execution storage prefix)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(min_length=1)
    namespace: str = Field(min_length=1)
    flow_id: str = Field(alias="flowId", min_length=1)
    task_run_id: str | None = Field(default=None, alias="taskRunId")
    attempt: int | None = None


class TaskSpec(BaseModel):
    """The task's rendered properties; `id` and `type` are required, everything else is kept as-is."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    type: str = Field(min_length=1)


class TaskRequest(BaseModel):
    """The body every task-running function receives."""

    task: TaskSpec
    execution: ExecutionRef


def validation_message(exc: ValidationError, what: str) -> str:
    """`<what>: <field path>: <problem>` for the first problem pydantic found (one line)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{what}: {where}: {first.get('msg', 'invalid')}"


_MISSING = object()


@dataclass
class Call:
    """One invocation as a handler sees it: properties with secrets resolved, execution, headers."""

    function: str
    task: dict[str, Any]
    execution: ExecutionRef | None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    method: str = "POST"
    path: str = "/"
    query: dict[str, list[str]] = field(default_factory=dict)
    raw_body: str = ""
    json_body: Any = None

    @property
    def task_id(self) -> str:
        return str(self.task.get("id", ""))

    @property
    def type(self) -> str:
        return str(self.task.get("type", ""))

    @property
    def short_type(self) -> str:
        """The last segment of the Kestra type (`io.kestra.plugin.gcp.gcs.Upload` -> `Upload`)."""
        return self.type.rsplit(".", 1)[-1]

    def prop(self, name: str, default: Any = None) -> Any:
        value = self.task.get(name, _MISSING)
        return default if value is _MISSING or value is None else value

    def require(self, name: str) -> Any:
        value = self.task.get(name)
        if value is None or value == "":
            raise TaskError(f"task '{self.task_id}': property '{name}' is required")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.prop(name, default)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TaskError(f"task '{self.task_id}': property '{name}' must be true or false, got {value!r}")

    def need_execution(self) -> ExecutionRef:
        if self.execution is None:
            raise TaskError("request has no execution")
        return self.execution


Handler = Callable[[Call], dict[str, Any]]


def dispatch(call: Call, package: str, handlers: Mapping[str, Handler]) -> dict[str, Any]:
    """Run the handler for the task's type `<package>.<Name>`; a TaskError names the types served."""
    handler = handlers.get(call.short_type)
    if handler is None or not call.type.startswith(f"{package}."):
        raise TaskError(
            f"task '{call.task_id}': type {call.type} is not served by this function ({package}.{'/'.join(handlers)})"
        )
    return handler(call)
